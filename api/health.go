package api

import (
	"fmt"
	"net/http"

	"github.com/gossipchain/gossipchain/node"
)

// GET /healthz: the process serves HTTP. Liveness only: it says nothing
// about peers or the chain, so a probe does not restart a node that is
// merely catching up.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, Health{Status: "ok"})
	return nil
}

// GET /readyz: 200 when the node is in step with the network (see
// notReady), 503 with the reason otherwise, as Kubernetes readiness
// probes and the Beacon API's health route expect.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) error {
	if why := notReady(s.n.Stats()); why != "" {
		return errorf(EUNAVAILABLE, "not ready: %s", why)
	}
	s.writeJSON(w, r, http.StatusOK, Health{Status: "ready"})
	return nil
}

// notReady says why a node should not yet take traffic that expects the
// network's chain, or "" when it may: its network is started, at least one
// peer has told it its status, no download is running, and no peer claims
// more work than the node has (peers that failed to deliver what they
// claimed, and banned ones, do not count: a liar cannot keep a node out
// of service).
func notReady(st node.Stats) string {
	switch {
	case st.Status.PeerID == "":
		return "the node's network is not started"
	case st.Status.Peers == 0:
		return "no peers connected"
	case st.Sync.Heard == 0:
		return "no peer has told its status yet"
	case st.Sync.Syncing:
		return "downloading blocks from a peer"
	case st.Sync.Ahead > 0:
		return fmt.Sprintf("%d peers have more work than this node", st.Sync.Ahead)
	}
	return ""
}
