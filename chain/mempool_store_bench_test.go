package chain_test

import (
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// minerTransfers returns a chain on a bbolt store whose miner is funded,
// and n transfers of the miner's, in nonce order from its next, each to a
// recipient of its own.
func minerTransfers(b *testing.B, n int) (*harness, []*chain.Transaction) {
	h := newHarness(b, nil)
	h.extend(h.tipHash(), 4)
	a, err := h.c.Account(h.miner.Addr)
	if err != nil {
		b.Fatal(err)
	}
	txs := make([]*chain.Transaction, n)
	for i := range txs {
		to := testwallet.New(fmt.Sprintf("recipient %d", i)).Addr
		txs[i] = h.miner.Tx(h.p, to, 1, 0, a.Nonce+uint64(i))
	}
	return h, txs
}

// BenchmarkMempoolAddPendingOnStore admits, signature already checked,
// one sender's transfers to distinct recipients, up to pending=N of them
// ahead in the pool, with the chain on a bbolt store as the state: the
// admission a node under load does for each transfer. Per Add.
func BenchmarkMempoolAddPendingOnStore(b *testing.B) {
	for _, pending := range []int{1, 16, 63} {
		h, txs := minerTransfers(b, pending)
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			n := 0
			for b.Loop() {
				b.StopTimer()
				m := chain.NewMempool(h.p)
				b.StartTimer()
				for _, tx := range txs {
					if err := m.AddVerified(tx, h.c); err != nil {
						b.Fatal(err)
					}
				}
				n += len(txs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/add")
		})
	}
}

// BenchmarkMempoolReorgOnStore rebuilds a pool of one sender's 63
// transfers to distinct recipients against the chain on a bbolt store
// (an unchanged tip): the part of every block's mempool update that
// reads the state.
func BenchmarkMempoolReorgOnStore(b *testing.B) {
	h, txs := minerTransfers(b, 63)
	m := chain.NewMempool(h.p)
	for _, tx := range txs {
		if err := m.AddVerified(tx, h.c); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		m.Reorg(nil, nil, h.c)
	}
	if m.Len() != len(txs) {
		b.Fatalf("Len %d, want %d", m.Len(), len(txs))
	}
}
