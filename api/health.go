package api

import (
	"net/http"
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
	if why := notReady(statusOf(s.n.Status())); why != "" {
		return errorf(EUNAVAILABLE, "not ready: %s", why)
	}
	s.writeJSON(w, r, http.StatusOK, Health{Status: "ready"})
	return nil
}

// notReady says why a node with status st should not yet take traffic
// that expects the network's chain, or "" when it may: its network is
// started, it has at least one peer, and no download is running (a node
// that learns of more work starts one at once, so no download means no
// known peer is ahead).
func notReady(st Status) string {
	switch {
	case st.PeerID == "":
		return "the node's network is not started"
	case st.Peers == 0:
		return "no peers connected"
	case st.Syncing:
		return "downloading blocks from a peer"
	}
	return ""
}
