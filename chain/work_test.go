package chain

import (
	"errors"
	"testing"
)

// TestWorkAbovePowLimit pins 5.3: work does not look at PowLimit, so bits
// easier than the limit carry the formula's work, but a header with them
// fails sanity and its work never enters a cumulative sum.
func TestWorkAbovePowLimit(t *testing.T) {
	p := DevNet() // PowLimit 2^236, bits 1e100000
	for _, tc := range []struct {
		name string
		bits uint32
		work int64
	}{
		{"twice the limit, 2^237", 0x1e200000, 524_287},
		{"2^255, regtest's limit", 0x21008000, 1},
		{"largest 32-byte mantissa", 0x207fffff, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WorkForBits(tc.bits); !got.IsInt64() || got.Int64() != tc.work {
				t.Errorf("work %v, want %d", got, tc.work)
			}
			h := Header{Version: HeaderVersion, Bits: tc.bits}
			if err := CheckHeaderSanity(p, &h); !errors.Is(err, ErrBadTarget) {
				t.Errorf("sanity: %v, want ErrBadTarget", err)
			}
		})
	}
}
