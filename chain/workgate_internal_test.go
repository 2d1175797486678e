package chain

import (
	"errors"
	"math/big"
	"testing"
	"time"
)

// TestWorkGateStaleMinerBounds: the lagging-miner case of the work gate
// (protocol.md §9.5 rule 3) at its edges: the parent's age in whole
// milliseconds up to staleMinerWindow inclusive, a parent stamped after
// the clock, and the block's target at most one retarget step easier
// than the tip's.
func TestWorkGateStaleMinerBounds(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	bitsAt := func(target *big.Int) uint32 { return BigToCompact(target) }
	tipTarget := new(big.Int).Lsh(big.NewInt(1), 230)
	tipBits := bitsAt(tipTarget)
	// A branch of ten blocks at the tip's target against a tip of twenty:
	// far more than one block short.
	perBlock := workForBits(tipBits)
	tip := &BlockMeta{Header: Header{Bits: tipBits}, Work: new(big.Int).Mul(perBlock, big.NewInt(20))}
	parentWork := new(big.Int).Mul(perBlock, big.NewInt(9))
	const retarget = 4
	for _, tt := range []struct {
		name string
		age  time.Duration // of the parent
		bits uint32        // the block's
		want ErrorCode
	}{
		{"a minute old, the tip's target", time.Minute, tipBits, ErrNotHeavier},
		{"exactly the window", staleMinerWindow, tipBits, ErrNotHeavier},
		{"a millisecond past the window", staleMinerWindow + time.Millisecond, tipBits, ErrLowWork},
		{"stamped after the clock", -5 * time.Second, tipBits, ErrNotHeavier},
		{"one retarget step easier", time.Minute, bitsAt(new(big.Int).Mul(tipTarget, big.NewInt(retarget))), ErrNotHeavier},
		{"more than a step easier", time.Minute, bitsAt(new(big.Int).Mul(tipTarget, big.NewInt(retarget*2))), ErrLowWork},
		{"harder than the tip's", time.Minute, bitsAt(new(big.Int).Rsh(tipTarget, 1)), ErrNotHeavier},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parent := &BlockMeta{Header: Header{Bits: tipBits, Timestamp: now.Add(-tt.age).UnixMilli()}, Work: parentWork}
			hdr := &Header{Height: 10, Bits: tt.bits}
			err := workGate(tip, parent, hdr, new(big.Int), now, retarget)
			if !errors.Is(err, tt.want) {
				t.Fatalf("workGate: %v, want %v", err, tt.want)
			}
		})
	}
}
