package testnet_test

import (
	"flag"
	"log/slog"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/node/testnet"
)

var large = flag.Bool("testnet.large", false, "run the large cases: catch-up over 20,000 blocks instead of 2,000")

// catchUpBound is what TestCatchUp2000 holds a restarted node to per
// thousand blocks it missed. Measured with -race on 2 cores: 2,000 blocks
// in 0.67 – 0.92 s (docs/benchmarks.md).
const catchUpBound = 10 * time.Second

// TestCatchUp2000: a node that was stopped while the others mined 2,000
// blocks (20,000 with -testnet.large) reopens its store where it left
// off, with the same peer ID, and catches up from its peers through the
// sync protocol, nobody mining meanwhile, within catchUpBound per
// thousand blocks. Its ledger then matches an independent replay of the
// chain.
func TestCatchUp2000(t *testing.T) {
	blocks := 2000
	if *large {
		blocks = 20_000
	}
	// Info logs would be two lines per block per node.
	nt := newNet(t, 4, testnet.WithLogLevel(slog.LevelWarn))
	const late = 3
	mineRound(nt, []int{0, 1}, 5)
	id, had := nt.PeerID(late), nt.Node(late).Chain().Tip()
	nt.Stop(late)

	start := time.Now()
	nt.Mine(0, blocks)
	mined := time.Since(start)
	// A burst this fast outruns gossip: blocks arrive ahead of their
	// parents, and the nodes that connect them out of the orphan pool
	// announce their tip so the rest sync.
	nt.WaitConverged(stepTimeout)
	tip := nt.Node(0).Chain().Tip()
	t.Logf("mined %d blocks on n0 in %s, all running nodes at height %d %s later",
		blocks, mined.Round(time.Millisecond), tip.Height(), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	nt.Restart(late)
	n := nt.Node(late)
	if got := n.Host().ID(); got != id {
		t.Fatalf("peer ID %s after the restart, was %s", got, id)
	}
	if h, err := n.Chain().MainHash(had.Height()); err != nil || h != had.Hash {
		t.Fatalf("after the restart, height %d is %s (%v), want the tip it had, %s", had.Height(), h.Short(), err, had.Hash.Short())
	}
	bound := catchUpBound * time.Duration(blocks) / 1000
	nt.WaitConverged(bound)
	took := time.Since(start)
	t.Logf("n%d caught up %d blocks in %s (%.0f blocks/s; bound %s)", late, blocks, took.Round(time.Millisecond),
		float64(blocks)/took.Seconds(), bound)
	if h := n.Chain().Tip().Height(); h != tip.Height() {
		t.Fatalf("n%d at height %d, want %d", late, h, tip.Height())
	}
	// The syncer counts a download's blocks when it ends, just after the
	// last batch moved the tip.
	nt.Wait(stepTimeout, "the sync protocol to have connected the missed blocks", func() bool {
		return n.Stats().Sync.Blocks >= uint64(blocks)
	})
	audit, err := testnet.AuditChain(n.Chain())
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Check(n.Chain()); err != nil {
		t.Fatal(err)
	}
}
