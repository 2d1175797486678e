package chain

import (
	"context"
	"math/big"
	"sync/atomic"
	"testing"
)

// TestSolveQuick: the first nonces are tried on the caller's goroutine;
// a nonce found is the one Solve finds from the same start, and when none
// of them wins the header comes back at the first nonce not tried.
func TestSolveQuick(t *testing.T) {
	p := RegTest()
	hard := BigToCompact(big.NewInt(1)) // one hash in 2^256
	for _, tc := range []struct {
		name      string
		bits      uint32
		found     bool
		hashes    uint64 // tried; 0 = as Solve's
		wantNonce uint64 // when not found
	}{
		{"regtest target", p.PowLimitBits(), true, 0, 0},
		{"impossible target", hard, false, quickTries, 1000 + quickTries},
		{"no target", 0, false, 0, 1000},
	} {
		h := Header{Version: HeaderVersion, Height: 7, Timestamp: 1_700_000_000_000, Bits: tc.bits, Nonce: 1000}
		var hashes atomic.Uint64
		got, ok := solveQuick(h, quickTries, &hashes)
		if ok != tc.found {
			t.Fatalf("%s: found %v, want %v", tc.name, ok, tc.found)
		}
		if !ok {
			if got.Nonce != tc.wantNonce || hashes.Load() != tc.hashes {
				t.Errorf("%s: nonce %d after %d hashes, want %d after %d", tc.name, got.Nonce, hashes.Load(), tc.wantNonce, tc.hashes)
			}
			continue
		}
		want, err := Solve(context.Background(), h, 1, nil)
		if err != nil {
			t.Fatalf("%s: Solve: %v", tc.name, err)
		}
		if got != want || hashes.Load() != want.Nonce-h.Nonce+1 {
			t.Errorf("%s: nonce %d after %d hashes, Solve's %d", tc.name, got.Nonce, hashes.Load(), want.Nonce)
		}
	}
}
