package p2p

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// heightChain is a main chain of tip+1 blocks whose hash at each height
// is that height plus one (so none is zero): all denseLocator reads.
type heightChain struct {
	Chain
	tip uint64
}

func (c heightChain) Tip() *chain.BlockMeta {
	return &chain.BlockMeta{Header: chain.Header{Height: c.tip}}
}

func (c heightChain) MainHash(h uint64) (chain.Hash, error) {
	var hash chain.Hash
	binary.BigEndian.PutUint64(hash[24:], h+1) // none is zero
	return hash, nil
}

// TestDenseLocator: after an answer of only our own headers up to height
// 0, on chains from short to very tall, the next locator holds at most
// 64 hashes, its dense part newest first and none twice, last right
// after it, then the older hashes; and on every chain at least 2,000
// high, our tip first and always the hash 2,000 above last: a peer replaying
// our own headers from last passes it in its next answer (a fault,
// §17.6), however far apart the rest are.
func TestDenseLocator(t *testing.T) {
	for _, tip := range []uint64{1500, 2000, 2001, 50_000, 230_000, 4_000_000} {
		c := heightChain{tip: tip}
		s := &Syncer{chain: c}
		last, _ := c.MainHash(0)
		older := []chain.Hash{last, {0xaa}, {0xbb}}
		loc := s.denseLocator(last, 0, older)
		if len(loc) > protocol.MaxLocatorLen {
			t.Fatalf("tip %d: %d hashes", tip, len(loc))
		}
		at := slices.Index(loc, last)
		if at < 0 || !slices.Equal(loc[at+1:], older[1:]) {
			t.Fatalf("tip %d: last at %d, then %x; want last then the older hashes", tip, at, loc[at+1:])
		}
		heights := make([]uint64, at)
		for i, h := range loc[:at] {
			heights[i] = binary.BigEndian.Uint64(h[24:]) - 1
		}
		if !slices.IsSortedFunc(heights, func(a, b uint64) int { return int(int64(b) - int64(a)) }) || len(slices.Compact(slices.Clone(heights))) != len(heights) {
			t.Fatalf("tip %d: dense heights %v not newest first and distinct", tip, heights)
		}
		want := tip >= protocol.MaxHeadersPerResponse
		if got := slices.Contains(heights, protocol.MaxHeadersPerResponse); got != want {
			t.Fatalf("tip %d: dense heights %v; holding 2,000 is %v, want %v", tip, heights, got, want)
		}
		if want && heights[0] != tip {
			t.Fatalf("tip %d: dense heights begin at %d, not at our tip", tip, heights[0])
		}
	}
}

// TestFirstHeaders: the first GetHeaders of a search asks for the
// heights claimed above our tip and headerSlack more, and for
// MaxHeadersPerResponse when that is as much or more, or when the claim
// is not above our tip (a heavier branch may be shorter).
func TestFirstHeaders(t *testing.T) {
	const max = protocol.MaxHeadersPerResponse
	for _, tc := range []struct {
		ours, claimed uint64
		want          int
	}{
		{10, 13, 3 + headerSlack},
		{0, 1, 1 + headerSlack},
		{0, max - headerSlack - 1, max - 1},
		{0, max - headerSlack, max},
		{10, 10, max},
		{10, 5, max},
		{0, 1 << 40, max},
	} {
		if got := firstHeaders(tc.ours, tc.claimed); got != tc.want {
			t.Errorf("firstHeaders(%d, %d) = %d, want %d", tc.ours, tc.claimed, got, tc.want)
		}
	}
}
