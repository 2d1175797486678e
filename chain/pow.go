package chain

import (
	"bytes"
	"math/big"
	"sync/atomic"
)

// Targets travel in headers in the compact form Bitcoin calls nBits: the top
// byte is a base-256 exponent E and the low 23 bits a mantissa M, so the
// target is M * 256^(E-3). Bit 0x00800000 would be a sign and is never set in
// a valid header. The compact form loses precision, so a retargeted target
// is always rounded through it before it is compared or used.

var (
	bigOne = big.NewInt(1)
	// oneLsh256 is 2^256, the numerator of the work of a target.
	oneLsh256 = new(big.Int).Lsh(bigOne, 256)
)

// CompactToBig decodes a compact target. neg reports a set sign bit and
// overflow a value of more than 256 bits; a header with either is invalid.
func CompactToBig(bits uint32) (target *big.Int, neg, overflow bool) {
	mant := bits & 0x007fffff
	exp := uint(bits >> 24)
	neg = mant != 0 && bits&0x00800000 != 0
	overflow = mant != 0 && (exp > 34 || (mant > 0xff && exp > 33) || (mant > 0xffff && exp > 32))
	if exp <= 3 {
		mant >>= 8 * (3 - exp)
		target = big.NewInt(int64(mant))
	} else {
		target = big.NewInt(int64(mant))
		target.Lsh(target, 8*(exp-3))
	}
	return target, neg, overflow
}

// BigToCompact encodes a non-negative target, truncating the mantissa to its
// top three bytes.
func BigToCompact(n *big.Int) uint32 {
	if n.Sign() <= 0 {
		return 0
	}
	var mant uint32
	exp := uint(len(n.Bytes()))
	if exp <= 3 {
		mant = uint32(n.Uint64()) << (8 * (3 - exp))
	} else {
		mant = uint32(new(big.Int).Rsh(n, 8*(exp-3)).Uint64())
	}
	// A mantissa with its top bit set would read as negative: move one byte
	// into the exponent instead.
	if mant&0x00800000 != 0 {
		mant >>= 8
		exp++
	}
	return uint32(exp<<24) | mant
}

// TargetBytes returns the target as a 32-byte big-endian number, the form
// the miner compares hashes against without allocating.
func TargetBytes(target *big.Int) [HashSize]byte {
	var out [HashSize]byte
	target.FillBytes(out[:])
	return out
}

// HashMeetsTarget reports whether h, read as a big-endian number, is at or
// below target: the proof-of-work rule.
func HashMeetsTarget(h *Hash, target *[HashSize]byte) bool {
	return bytes.Compare(h[:], target[:]) <= 0
}

// Work is the expected number of hashes needed to find a hash at or below
// target:
// 2^256 / (target+1). Cumulative work, the sum along a branch, decides forks.
func Work(target *big.Int) *big.Int {
	if target.Sign() <= 0 {
		return new(big.Int)
	}
	d := new(big.Int).Add(target, bigOne)
	return d.Quo(oneLsh256, d)
}

// WorkForBits is Work of a compact target; an invalid target has no work.
// The result is the caller's own.
func WorkForBits(bits uint32) *big.Int { return new(big.Int).Set(workForBits(bits)) }

// workMemo is the work of the last target workForBits computed: targets
// change only at retargets, and a block's connect asked for the same one
// several times (its branch's work, the work gate's slack), a 256-bit
// division each.
type workMemo struct {
	bits uint32
	work *big.Int
}

var lastWork atomic.Pointer[workMemo]

// workForBits is WorkForBits shared: never change the result.
func workForBits(bits uint32) *big.Int {
	if m := lastWork.Load(); m != nil && m.bits == bits {
		return m.work
	}
	w := new(big.Int)
	if t, neg, over := CompactToBig(bits); !neg && !over {
		w = Work(t)
	}
	lastWork.Store(&workMemo{bits: bits, work: w})
	return w
}
