package chain

import (
	"errors"
	"math/big"
	"testing"
	"time"
)

// TestFutureDriftBound checks the timestamp bound on every predefined
// network: a block dated exactly MaxFutureDrift ahead of the clock is
// accepted, one a millisecond later is refused as too new (transient), and
// the drift is within the share of the retarget window FutureDriftDivisor
// allows.
func TestFutureDriftBound(t *testing.T) {
	for _, name := range NetworkNames() {
		p, _ := ParamsByName(name)
		t.Run(name, func(t *testing.T) {
			if window := p.retargetWindow(); p.MaxFutureDrift <= 0 || p.MaxFutureDrift*FutureDriftDivisor > window {
				t.Fatalf("MaxFutureDrift %s, want 0 < drift ≤ %s/%d", p.MaxFutureDrift, window, FutureDriftDivisor)
			}
			s := buildBranch(t, p, 30, func(uint64) int64 { return p.TargetSpacing.Milliseconds() })
			parent := s[len(s)-1]
			bits, err := NextBits(p, s, &parent)
			if err != nil {
				t.Fatal(err)
			}
			now := time.UnixMilli(parent.Timestamp + 1)
			bound := now.Add(p.MaxFutureDrift).UnixMilli()
			for _, tc := range []struct {
				name string
				ts   int64
				want error
			}{
				{"at the bound", bound, nil},
				{"one ms past it", bound + 1, ErrTimeTooNew},
			} {
				h := Header{Version: HeaderVersion, Height: parent.Height + 1, Timestamp: tc.ts, Bits: bits}
				err := CheckHeaderContext(p, s, &h, &parent, now)
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				}
				if err != nil && !IsTransient(err) {
					t.Errorf("%s: %v must be transient", tc.name, err)
				}
			}
		})
	}
}

func TestNewParamsRefusesDriftBeyondWindowShare(t *testing.T) {
	p := *DevNet()
	p.MaxFutureDrift = 2 * time.Hour // the bound before FutureDriftDivisor
	defer func() {
		if recover() == nil {
			t.Fatal("NewParams took a 2 h drift against a 100 s window")
		}
	}()
	NewParams(p)
}

// TestRetargetSkewBounded dates the last block of a devnet retarget window
// off schedule by as much as the rules allow, and checks that the next
// window's target eases by at most (window + MaxFutureDrift) / window, and
// that the window after repays it: two windows on, the target is no easier
// than it would have been without the skew. A skew past the bound is
// refused before it can reach the retarget.
func TestRetargetSkewBounded(t *testing.T) {
	p := DevNet()
	spacing := p.TargetSpacing.Milliseconds()
	interval := p.RetargetInterval
	window := p.retargetWindow().Milliseconds()
	// Four windows of fast blocks lower the target below PowLimit so an
	// easing shows; honest blocks from there on. The window that ends at
	// the skewed block e starts at 5 × interval.
	fast := 4 * interval
	e := 6*interval - 1
	honest := func(h uint64) int64 {
		if h <= fast {
			return spacing / 5
		}
		return spacing
	}
	// backward is the earliest the median-time rule lets e be dated,
	// relative to its honest time: the median of 11 blocks spaced by one
	// spacing is 5 spacings before the parent, 6 before e's honest time.
	backward := -int64(p.MedianTimeBlocks/2+1)*spacing + 1
	drift := p.MaxFutureDrift.Milliseconds()
	for _, tc := range []struct {
		name string
		skew int64
		want error
	}{
		{"honest", 0, nil},
		{"half the drift ahead", drift / 2, nil},
		{"at the drift bound", drift, nil},
		{"earliest the median time allows", backward, nil},
		{"one ms before that", backward - 1, ErrTimeTooOld},
		{"one ms past the drift bound", drift + 1, ErrTimeTooNew},
		{"the old 2 h bound", (2 * time.Hour).Milliseconds(), ErrTimeTooNew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := buildBranch(t, p, int(e+2*interval), func(h uint64) int64 {
				switch h {
				case e:
					return honest(h) + tc.skew
				case e + 1:
					return honest(h) - tc.skew
				}
				return honest(h)
			})
			parent := s[e-1]
			now := time.UnixMilli(parent.Timestamp + spacing)
			err := CheckHeaderContext(p, s, &s[e], &parent, now)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("skewed block: %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("skewed block refused: %v", err)
			}
			next := s[e+1]
			if err := CheckHeaderContext(p, s, &next, &s[e], time.UnixMilli(now.UnixMilli()+spacing)); err != nil {
				t.Fatalf("honest block after the skew refused: %v", err)
			}
			target := func(h uint64) *big.Int {
				t, _, _ := CompactToBig(s[h].Bits)
				return t
			}
			before, eased, after := target(e), target(e+1), target(e+1+interval)
			if before.Cmp(p.PowLimit) >= 0 {
				t.Fatal("the target must start below PowLimit, or an easing could not show")
			}
			// eased × window ≤ before × (window + drift)
			lhs := new(big.Int).Mul(eased, big.NewInt(window))
			rhs := new(big.Int).Mul(before, big.NewInt(window+drift))
			if lhs.Cmp(rhs) > 0 {
				t.Errorf("target eased from %x to %x: more than (window + drift) / window", before, eased)
			}
			if tc.skew > 0 && eased.Cmp(before) <= 0 {
				t.Errorf("a skew of %d ms did not ease the target: the test would be vacuous", tc.skew)
			}
			if after.Cmp(before) > 0 {
				t.Errorf("two windows on the target is %x, easier than %x: the skew was not repaid", after, before)
			}
		})
	}
}
