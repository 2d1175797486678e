package chain

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
)

// solveChunk is how many nonces a worker tries between looks at the shared
// stop flag and additions to the hash counter. At the ~8 M hashes/s of one
// SHA-NI core that is about a quarter of a millisecond, so cancellation and
// another worker's success stop everyone well within a millisecond, while
// the atomic traffic stays far below one operation per thousand hashes.
const solveChunk = 2048

// Solve searches for a nonce that makes h's hash meet the target h.Bits
// encodes (hash ≤ target, both read as big-endian numbers) and returns h
// with that nonce; every other field is kept.
//
// workers goroutines search disjoint parts of the nonce space (fewer than
// one means one): worker i tries h.Nonce+i, h.Nonce+i+workers, and so on,
// wrapping around at 2^64 (after which the parts may overlap; at these
// rates that is millennia away). Each encodes the header once and then rewrites
// only the nonce bytes in place, so a try is one SHA-256 and no allocation.
// If hashes is not nil, the number of nonces tried is added to it as the
// search goes, in chunks of a few thousand.
//
// Solve runs until it finds a nonce or ctx is done; on an impossible target
// only ctx ends it. When ctx is done first it returns h unchanged and an
// error that wraps ctx.Err(). Bits that do not encode a positive 256-bit
// target are refused with a *RuleError of code ErrBadTarget. Every
// goroutine Solve starts has exited when it returns.
func Solve(ctx context.Context, h Header, workers int, hashes *atomic.Uint64) (Header, error) {
	target, neg, over := CompactToBig(h.Bits)
	if neg || over || target.Sign() <= 0 {
		return h, ruleError(ErrBadTarget, "bits %08x do not encode a positive 256-bit target", h.Bits)
	}
	if err := ctx.Err(); err != nil {
		return h, fmt.Errorf("solve block %d: %w", h.Height, err)
	}
	tb := TargetBytes(target)
	workers = max(workers, 1)
	step := uint64(workers)

	var (
		wg    sync.WaitGroup
		stop  atomic.Bool // set by the winner or on cancellation; polled per chunk
		won   atomic.Bool // the first worker to set it owns nonce
		nonce uint64      // written by the winner only, read after wg.Wait
	)
	for i := range workers {
		wg.Go(func() {
			buf := h.Encode()
			mid := newMidstate(&buf)
			next := h.Nonce + uint64(i)
			for !stop.Load() {
				tried, ok := searchRange(&buf, mid, &tb, &next, step, solveChunk)
				if hashes != nil {
					hashes.Add(tried)
				}
				if ok {
					if won.CompareAndSwap(false, true) {
						nonce = next
					}
					stop.Store(true)
					return
				}
			}
		})
	}
	// The watcher turns cancellation into the stop flag, and leaves on
	// quit once the workers are gone, so nothing outlives Solve.
	quit, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			stop.Store(true)
		case <-quit:
		}
	}()
	wg.Wait()
	close(quit)
	<-watched
	if won.Load() {
		h.Nonce = nonce
		return h, nil
	}
	return h, fmt.Errorf("solve block %d: %w", h.Height, ctx.Err())
}

// quickTries is how many nonces Mine tries on its own goroutine before
// it starts Solve's: a few microseconds of hashing. At a target as easy
// as regtest's (one hash in two meets it) the first try nearly always
// wins, and starting the workers and the watchers cost more than the
// hashes: about a fortieth of one /mine (docs/benchmarks.md).
const quickTries = 64

// solveQuick tries the nonces h.Nonce to h.Nonce+tries-1 on the calling
// goroutine and reports whether one made h's hash meet its target,
// returning h with that nonce, or else with the first nonce not tried.
// Bits that do not encode a positive target find nothing here: Solve
// refuses them.
func solveQuick(h Header, tries uint64, hashes *atomic.Uint64) (Header, bool) {
	target, neg, over := CompactToBig(h.Bits)
	if neg || over || target.Sign() <= 0 {
		return h, false
	}
	tb := TargetBytes(target)
	buf := h.Encode()
	next := h.Nonce
	tried, ok := searchRange(&buf, newMidstate(&buf), &tb, &next, 1, tries)
	if hashes != nil {
		hashes.Add(tried)
	}
	h.Nonce = next // the winner, or the first nonce not tried
	return h, ok
}

// midstate is SHA-256's state after the first 64 bytes of a header: one
// compression block that no nonce changes (the nonce is in the last 32
// bytes). Restoring it and hashing only the second block halves the work
// of a try, with crypto/sha256 doing all the hashing.
type midstate struct {
	d     hash.Hash
	u     encoding.BinaryUnmarshaler
	state []byte
	sum   [HashSize]byte
}

// newMidstate hashes the first block of buf, which must not change while
// the midstate is in use.
func newMidstate(buf *[HeaderSize]byte) *midstate {
	d := sha256.New()
	d.Write(buf[:sha256.BlockSize])
	state, err := d.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic("chain: sha256 digest cannot save its state: " + err.Error())
	}
	return &midstate{d: d, u: d.(encoding.BinaryUnmarshaler), state: state}
}

// hash returns SHA-256 of buf, reusing the saved first block.
func (m *midstate) hash(buf *[HeaderSize]byte) *Hash {
	if err := m.u.UnmarshalBinary(m.state); err != nil {
		panic("chain: sha256 digest cannot restore its own state: " + err.Error())
	}
	m.d.Write(buf[sha256.BlockSize:])
	m.d.Sum(m.sum[:0])
	return (*Hash)(&m.sum)
}

// searchRange tries up to count nonces, *next, *next+step, *next+2*step,
// ... (wrapping at 2^64), writing each into buf, the canonical encoding of
// the header being solved, whose first block mid holds. It returns how
// many it tried and whether one made the hash meet target. On success
// *next is that nonce (and the last one tried); otherwise *next has moved
// on to the first nonce not yet tried, so calling it again continues the
// walk. It does not allocate: this is the miner's inner loop.
func searchRange(buf *[HeaderSize]byte, mid *midstate, target *[HashSize]byte, next *uint64, step, count uint64) (tried uint64, found bool) {
	// Almost every hash differs from the target in its first eight bytes,
	// so compare those as one integer and fall back to the full comparison
	// only on a tie.
	t0 := binary.BigEndian.Uint64(target[:8])
	n := *next
	for i := range count {
		binary.BigEndian.PutUint64(buf[offNonce:], n)
		sum := mid.hash(buf)
		if h0 := binary.BigEndian.Uint64(sum[:8]); h0 < t0 || (h0 == t0 && HashMeetsTarget(sum, target)) {
			*next = n
			return i + 1, true
		}
		n += step
	}
	*next = n
	return count, false
}
