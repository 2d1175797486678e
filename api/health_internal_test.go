package api

import (
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/p2p"
)

// TestNotReady: each reason /readyz gives, and ready only when the node
// has heard a peer, downloads nothing and no peer worth syncing from is
// ahead.
func TestNotReady(t *testing.T) {
	up := node.Status{PeerID: "12D3KooW", Peers: 2}
	for _, c := range []struct {
		name string
		st   node.Stats
		want string // "" for ready
	}{
		{"network not started", node.Stats{}, "not started"},
		{"no peers", node.Stats{Status: node.Status{PeerID: "12D3KooW"}}, "no peers"},
		{"connected, no status yet", node.Stats{Status: up}, "told its status"},
		{"downloading", node.Stats{Status: up, Sync: p2p.SyncStats{Heard: 2, Syncing: true}}, "downloading"},
		{"a peer ahead", node.Stats{Status: up, Sync: p2p.SyncStats{Heard: 2, Ahead: 1}}, "1 peers have more work"},
		{"in step", node.Stats{Status: up, Sync: p2p.SyncStats{Heard: 2}}, ""},
	} {
		got := notReady(c.st)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
