package chain_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// transfersWithForgery returns n signed transfers from honest, the one at
// index forged signed by forger and then forged: its R still decodes, its
// S is wrong.
func transfersWithForgery(p *chain.Params, honest, forger *testwallet.Wallet, n, forged int) []*chain.Transaction {
	to := testwallet.New("recipient").Addr
	txs := make([]*chain.Transaction, n)
	for i := range txs {
		w := honest
		if i == forged {
			w = forger
		}
		txs[i] = w.Tx(p, to, 1, 0, uint64(i))
		if i == forged {
			txs[i].Signature[40] ^= 1
		}
	}
	return txs
}

// TestForgedBlockStopsVerifying: a block's signatures are verified in
// block order only until a chunk holds a bad one, so a block of forged
// transfers costs its checker a chunk or two of verifications per core,
// not every signature it carries, whether it comes alone (an orphan's
// body is checked with no work gate, at the network's easiest target) or
// in a sync batch; and the failure named is still the lowest one.
//
// One core, so that the chunks are verified in order and the count is
// exact: on two, the other core goes on with the chunks after the one
// that failed while that one is verified again signature by signature.
func TestForgedBlockStopsVerifying(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 640
	const bound = 64 // the chunk that failed
	tests := []struct {
		name   string
		forged int  // index among the transfers
		batch  bool // the block second in a sync batch, a block of n more after it
		// min and max verifications the check may cost
		min, max uint64
	}{
		{"orphan, forged first", 0, false, 1, bound},
		{"orphan, forged last", n - 1, false, n, n},
		{"sync batch, forged first", 0, true, 1, bound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			p := h.p
			honest, forger := testwallet.New("honest"), testwallet.New("forger")
			genesis := h.tipHash()
			var blocks []*chain.Block
			var bad *chain.Block
			if tt.batch {
				first := h.build(genesis, nil, nil)
				bad = h.child(first, transfersWithForgery(p, honest, forger, n, tt.forged))
				after := h.child(bad, transfersWithForgery(p, honest, forger, n, -1))
				blocks = []*chain.Block{first, bad, after}
			} else {
				// An orphan: a parent nobody has, at the easiest target.
				bad = h.build(genesis, transfersWithForgery(p, honest, forger, n, tt.forged), func(b *chain.Block) {
					b.Header.PrevHash = chain.Hash{1, 2, 3}
					b.Header.Bits = p.PowLimitBits()
				})
				blocks = []*chain.Block{bad}
			}
			before := h.c.SigCache().Stats().Verifies
			var err error
			if tt.batch {
				var done int
				_, done, err = h.c.ProcessBlocks(context.Background(), blocks)
				if done != 1 {
					t.Errorf("%d blocks of the batch processed, want 1 (the one before the forgery)", done)
				}
			} else {
				_, err = h.c.ProcessBlock(context.Background(), bad)
			}
			if chain.CodeOf(err) != chain.ErrBadSignature || !strings.Contains(err.Error(), forger.Addr) {
				t.Fatalf("got %v, want the forger's bad signature", err)
			}
			got := h.c.SigCache().Stats().Verifies - before
			if got < tt.min || got > tt.max {
				t.Fatalf("%d signatures verified, want %d to %d", got, tt.min, tt.max)
			}
			if _, err := h.c.ProcessBlock(context.Background(), bad); chain.CodeOf(err) != chain.ErrKnownInvalid {
				t.Errorf("the forged block again: %v, want it remembered as invalid", err)
			}
		})
	}
}

// child returns a solved block on parent, which need not be stored,
// paying the harness miner, with txs after the coinbase.
func (h *harness) child(parent *chain.Block, txs []*chain.Transaction) *chain.Block {
	h.t.Helper()
	height := parent.Header.Height + 1
	cb := &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: h.miner.Addr, Amount: h.p.Reward, Nonce: height}
	b := &chain.Block{
		Header: chain.Header{Version: chain.HeaderVersion, Height: height, PrevHash: parent.Hash(),
			Timestamp: parent.Header.Timestamp + 1000, Bits: parent.Header.Bits},
		Transactions: append([]*chain.Transaction{cb}, txs...),
	}
	b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	return h.solve(b)
}
