package chain_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// TestPrecheckChild: the header of a block whose parent is not validated
// yet is judged against the parent's header as PrecheckHeader judges it
// once the parent is: a sound child passes, and a wrong height, target,
// time or proof of work fails with its rule's code, and a block that
// failed validation before (its committed body) fails as known invalid.
// A header that does not follow the parent is an error without a rule
// code.
func TestPrecheckChild(t *testing.T) {
	h := newHarness(t, nil)
	h.extend(h.tipHash(), 3)
	parent := h.build(h.tipHash(), nil, nil) // not processed: in flight
	tests := []struct {
		name   string
		mutate func(*chain.Header)
		want   chain.ErrorCode
	}{
		{"sound", nil, 0},
		{"height", func(hd *chain.Header) { hd.Height++ }, chain.ErrBadHeight},
		{"target", func(hd *chain.Header) { hd.Bits = chain.BigToCompact(new(big.Int).Rsh(h.p.PowLimit, 1)) }, chain.ErrUnexpectedTarget},
		{"median time", func(hd *chain.Header) { hd.Timestamp = h.p.Genesis().Header.Timestamp }, chain.ErrTimeTooOld},
		{"future", func(hd *chain.Header) { hd.Timestamp = testNow.Add(h.p.MaxFutureDrift + time.Minute).UnixMilli() }, chain.ErrTimeTooNew},
		{"no proof of work", nil, chain.ErrHighHash},
		{"known invalid", nil, chain.ErrKnownInvalid},
	}
	children := make([]*chain.Block, len(tests))
	for i, tt := range tests {
		b := childOf(h, parent)
		if tt.mutate != nil {
			tt.mutate(&b.Header)
			b = h.solve(b)
		}
		switch tt.want {
		case chain.ErrHighHash:
			for chain.CheckHeaderSanity(h.p, &b.Header) == nil {
				b.Header.Nonce++
			}
		case chain.ErrKnownInvalid:
			// Two coinbases, under a merkle root that commits to them:
			// the chain, taking it for an orphan, marks it invalid.
			cb := *b.Transactions[0]
			cb.Nonce++
			b.Transactions = append(b.Transactions, &cb)
			b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			b = h.solve(b)
			if _, err := h.process(b); chain.CodeOf(err) != chain.ErrMultipleCoinbases {
				t.Fatalf("a block with two coinbases: %v, want %v", err, chain.ErrMultipleCoinbases)
			}
		}
		children[i] = b
		if err := h.c.PrecheckChild(&b.Header, &parent.Header); chain.CodeOf(err) != tt.want || (err == nil) != (tt.want == 0) {
			t.Errorf("%s: PrecheckChild = %v, want code %v", tt.name, err, tt.want)
		}
	}
	stray := childOf(h, parent)
	stray.Header.PrevHash = chain.Hash{1}
	if err := h.c.PrecheckChild(&stray.Header, &parent.Header); err == nil || chain.CodeOf(err) != 0 {
		t.Errorf("a header on another parent: %v, want an error without a rule code", err)
	}

	if _, err := h.process(parent); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		if err := h.c.PrecheckHeader(&children[i].Header); chain.CodeOf(err) != tt.want || (err == nil) != (tt.want == 0) {
			t.Errorf("%s: once the parent is stored PrecheckHeader = %v, want code %v as PrecheckChild", tt.name, err, tt.want)
		}
	}
}
