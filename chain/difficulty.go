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
	var key Hash
	if remembers {
		key = tip.Hash()
		if t, ok := ms.median(key); ok {
			return t, nil
		}
	}
	t, err := medianTime(p, src, tip)
	if err == nil && remembers {
		ms.keepMedian(key, t)
	}
	return t, err
}

// medianSource is a HeaderSource that remembers median times past by the
// hash of the block they end in. A relayed block's is asked for three
// times on every node (its gossip precheck, the body's, the connect), and
// a template's once more: each a walk of ten parents.
type medianSource interface {
	HeaderSource
	median(tip Hash) (int64, bool)
	keepMedian(tip Hash, t int64)
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
