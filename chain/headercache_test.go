package chain_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestHeadersAfterCacheFollowsReorg: HeadersAfter answers runs of 2,000
// main-chain headers from memory once read. Asked the same twice, and
// again after a reorganisation that replaced the run's last blocks, it
// gives the main chain of the moment every time, and stops at stop
// inside a cached run.
func TestHeadersAfterCacheFollowsReorg(t *testing.T) {
	h := newHarness(t, nil)
	main := h.extend(h.tipHash(), 2010)
	genesis := []chain.Hash{h.p.NetworkID()}
	want := func() []chain.Header {
		var out []chain.Header
		for height := uint64(1); height <= 2000; height++ {
			hash, err := h.st.MainHash(height)
			if err != nil {
				t.Fatal(err)
			}
			m, err := h.c.Meta(hash)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m.Header)
		}
		return out
	}
	check := func(what string) {
		t.Helper()
		got, err := h.c.HeadersAfter(genesis, chain.Hash{}, 2000)
		if err != nil {
			t.Fatal(err)
		}
		w := want()
		if len(got) != len(w) {
			t.Fatalf("%s: %d headers, want %d", what, len(got), len(w))
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s: header %d is %s, want %s", what, i+1, got[i].Hash().Short(), w[i].Hash().Short())
			}
		}
	}
	check("first answer")
	check("from the cache")
	// A heavier branch from height 1,980 replaces heights 1,981 on.
	side := h.extend(main[1979].Hash(), 40)
	if h.tipHash() != side[len(side)-1].Hash() {
		t.Fatal("no reorganisation")
	}
	check("after the reorganisation")
	stop := side[5].Hash() // height 1,986
	got, err := h.c.HeadersAfter(genesis, stop, 2000)
	if err != nil || len(got) != 1986 || got[len(got)-1].Hash() != stop {
		t.Fatalf("with stop: %d headers, %v; want 1,986 ending at stop", len(got), err)
	}
}
