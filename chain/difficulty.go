package chain

import (
	"fmt"
	"math"
	"math/big"
	"slices"
)

// HeaderSource gives the retarget and median-time rules the ancestors they
// read. Ancestor returns the block header at height on the branch that ends
// in tip; tip itself when height is tip's.
type HeaderSource interface {
	Ancestor(tip *Header, height uint64) (*Header, error)
}

// NextBits returns the compact target a block after parent must carry.
//
// Targets change only at heights that are multiples of RetargetInterval.
// There the new target is the old one scaled by how long the last blocks
// took over how long they should have taken:
//
//	new = old * (parent.Timestamp - first.Timestamp) / (n * TargetSpacing)
//
// where first is the block n = RetargetInterval heights below parent (or
// genesis, when parent is lower than that), so the measured and expected
// spans cover the same n block intervals. The measured span is clamped to
// [expected/MaxRetargetFactor, expected*MaxRetargetFactor], so one step
// moves the target by at most that factor; the result is capped at
// PowLimit and rounded through the compact form.
func NextBits(p *Params, src HeaderSource, parent *Header) (uint32, error) {
	if p.NoRetarget {
		return p.PowLimitBits(), nil
	}
	next := parent.Height + 1
	if next%p.RetargetInterval != 0 || parent.Height == 0 {
		return parent.Bits, nil
	}
	firstHeight := uint64(0)
	if parent.Height > p.RetargetInterval {
		firstHeight = parent.Height - p.RetargetInterval
	}
	first, err := src.Ancestor(parent, firstHeight)
	if err != nil {
		return 0, fmt.Errorf("retarget ancestor at %d: %w", firstHeight, err)
	}
	old, _, _ := CompactToBig(parent.Bits)
	return Retarget(p, old, parent.Timestamp-first.Timestamp, parent.Height-firstHeight), nil
}

// Retarget scales target by actualMillis over the expected span of
// intervals block times, bounded as NextBits describes, and returns it in
// compact form.
func Retarget(p *Params, target *big.Int, actualMillis int64, intervals uint64) uint32 {
	expected := int64(max(intervals, 1)) * p.TargetSpacing.Milliseconds()
	lo, hi := expected/p.MaxRetargetFactor, int64(math.MaxInt64)
	if expected <= math.MaxInt64/p.MaxRetargetFactor {
		hi = expected * p.MaxRetargetFactor
	}
	actual := min(max(actualMillis, lo), hi)
	n := new(big.Int).Mul(target, big.NewInt(actual))
	n.Quo(n, big.NewInt(expected))
	if n.Cmp(p.PowLimit) > 0 {
		n.Set(p.PowLimit)
	}
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return BigToCompact(n)
}

// MedianTime returns the median timestamp of the last MedianTimeBlocks
// blocks ending in tip (fewer near genesis). A new block's timestamp must
// be above it, which keeps timestamps moving forward without trusting any
// single miner's clock.
func MedianTime(p *Params, src HeaderSource, tip *Header) (int64, error) {
	ms, remembers := src.(medianSource)
	if !remembers || p.MedianTimeBlocks > maxMedianBlocks {
		return medianTime(p, src, tip)
	}
	key := tip.Hash()
	if w, ok := ms.window(key); ok {
		return w.median(), nil
	}
	n := int(min(uint64(p.MedianTimeBlocks), tip.Height+1))
	w := timeWindow{height: tip.Height, n: n}
	w.t[0] = tip.Timestamp
	if prev, ok := ms.window(tip.PrevHash); ok && tip.Height > 0 && prev.height == tip.Height-1 && prev.n >= n-1 {
		// The parent's window less its oldest time: no walk.
		copy(w.t[1:n], prev.t[:n-1])
	} else {
		h := tip
		for i := 1; i < n; i++ {
			prev, err := src.Ancestor(h, h.Height-1)
			if err != nil {
				return 0, fmt.Errorf("median time ancestor: %w", err)
			}
			w.t[i], h = prev.Timestamp, prev
		}
	}
	ms.keepWindow(key, w)
	return w.median(), nil
}

// medianSource is a HeaderSource that remembers the time windows of a few
// blocks (timeWindow) by the hash of the block they end in. A relayed
// block's parent's median is asked for three times on every node (its
// gossip precheck, the body's, the connect), and a template's once more:
// each a walk of ten parents, at about 1 µs a step where twenty nodes
// share a machine's caches (BenchmarkGossipPropagation20's profile). A
// hash names its ancestors, so a window never changes; and the next
// block's window is its own time before its parent's, so a node
// following the chain walks nothing.
type medianSource interface {
	HeaderSource
	window(tip Hash) (timeWindow, bool)
	keepWindow(tip Hash, w timeWindow)
}

// maxMedianBlocks is the longest median window a medianSource keeps;
// params with a longer one walk every time.
const maxMedianBlocks = 16

// timeWindow is the timestamps a block's median time past is taken over:
// its own and its parents', newest first, n of them.
type timeWindow struct {
	height uint64 // of the block it ends in
	n      int
	t      [maxMedianBlocks]int64
}

func (w timeWindow) median() int64 {
	s := w.t[:w.n] // w is a copy: sorting it leaves the kept one in order
	slices.Sort(s)
	return s[len(s)/2]
}

func medianTime(p *Params, src HeaderSource, tip *Header) (int64, error) {
	n := p.MedianTimeBlocks
	if uint64(n) > tip.Height+1 {
		n = int(tip.Height + 1)
	}
	times := make([]int64, 0, n)
	h := tip
	for i := 0; i < n; i++ {
		times = append(times, h.Timestamp)
		if i == n-1 {
			break
		}
		prev, err := src.Ancestor(h, h.Height-1)
		if err != nil {
			return 0, fmt.Errorf("median time ancestor: %w", err)
		}
		h = prev
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}
