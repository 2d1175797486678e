package testnet_test

import (
	"net"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/node/testnet"
)

// TestRestartInPartition: a node restarted during a partition stays on
// its side although its bootstrap peer is on the other, and joins the
// heavier chain after the heal.
func TestRestartInPartition(t *testing.T) {
	nt := testnet.New(t, 5, testnet.WithTopology(testnet.Line()))
	mineRound(nt, []int{0}, 1)
	nt.Partition([]int{0, 1, 2}, []int{3, 4})
	nt.Stop(3) // n3 bootstraps from n2, across the cut
	nt.Restart(3)
	if nt.Node(3).Host().Network().Connectedness(nt.PeerID(2)) == network.Connected {
		t.Fatal("the restarted node is connected across the cut")
	}
	mineRound(nt, []int{0}, 3)
	mineRound(nt, []int{3}, 1)
	if a, b := nt.Node(0).Chain().Tip(), nt.Node(4).Chain().Tip(); a.Height() != 4 || b.Height() != 2 {
		t.Fatalf("sides at heights %d and %d, want 4 and 2: blocks crossed the cut", a.Height(), b.Height())
	}
	nt.Heal()
	nt.WaitConverged(stepTimeout)
	if h := nt.Node(3).Chain().Tip().Height(); h != 4 {
		t.Fatalf("healed at height %d, want the heavier side's 4", h)
	}
}

// TestRestartOnNewPort: when a stopped node's port is taken, Restart
// listens on another and dials the links of the peers that knew the old
// one, so the node still catches up and takes part.
func TestRestartOnNewPort(t *testing.T) {
	nt := testnet.New(t, 4, testnet.WithTopology(testnet.Star()))
	old := nt.Addr(0)
	nt.Stop(0) // the hub: the Net links the others up while it is away
	port, err := old.ValueForProtocol(multiaddr.P_TCP)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Skipf("cannot take the stopped node's port %s: %v", port, err)
	}
	defer l.Close()
	mineRound(nt, []int{1}, 2)
	nt.Restart(0)
	if nt.Addr(0).Equal(old) {
		t.Fatalf("restarted on %s, the taken address", old)
	}
	nt.WaitConverged(stepTimeout)
	nt.WaitMesh(stepTimeout)
	mineRound(nt, []int{0}, 1)
	if h := nt.Node(3).Chain().Tip().Height(); h != 3 {
		t.Fatalf("height %d, want 3", h)
	}
}

var _ testnet.TB = (*testing.T)(nil)
var _ testnet.TB = (*testing.B)(nil)
