package chain_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestHeaderChain: a run of headers is checked without bodies (link,
// header sanity, context against the previous header) and its work is
// summed from the stored block it starts on; the first bad header stops
// the run with its rule.
func TestHeaderChain(t *testing.T) {
	h := newHarness(t, nil)
	g := h.tipHash()
	// Headers of a branch the chain does not store, built elsewhere.
	other := newRival(t)
	branch := other.extend(g, 4)
	headers := func() []chain.Header { return headersOf(branch) }
	tests := []struct {
		name   string
		mutate func(hs []chain.Header) []chain.Header
		want   error
		len    int
	}{
		{name: "valid run", mutate: func(hs []chain.Header) []chain.Header { return hs }, len: 4},
		{name: "gap", mutate: func(hs []chain.Header) []chain.Header { return append(hs[:1], hs[2:]...) },
			want: chain.ErrDoesNotLink, len: 1},
		{name: "proof of work broken", mutate: func(hs []chain.Header) []chain.Header {
			for chain.CheckHeaderSanity(h.p, &hs[2]) == nil {
				hs[2].Nonce++
			}
			return hs
		}, want: chain.ErrHighHash, len: 2},
		{name: "height skips", mutate: func(hs []chain.Header) []chain.Header {
			hs[0].Height = 5
			solved, err := chain.Solve(context.Background(), hs[0], 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			return []chain.Header{solved}
		}, want: chain.ErrBadHeight, len: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := h.c.NewHeaderChain(g)
			if err != nil {
				t.Fatal(err)
			}
			err = run.Extend(tt.mutate(headers()))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Extend: %v, want %v", err, tt.want)
			}
			if run.Len() != tt.len {
				t.Fatalf("run holds %d headers, want %d", run.Len(), tt.len)
			}
			gm, _ := h.c.Meta(g)
			want := new(big.Int).Add(gm.Work, new(big.Int).Mul(big.NewInt(int64(tt.len)), chain.WorkForBits(h.p.PowLimitBits())))
			if run.Work().Cmp(want) != 0 {
				t.Fatalf("work %s, want %s", run.Work(), want)
			}
		})
	}
	if _, err := h.c.NewHeaderChain(branch[0].Hash()); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("a run from a block the chain does not store: %v", err)
	}
}

// TestHeaderChainContext: a header whose target is not the one the
// retarget rule gives it is refused without its body.
func TestHeaderChainContext(t *testing.T) {
	h := newHarness(t, nil)
	b := h.build(h.tipHash(), nil, func(b *chain.Block) { b.Header.Bits = 0x1f00ffff })
	run, err := h.c.NewHeaderChain(h.tipHash())
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Extend([]chain.Header{b.Header}); !errors.Is(err, chain.ErrUnexpectedTarget) {
		t.Fatalf("got %v, want ErrUnexpectedTarget", err)
	}
}

// TestHeaderChainForgetStored: a run extended while its blocks connect
// drops the headers the tip has passed, only when the tip is on the run,
// and still checks the headers after them against their ancestors, now
// read from the store.
func TestHeaderChainForgetStored(t *testing.T) {
	other := newRival(t)
	branch := other.extend(other.tipHash(), 8)
	headers := headersOf
	tests := []struct {
		name    string
		connect []*chain.Block // processed into the chain before ForgetStored
		held    int            // headers the run holds after it
	}{
		{name: "tip on the run", connect: branch[:4], held: 0},
		{name: "tip at the run's start", connect: nil, held: 4},
		{name: "tip halfway", connect: branch[:2], held: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			run, err := h.c.NewHeaderChain(h.tipHash())
			if err != nil {
				t.Fatal(err)
			}
			if err := run.Extend(headers(branch[:4])); err != nil {
				t.Fatal(err)
			}
			for _, b := range tt.connect {
				if _, err := h.sync(b); err != nil {
					t.Fatal(err)
				}
			}
			run.ForgetStored()
			if run.Len() != tt.held {
				t.Fatalf("run holds %d headers, want %d", run.Len(), tt.held)
			}
			if err := run.Extend(headers(branch[4:])); err != nil {
				t.Fatalf("the rest of the run: %v", err)
			}
			if run.Last() != branch[7].Hash() {
				t.Fatalf("run ends at %s, want %s", run.Last().Short(), branch[7].Hash().Short())
			}
		})
	}
}

// headersOf returns the headers of bs.
func headersOf(bs []*chain.Block) []chain.Header {
	out := make([]chain.Header, len(bs))
	for i, b := range bs {
		out[i] = b.Header
	}
	return out
}
