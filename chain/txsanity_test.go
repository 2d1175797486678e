package chain_test

import (
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestCheckTxsSanity: a gossiped batch's transactions are judged each as
// CheckTxSanity would, their signatures verified once and kept: a second
// check of the same batch verifies nothing, a forged signature or a bad
// shape fails only its own transaction, and a shape failure costs no
// verification.
func TestCheckTxsSanity(t *testing.T) {
	h := newHarness(t, nil)
	w := testwallet.New("batch sender")
	to := testwallet.New("batch recipient").Addr
	var good []*chain.Transaction
	for i := range 40 { // past parallelMin, so the batch runs on every core
		good = append(good, w.Tx(h.p, to, 1, 0, uint64(i)))
	}
	forged := w.Tx(h.p, to, 2, 0, 100)
	forged.Signature[0] ^= 1
	shape := w.Tx(h.p, to, 3, 0, 101)
	shape.Version++
	mixed := []*chain.Transaction{good[0], forged, good[1], shape, w.Tx(h.p, to, 4, 0, 102)}
	dup := w.Tx(h.p, to, 5, 0, 103)

	tests := []struct {
		name     string
		txs      []*chain.Transaction
		want     []error // per transaction: nil or the rule error
		verifies uint64  // added by this check
		hits     uint64
	}{
		{"all new", good, make([]error, len(good)), 40, 0},
		{"all cached", good, make([]error, len(good)), 0, 40},
		// The bad shape ends the shapes at index 3; the forgery at 1 ends
		// the check: what follows it is unchecked.
		{"mixed", mixed, []error{nil, chain.ErrBadSignature, chain.ErrUnchecked, chain.ErrUnchecked, chain.ErrUnchecked}, 1, 2},
		{"mixed again: only the forged one again", mixed,
			[]error{nil, chain.ErrBadSignature, chain.ErrUnchecked, chain.ErrUnchecked, chain.ErrUnchecked}, 1, 2},
		{"a bad shape first: nothing verified", []*chain.Transaction{shape, forged, good[0]},
			[]error{chain.ErrBadTxVersion, chain.ErrUnchecked, chain.ErrUnchecked}, 0, 0},
		{"repeats: one verification, one verdict", []*chain.Transaction{dup, dup, dup, dup},
			make([]error, 4), 1, 0},
	}
	sc := h.c.SigCache()
	for _, tc := range tests {
		before := sc.Stats()
		errs := h.c.CheckTxsSanity(tc.txs, chain.TxIDs(tc.txs))
		if len(errs) != len(tc.txs) {
			t.Fatalf("%s: %d verdicts for %d transactions", tc.name, len(errs), len(tc.txs))
		}
		for i, err := range errs {
			if (tc.want[i] == nil) != (err == nil) || (err != nil && !errors.Is(err, tc.want[i])) {
				t.Errorf("%s: transaction %d: %v, want %v", tc.name, i, err, tc.want[i])
			}
			if err == nil {
				if single := h.c.CheckTxSanity(tc.txs[i]); single != nil {
					t.Errorf("%s: transaction %d passed the batch but not alone: %v", tc.name, i, single)
				}
			}
		}
		after := sc.Stats()
		// The single checks above are all hits; count them out.
		passed := uint64(0)
		for _, err := range errs {
			if err == nil {
				passed++
			}
		}
		if v, hits := after.Verifies-before.Verifies, after.Hits-before.Hits-passed; v != tc.verifies || hits != tc.hits {
			t.Errorf("%s: %d verifies and %d hits, want %d and %d", tc.name, v, hits, tc.verifies, tc.hits)
		}
	}
}

// TestCheckTxsSanityStopsAtBadRound: a batch's signatures are verified in
// rounds of 8, 16, 32, … and a round with a forged signature is the last,
// so a forged signature at index k costs at most 8 + 2k verifications
// (protocol.md §16.9): the signatures before it and in its round are
// judged, the rest left unchecked and not admitted.
func TestCheckTxsSanityStopsAtBadRound(t *testing.T) {
	h := newHarness(t, nil)
	to := testwallet.New("round recipient").Addr
	const n = 256
	tests := []struct {
		name     string
		bad      int    // index of the forged signature, -1 for none
		verifies uint64 // the end of the round that holds it
	}{
		{"none", -1, n},
		{"first", 0, 8},
		{"end of the first round", 7, 8},
		{"start of the second round", 8, 24},
		{"middle", 100, 120},
		{"last", n - 1, n},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := testwallet.New("round sender " + tc.name)
			txs := make([]*chain.Transaction, n)
			for i := range txs {
				txs[i] = w.Tx(h.p, to, 1, 0, uint64(i))
			}
			if tc.bad >= 0 {
				txs[tc.bad].Signature[0] ^= 1
			}
			before := h.c.SigCache().Stats().Verifies
			errs := h.c.CheckTxsSanity(txs, chain.TxIDs(txs))
			if v := h.c.SigCache().Stats().Verifies - before; v != tc.verifies {
				t.Errorf("%d verifications, want %d", v, tc.verifies)
			}
			if tc.bad >= 0 && tc.verifies > uint64(8+2*tc.bad) {
				t.Errorf("%d verifications for a forgery at %d: past 8 + 2k", tc.verifies, tc.bad)
			}
			for i, err := range errs {
				var want error
				switch {
				case i == tc.bad:
					want = chain.ErrBadSignature
				case tc.bad >= 0 && i > tc.bad:
					want = chain.ErrUnchecked
				}
				if (want == nil) != (err == nil) || (err != nil && !errors.Is(err, want)) {
					t.Errorf("transaction %d: %v, want %v", i, err, want)
				}
			}
		})
	}
}
