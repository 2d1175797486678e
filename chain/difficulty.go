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
	n := medianBlocks(p, tip)
	w := timeWindow{height: tip.Height, n: n}
	if prev, ok := ms.window(tip.PrevHash); ok && tip.Height > 0 && prev.height == tip.Height-1 && prev.n >= n-1 {
		// The parent's window less its oldest time: no walk.
		w.t[0] = tip.Timestamp
		copy(w.t[1:n], prev.t[:n-1])
	} else if err := walkTimes(src, tip, w.t[:n]); err != nil {
		return 0, err
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
	return sortedMedian(w.t[:w.n]) // w is a copy: the kept one stays in order
}

// medianTime is MedianTime by walking, for any source.
func medianTime(p *Params, src HeaderSource, tip *Header) (int64, error) {
	times := make([]int64, medianBlocks(p, tip))
	if err := walkTimes(src, tip, times); err != nil {
		return 0, err
	}
	return sortedMedian(times), nil
}

// medianBlocks is how many blocks the median time past of tip is taken
// over: MedianTimeBlocks, fewer near genesis.
func medianBlocks(p *Params, tip *Header) int {
	return int(min(uint64(p.MedianTimeBlocks), tip.Height+1))
}

// walkTimes fills times, newest first, with the timestamps of tip and
// of as many of its parents as times has room for after it.
func walkTimes(src HeaderSource, tip *Header, times []int64) error {
	h := tip
	for i := range times {
		if i > 0 {
			prev, err := src.Ancestor(h, h.Height-1)
			if err != nil {
				return fmt.Errorf("median time ancestor: %w", err)
			}
			h = prev
		}
		times[i] = h.Timestamp
	}
	return nil
}

// sortedMedian sorts s and returns its middle element (the upper one of
// an even count).
func sortedMedian(s []int64) int64 {
	slices.Sort(s)
	return s[len(s)/2]
}
