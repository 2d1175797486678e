package testnet_test

import (
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/node/testnet"
)

// stepTimeout bounds each step of a test: a side agreeing on a new block,
// a transaction reaching the mempools of a side. Measured with -race on
// 2 cores they take tens of milliseconds; a step that needs the syncer's
// 10 s status refresh still fits.
const stepTimeout = 30 * time.Second

// tnet is a Net driven by a test: its operations take the test's
// context and fail the test on error, so a test reads as a list of
// steps. The Net's own methods stay reachable through the embedding.
type tnet struct {
	*testnet.Net
	t testing.TB
}

// newNet starts a Net of n nodes logging to t's log, and closes it at
// t's end.
func newNet(t testing.TB, n int, opts ...testnet.Option) *tnet {
	t.Helper()
	log := testutil.Logger(t) // before Close's cleanup, so it stops after: nodes log while closing
	nt, err := testnet.New(t.Context(), n, append([]testnet.Option{testnet.WithLogger(log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nt.Close(); err != nil {
			t.Error(err)
		}
	})
	return &tnet{Net: nt, t: t}
}

func (n *tnet) must(err error) {
	n.t.Helper()
	if err != nil {
		n.t.Fatal(err)
	}
}

func (n *tnet) Mine(i, k int) []*chain.Block {
	n.t.Helper()
	bs, err := n.Net.Mine(n.t.Context(), i, k)
	n.must(err)
	return bs
}

func (n *tnet) Stop(i int)    { n.t.Helper(); n.must(n.Net.Stop(n.t.Context(), i)) }
func (n *tnet) Restart(i int) { n.t.Helper(); n.must(n.Net.Restart(n.t.Context(), i)) }
func (n *tnet) Heal()         { n.t.Helper(); n.must(n.Net.Heal(n.t.Context())) }

func (n *tnet) Partition(groups ...[]int) {
	n.t.Helper()
	n.must(n.Net.Partition(n.t.Context(), groups...))
}

func (n *tnet) Wait(timeout time.Duration, what string, cond func() bool) time.Duration {
	n.t.Helper()
	d, err := n.Net.Wait(n.t.Context(), timeout, what, cond)
	n.must(err)
	return d
}

func (n *tnet) WaitConverged(timeout time.Duration, nodes ...int) time.Duration {
	n.t.Helper()
	d, err := n.Net.WaitConverged(n.t.Context(), timeout, nodes...)
	n.must(err)
	return d
}

func (n *tnet) WaitMesh(timeout time.Duration) time.Duration {
	n.t.Helper()
	d, err := n.Net.WaitMesh(n.t.Context(), timeout)
	n.must(err)
	return d
}

func (n *tnet) WaitInMempool(timeout time.Duration, ids []chain.Hash, nodes ...int) time.Duration {
	n.t.Helper()
	d, err := n.Net.WaitInMempool(n.t.Context(), timeout, ids, nodes...)
	n.must(err)
	return d
}

func (n *tnet) WaitTxIncluded(timeout time.Duration, ids ...chain.Hash) time.Duration {
	n.t.Helper()
	d, err := n.Net.WaitTxIncluded(n.t.Context(), timeout, ids...)
	n.must(err)
	return d
}

// mineRound mines k blocks on the given nodes in turn, waiting after
// each for the miner's side of the network to agree, so no two blocks
// compete at one height.
func mineRound(nt *tnet, nodes []int, k int) {
	for j := range k {
		i := nodes[j%len(nodes)]
		nt.Mine(i, 1)
		nt.WaitConverged(stepTimeout, nt.Side(i)...)
	}
}

func ids(txs ...*chain.Transaction) []chain.Hash {
	out := make([]chain.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.ID()
	}
	return out
}
