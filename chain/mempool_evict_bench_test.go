package chain_test

import (
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// BenchmarkMempoolEvict is one admission into a full pool of 640 peers'
// transactions, signature already checked, that evicts one package:
// package=1, 640 senders with one transaction each; package=64, 10
// senders with a chain of 64 whose fees rise (each chain's cheapest
// stretch is the whole of it). The pool is rebuilt outside the timer
// before each admission, and a refused admission first brings its
// packages up to date, as in a pool that has been full for a while.
func BenchmarkMempoolEvict(b *testing.B) {
	p := chain.RegTest()
	for _, perSender := range []int{1, 64} {
		b.Run(fmt.Sprintf("package=%d", perSender), func(b *testing.B) {
			senders := 640 / perSender
			state := mpState{}
			var fill []*chain.Transaction
			for s := range senders {
				k := mpKeyN(s)
				state[k.addr] = chain.Account{Balance: 1 << 40}
				for n := range perSender {
					fill = append(fill, k.tx(p, mpKeyN(s+1).addr, 1, uint64(10+n), uint64(n)))
				}
			}
			low, high := mpKeyN(10_000), mpKeyN(10_001)
			state[low.addr], state[high.addr] = chain.Account{Balance: 1 << 40}, chain.Account{Balance: 1 << 40}
			refused, newcomer := low.tx(p, high.addr, 1, 1, 0), high.tx(p, low.addr, 1, 5000, 0)
			evicted := 0
			for b.Loop() {
				b.StopTimer()
				m := chain.NewMempool(p, chain.WithMaxTxs(len(fill)))
				for _, tx := range fill {
					if err := m.AddVerified(tx, state); err != nil {
						b.Fatal(err)
					}
				}
				if err := m.AddVerified(refused, state); err == nil {
					b.Fatal("fee 1 admitted into a full pool")
				}
				b.StartTimer()
				if err := m.AddVerified(newcomer, state); err != nil {
					b.Fatal(err)
				}
				evicted += len(fill) + 1 - m.Len()
			}
			b.ReportMetric(float64(evicted)/float64(b.N), "evicted/op")
		})
	}
}
