package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// TestHealthAndReady: /healthz answers whenever the process serves;
// /readyz is 503 with the reason until the node has its network, a peer
// and no download running, then 200.
func TestHealthAndReady(t *testing.T) {
	_, offline := newServer(t, chain.RegTest())
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{"/healthz", http.StatusOK, "ok"},
		{"/readyz", http.StatusServiceUnavailable, "network is not started"},
	} {
		code, out := do(t, offline, http.MethodGet, c.path, "")
		if code != c.code || !strings.Contains(fmt.Sprint(out), c.want) {
			t.Errorf("%s on a node without network: %d %v, want %d %q", c.path, code, out, c.code, c.want)
		}
	}

	a, aSrv := startedServer(t)
	b, bSrv := startedServer(t)
	if code, out := do(t, aSrv, http.MethodGet, "/readyz", ""); code != http.StatusServiceUnavailable || !strings.Contains(out["error"].(string), "no peers") {
		t.Errorf("/readyz alone: %d %v, want 503 no peers", code, out)
	}
	mine(t, aSrv)
	mine(t, aSrv)
	code, out := do(t, bSrv, http.MethodPost, "/register-node", fmt.Sprintf(`{"address":%q}`, a.Host().FullAddrs()[0]))
	if code != http.StatusCreated {
		t.Fatalf("register-node: %d %v", code, out)
	}
	// Ready once b has a's blocks: it has a peer and nothing to download.
	testutil.Eventually(t, 30*time.Second, "b ready on a's tip", func() bool {
		code, out := do(t, bSrv, http.MethodGet, "/readyz", "")
		return code == http.StatusOK && out["status"] == "ready" && b.Chain().Tip().Hash == a.Chain().Tip().Hash
	})
	if code, out := do(t, bSrv, http.MethodGet, "/healthz", ""); code != http.StatusOK || out["status"] != "ok" {
		t.Errorf("/healthz: %d %v", code, out)
	}
}
