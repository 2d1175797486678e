package testnet_test

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/node/testnet"
)

// TestRestartInPartition: a node restarted during a partition stays on
// its side although its bootstrap peer is on the other, and joins the
// heavier chain after the heal.
func TestRestartInPartition(t *testing.T) {
	nt := newNet(t, 5, testnet.WithTopology(testnet.Line()))
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
	nt := newNet(t, 4, testnet.WithTopology(testnet.Star()))
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

// TestErrors: the operations a driver can get wrong return errors it can
// tell apart, and Close stops the nodes, removes their directories and
// may be called again.
func TestErrors(t *testing.T) {
	ctx := t.Context()
	nt, err := testnet.New(ctx, 2, testnet.WithTopology(testnet.Line()))
	if err != nil {
		t.Fatal(err)
	}
	defer nt.Close()
	if err := nt.Heal(ctx); !errors.Is(err, testnet.ErrNotPartitioned) {
		t.Errorf("Heal unpartitioned: %v, want ErrNotPartitioned", err)
	}
	if err := nt.Restart(ctx, 1); !errors.Is(err, testnet.ErrRunning) {
		t.Errorf("Restart of a running node: %v, want ErrRunning", err)
	}
	if err := nt.Stop(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := nt.Mine(ctx, 1, 1); !errors.Is(err, testnet.ErrStopped) {
		t.Errorf("Mine on a stopped node: %v, want ErrStopped", err)
	}
	if _, err := nt.WaitConverged(ctx, stepTimeout, 0, 1); !errors.Is(err, testnet.ErrStopped) {
		t.Errorf("WaitConverged with a stopped node: %v, want ErrStopped", err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	var we *testnet.WaitError
	if _, err := nt.Wait(short, stepTimeout, "nothing", func() bool { return false }); !errors.As(err, &we) || !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on an ended context: %v, want a *WaitError wrapping context.Canceled", err)
	}
	dir := nt.Dir(0)
	if err := nt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := nt.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if nt.Node(0) != nil || len(nt.Running()) != 0 {
		t.Error("nodes running after Close")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory after Close: %v", err)
	}
	if err := nt.Restart(ctx, 1); !errors.Is(err, testnet.ErrClosed) {
		t.Errorf("Restart after Close: %v, want ErrClosed", err)
	}
}
