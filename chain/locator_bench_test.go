package chain_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// BenchmarkHeadersAfter2000 is the store work of serving one maximal
// GetHeaders (protocol.md §17.6): a locator that finds genesis and 2,000
// main-chain headers after it.
func BenchmarkHeadersAfter2000(b *testing.B) {
	h := newHarness(b, nil)
	h.extend(h.tipHash(), 2000)
	loc := []chain.Hash{h.p.NetworkID()}
	for b.Loop() {
		hdrs, err := h.c.HeadersAfter(loc, chain.ZeroHash, 2000)
		if err != nil || len(hdrs) != 2000 {
			b.Fatalf("%d headers, %v", len(hdrs), err)
		}
	}
}
