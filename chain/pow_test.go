package chain

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// hexBig parses a hexadecimal constant for a test vector.
func hexBig(t *testing.T, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		t.Fatalf("bad hex %q", s)
	}
	return n
}

// Vectors from Bitcoin Core's arith_uint256 tests (SetCompact/GetCompact)
// and the Bitcoin genesis target.
func TestCompactVectors(t *testing.T) {
	for _, tc := range []struct {
		bits      uint32
		target    string // magnitude, hex
		neg, over bool
		canonical uint32 // BigToCompact(target); 0 when the bits are invalid
	}{
		{bits: 0x1d00ffff, target: "00000000ffff0000000000000000000000000000000000000000000000000000", canonical: 0x1d00ffff},
		{bits: 0x1b0404cb, target: "00000000000404cb000000000000000000000000000000000000000000000000", canonical: 0x1b0404cb},
		{bits: 0x00000000, target: "0"},
		{bits: 0x00123456, target: "0"},
		{bits: 0x01003456, target: "0"},
		{bits: 0x02000056, target: "0"},
		{bits: 0x03000000, target: "0"},
		{bits: 0x04000000, target: "0"},
		{bits: 0x00923456, target: "0", neg: true}, // Bitcoin: not negative, zero (see TestCompactSmallExponentSign)
		{bits: 0x01803456, target: "0", neg: true}, // Bitcoin: not negative, zero (see TestCompactSmallExponentSign)
		{bits: 0x02800056, target: "0", neg: true}, // likewise
		{bits: 0x03800000, target: "0"},
		{bits: 0x04800000, target: "0"},
		{bits: 0x01123456, target: "12", canonical: 0x01120000},
		{bits: 0x02123456, target: "1234", canonical: 0x02123400},
		{bits: 0x03123456, target: "123456", canonical: 0x03123456},
		{bits: 0x04123456, target: "12345600", canonical: 0x04123456},
		{bits: 0x05009234, target: "92340000", canonical: 0x05009234},
		{bits: 0x02008000, target: "80", canonical: 0x02008000},
		{bits: 0x01fedcba, target: "7e", neg: true},
		{bits: 0x04923456, target: "12345600", neg: true},
		{bits: 0x20123456, target: "1234560000000000000000000000000000000000000000000000000000000000", canonical: 0x20123456},
		{bits: 0x2100ffff, target: "ffff000000000000000000000000000000000000000000000000000000000000", canonical: 0x2100ffff},
		{bits: 0x220000ff, target: "ff00000000000000000000000000000000000000000000000000000000000000", canonical: 0x2100ff00},
		{bits: 0x22000001, target: "0100000000000000000000000000000000000000000000000000000000000000", canonical: 0x20010000},
		{bits: 0x21010000, over: true},
		{bits: 0x22000100, over: true},
		{bits: 0x23000001, over: true},
		{bits: 0xff123456, over: true},
	} {
		t.Run(fmt.Sprintf("%08x", tc.bits), func(t *testing.T) {
			got, neg, over := CompactToBig(tc.bits)
			if neg != tc.neg || over != tc.over {
				t.Fatalf("neg, overflow = %v, %v; want %v, %v", neg, over, tc.neg, tc.over)
			}
			if tc.over {
				return
			}
			want := hexBig(t, tc.target)
			if got.Cmp(want) != 0 {
				t.Fatalf("CompactToBig = %x, want %x", got, want)
			}
			if tc.neg || got.Sign() == 0 {
				return
			}
			if c := BigToCompact(got); c != tc.canonical {
				t.Fatalf("BigToCompact(%x) = %08x, want %08x", got, c, tc.canonical)
			}
		})
	}
}

// TestCompactSmallExponentSign pins a difference from Bitcoin Core, which
// decides the sign after shifting a small exponent's mantissa: 0x01803456
// is zero to Bitcoin but negative here. Both refuse it as a target (zero
// or negative), so no header is valid under one rule and not the other.
func TestCompactSmallExponentSign(t *testing.T) {
	got, neg, _ := CompactToBig(0x01803456)
	if !neg || got.Sign() != 0 {
		t.Fatalf("CompactToBig(0x01803456) = %v, neg %v", got, neg)
	}
	h := solveTestHeader(0x01803456)
	if err := CheckHeaderSanity(RegTest(), &h); !errors.Is(err, ErrBadTarget) {
		t.Fatalf("CheckHeaderSanity = %v, want ErrBadTarget", err)
	}
}

func TestBigToCompactNonPositive(t *testing.T) {
	for _, n := range []*big.Int{big.NewInt(0), big.NewInt(-1), new(big.Int).Neg(new(big.Int).Lsh(bigOne, 200))} {
		if c := BigToCompact(n); c != 0 {
			t.Errorf("BigToCompact(%v) = %08x, want 0", n, c)
		}
	}
}

// randBig returns a number in [1, 2^maxBits) whose bit length is uniform in
// 1..maxBits, so small and large targets are both common.
func randBig(r *rand.Rand, maxBits int) *big.Int {
	bits := 1 + r.IntN(maxBits)
	b := make([]byte, (bits+7)/8)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	n := new(big.Int).SetBytes(b)
	n.SetBit(n, bits-1, 1)
	for i := n.BitLen() - 1; i >= bits; i-- {
		n.SetBit(n, i, 0)
	}
	return n
}

// compactRound is what a target becomes once it travels as bits.
func compactRound(n *big.Int) *big.Int {
	t, _, _ := CompactToBig(BigToCompact(n))
	return t
}

func TestCompactRoundTripProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	max256 := new(big.Int).Sub(oneLsh256, bigOne)
	xs := []*big.Int{bigOne, big.NewInt(0x7f), big.NewInt(0x80), big.NewInt(0xffff), big.NewInt(0x800000),
		new(big.Int).Lsh(bigOne, 255), max256}
	for range 20000 {
		xs = append(xs, randBig(r, 256))
	}
	for _, x := range xs {
		c := BigToCompact(x)
		if c&0x00800000 != 0 {
			t.Fatalf("BigToCompact(%x) = %08x sets the sign bit", x, c)
		}
		rt, neg, over := CompactToBig(c)
		if neg || over {
			t.Fatalf("BigToCompact(%x) = %08x decodes as neg %v overflow %v", x, c, neg, over)
		}
		if rt.Sign() <= 0 || rt.Cmp(x) > 0 {
			t.Fatalf("round trip of %x is %x: not in (0, x]", x, rt)
		}
		// The loss is less than one unit in the mantissa's last place...
		diff := new(big.Int).Sub(x, rt)
		if exp := c >> 24; exp <= 3 {
			if diff.Sign() != 0 {
				t.Fatalf("round trip of %x (%08x) lost %x; a 3-byte value is exact", x, c, diff)
			}
		} else if ulp := new(big.Int).Lsh(bigOne, 8*uint(exp-3)); diff.Cmp(ulp) >= 0 {
			t.Fatalf("round trip of %x (%08x) lost %x, not less than %x", x, c, diff, ulp)
		}
		// ...which is less than 2^-15 of the value.
		if new(big.Int).Lsh(diff, 15).Cmp(x) >= 0 {
			t.Fatalf("round trip of %x (%08x) lost %x, more than 2^-15 of it", x, c, diff)
		}
		// And the compact form is canonical: encoding the result again
		// gives the same bits.
		if c2 := BigToCompact(rt); c2 != c {
			t.Fatalf("BigToCompact(%x) = %08x, but its value re-encodes as %08x", x, c, c2)
		}
	}
}

func TestWorkVectors(t *testing.T) {
	for _, tc := range []struct {
		target, work *big.Int
	}{
		{big.NewInt(0), big.NewInt(0)},
		{big.NewInt(-5), big.NewInt(0)},
		{bigOne, new(big.Int).Lsh(bigOne, 255)},
		{new(big.Int).Lsh(bigOne, 255), bigOne},
		{new(big.Int).Sub(oneLsh256, bigOne), bigOne},
		{new(big.Int).Sub(new(big.Int).Lsh(bigOne, 236), bigOne), new(big.Int).Lsh(bigOne, 20)},
	} {
		if got := Work(tc.target); got.Cmp(tc.work) != 0 {
			t.Errorf("Work(%x) = %x, want %x", tc.target, got, tc.work)
		}
	}
	for _, bits := range []uint32{0, 0x04923456, 0xff123456} {
		if w := WorkForBits(bits); w.Sign() != 0 {
			t.Errorf("WorkForBits(%08x) = %v, want 0 for invalid bits", bits, w)
		}
	}
	if w, want := WorkForBits(0x1d00ffff), hexBig(t, "100010001"); w.Cmp(want) != 0 {
		t.Errorf("WorkForBits(0x1d00ffff) = %x, want %x (Bitcoin's genesis work)", w, want)
	}
}

func TestWorkProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		a, b := randBig(r, 256), randBig(r, 256)
		if a.Cmp(b) > 0 {
			a, b = b, a
		}
		wa, wb := Work(a), Work(b)
		if wa.Cmp(wb) < 0 {
			t.Fatalf("Work(%x) = %x < Work(%x) = %x: not monotone decreasing", a, wa, b, wb)
		}
		// Work is the floor of 2^256 / (target+1): w*(t+1) <= 2^256 < (w+1)*(t+1).
		for _, c := range []struct{ t, w *big.Int }{{a, wa}, {b, wb}} {
			t1 := new(big.Int).Add(c.t, bigOne)
			lo := new(big.Int).Mul(c.w, t1)
			hi := new(big.Int).Add(lo, t1)
			if lo.Cmp(oneLsh256) > 0 || hi.Cmp(oneLsh256) <= 0 {
				t.Fatalf("Work(%x) = %x is not floor(2^256 / (target+1))", c.t, c.w)
			}
		}
	}
}

// randSpan returns a retarget timespan in milliseconds: mostly near the
// expected span, sometimes negative, sometimes absurdly large.
func randSpan(r *rand.Rand, expected int64) int64 {
	switch r.IntN(6) {
	case 0:
		return -r.Int64N(math.MaxInt64)
	case 1:
		return r.Int64N(math.MaxInt64)
	case 2:
		return []int64{math.MinInt64, math.MaxInt64, 0, -1, 1}[r.IntN(5)]
	default:
		return r.Int64N(expected * 10)
	}
}

// retargetParams are networks for the retarget properties: devnet and a
// variant with other constants.
func retargetParams() []*Params {
	p := *DevNet()
	p.Name = "retarget-test"
	p.RetargetInterval = 10
	p.TargetSpacing = time.Second
	p.MaxRetargetFactor = 2
	p.MaxFutureDrift = time.Second // the largest its 10 s window allows
	p.PowLimit = new(big.Int).Sub(new(big.Int).Lsh(bigOne, 224), bigOne)
	return []*Params{DevNet(), NewParams(p)}
}

func TestRetargetProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range retargetParams() {
		t.Run(p.Name, func(t *testing.T) {
			expected := int64(p.RetargetInterval) * p.TargetSpacing.Milliseconds()
			factor := big.NewInt(p.MaxRetargetFactor)
			limit := compactRound(p.PowLimit)
			for range 20000 {
				// Old targets are valid header targets: at most PowLimit,
				// already rounded through the compact form.
				old := compactRound(randBig(r, p.PowLimit.BitLen()))
				if old.Cmp(p.PowLimit) > 0 {
					old = limit
				}
				span := randSpan(r, expected)
				bits := Retarget(p, old, span, p.RetargetInterval)
				got, neg, over := CompactToBig(bits)
				if neg || over || got.Sign() <= 0 {
					t.Fatalf("Retarget(%x, %d) = %08x: not a positive target", old, span, bits)
				}
				if got.Cmp(p.PowLimit) > 0 {
					t.Fatalf("Retarget(%x, %d) = %x above PowLimit %x", old, span, got, p.PowLimit)
				}
				// At most old*factor (rounding only lowers a target)...
				if hi := new(big.Int).Mul(old, factor); got.Cmp(hi) > 0 {
					t.Fatalf("Retarget(%x, %d) = %x above old*%d", old, span, got, p.MaxRetargetFactor)
				}
				// ...and at least old/factor as the compact form rounds it
				// (and at least 1).
				lo := new(big.Int).Quo(old, factor)
				if lo.Sign() == 0 {
					lo.SetInt64(1)
				}
				if lo = compactRound(lo); got.Cmp(lo) < 0 {
					t.Fatalf("Retarget(%x, %d) = %x below old/%d = %x", old, span, got, p.MaxRetargetFactor, lo)
				}
				// A longer span never makes the target harder.
				span2 := span + r.Int64N(expected)
				if span2 < span {
					span2 = math.MaxInt64
				}
				if got2, _, _ := CompactToBig(Retarget(p, old, span2, p.RetargetInterval)); got2.Cmp(got) < 0 {
					t.Fatalf("Retarget(%x, %d) = %x < Retarget(.., %d) = %x", old, span2, got2, span, got)
				}
			}
		})
	}
}

func TestRetargetVectors(t *testing.T) {
	p := DevNet() // PowLimit 2^236, 20 blocks of 5 s, factor 4
	expected := int64(p.RetargetInterval) * p.TargetSpacing.Milliseconds()
	old := new(big.Int).Lsh(bigOne, 230)
	for _, tc := range []struct {
		span  int64
		shift int // result is 2^(230+shift)
	}{
		{expected, 0},
		{expected / 2, -1},
		{expected * 2, 1},
		{expected / 4, -2},
		{expected / 100, -2},
		{-expected, -2},
		{math.MinInt64, -2},
		{expected * 4, 2},
		{expected * 100, 2},
		{math.MaxInt64, 2},
	} {
		want := new(big.Int).Lsh(bigOne, uint(230+tc.shift))
		if got, _, _ := CompactToBig(Retarget(p, old, tc.span, p.RetargetInterval)); got.Cmp(want) != 0 {
			t.Errorf("Retarget(2^230, %d ms) = %x, want 2^%d", tc.span, got, 230+tc.shift)
		}
	}
	// At the limit a slow interval cannot make it easier.
	if bits := Retarget(p, p.PowLimit, expected*4, p.RetargetInterval); bits != p.PowLimitBits() {
		t.Errorf("Retarget(PowLimit, slow) = %08x, want PowLimit %08x", bits, p.PowLimitBits())
	}
	// The hardest target stays positive.
	if got, _, _ := CompactToBig(Retarget(p, bigOne, -1, p.RetargetInterval)); got.Cmp(bigOne) != 0 {
		t.Errorf("Retarget(1, fast) = %v, want 1", got)
	}
}

// powHeaders is a HeaderSource over one branch: the header at height i is
// element i.
type powHeaders []Header

var _ HeaderSource = powHeaders(nil)

func (s powHeaders) Ancestor(tip *Header, height uint64) (*Header, error) {
	if height > tip.Height || height >= uint64(len(s)) {
		return nil, fmt.Errorf("no ancestor at %d below tip %d: %w", height, tip.Height, ErrNotFound)
	}
	return &s[height], nil
}

// buildBranch extends a genesis at PowLimit by n blocks, spacing each after
// the first with gap(i) and giving each the bits NextBits asks for.
func buildBranch(t *testing.T, p *Params, n int, gap func(height uint64) int64) powHeaders {
	t.Helper()
	s := make(powHeaders, 1, n+1)
	s[0] = Header{Version: HeaderVersion, Timestamp: p.GenesisTime, Bits: p.PowLimitBits()}
	for len(s) <= n {
		parent := s[len(s)-1]
		bits, err := NextBits(p, s, &parent)
		if err != nil {
			t.Fatalf("NextBits after %d: %v", parent.Height, err)
		}
		h := parent.Height + 1
		s = append(s, Header{Version: HeaderVersion, Height: h, Timestamp: parent.Timestamp + gap(h), Bits: bits})
	}
	return s
}

func TestNextBitsChangesOnlyAtRetargetHeights(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range retargetParams() {
		t.Run(p.Name, func(t *testing.T) {
			spacing := p.TargetSpacing.Milliseconds()
			// Blocks come fast for a while, so the target leaves PowLimit,
			// then at random speeds: out of order, stalled for days, or
			// bursts.
			s := buildBranch(t, p, int(p.RetargetInterval)*40+7, func(h uint64) int64 {
				if h < p.RetargetInterval*8 {
					return spacing / 5
				}
				switch r.IntN(8) {
				case 0:
					return -r.Int64N(spacing * 3)
				case 1:
					return r.Int64N(spacing * 100_000)
				default:
					return r.Int64N(spacing * 3)
				}
			})
			changed := 0
			for i := 1; i < len(s); i++ {
				h, parent := &s[i], &s[i-1]
				if h.Height%p.RetargetInterval != 0 {
					if h.Bits != parent.Bits {
						t.Fatalf("bits changed from %08x to %08x at height %d, not a multiple of %d",
							parent.Bits, h.Bits, h.Height, p.RetargetInterval)
					}
					continue
				}
				if h.Bits != parent.Bits {
					changed++
				}
				old, _, _ := CompactToBig(parent.Bits)
				first := &s[0]
				if parent.Height > p.RetargetInterval {
					first = &s[parent.Height-p.RetargetInterval]
				}
				if want := Retarget(p, old, parent.Timestamp-first.Timestamp, parent.Height-first.Height); h.Bits != want {
					t.Fatalf("bits %08x at height %d, want Retarget over blocks %d..%d = %08x",
						h.Bits, h.Height, first.Height, parent.Height, want)
				}
			}
			if changed == 0 {
				t.Fatal("the target never changed: the branch does not exercise retargeting")
			}
		})
	}
}

func TestNextBitsFasterBlocksHarderTarget(t *testing.T) {
	p := DevNet()
	spacing := p.TargetSpacing.Milliseconds()
	// Blocks at half the spacing: each retarget halves the target, up to
	// the rounding of a span one block short of the interval (see
	// NextBits), from PowLimit down.
	s := buildBranch(t, p, int(p.RetargetInterval)*3, func(uint64) int64 { return spacing / 2 })
	prev, _, _ := CompactToBig(s[0].Bits)
	for k := uint64(1); k <= 3; k++ {
		got, _, _ := CompactToBig(s[k*p.RetargetInterval].Bits)
		if got.Cmp(prev) >= 0 {
			t.Fatalf("retarget %d: target %x not below %x after fast blocks", k, got, prev)
		}
		quarter := new(big.Int).Quo(prev, big.NewInt(4))
		if got.Cmp(quarter) < 0 {
			t.Fatalf("retarget %d: target %x fell more than the factor from %x", k, got, prev)
		}
		prev = got
	}
	// No retarget on a regtest network.
	rp := RegTest()
	parent := Header{Height: rp.RetargetInterval - 1, Bits: 0x1d00ffff}
	if bits, err := NextBits(rp, powHeaders(nil), &parent); err != nil || bits != rp.PowLimitBits() {
		t.Fatalf("regtest NextBits = %08x, %v; want PowLimit %08x", bits, err, rp.PowLimitBits())
	}
}
