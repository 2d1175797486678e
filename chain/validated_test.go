package chain_test

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// validatedSeen is what the validated hook of ProcessCheckedValidated saw
// of the chain while the block's commit had not yet begun.
type validatedSeen struct {
	calls          int
	change         *chain.Change
	block, meta    bool // the chain's Block and Meta returned the block
	encoded        bool // BlockBytes returned its encoding (what sync serves)
	stored         bool // the store itself had it
	tip            chain.Hash
	childHasParent bool  // HasBlock of the block
	balance        int64 // the chain's Account of the block's miner
	located        bool  // TxLocation found the coinbase in the block
	nextHeight     uint64
}

// TestProcessCheckedValidated: the hook gossip forwards on is called
// once, before the commit, only for a block that moves the tip; while it
// runs, the block is readable through the chain (a peer asking for it
// gets it, protocol.md §16.8) though neither the store nor the tip has
// it yet, its accounts and transactions read as it leaves them (the
// mempool admits on that state meanwhile), and a child's header checked
// meanwhile (it waits for the lock) passes. A commit that fails
// after the hook still ends in the store-failure path, and the block is
// not readable afterwards.
func TestProcessCheckedValidated(t *testing.T) {
	tests := []struct {
		name       string
		block      func(h *harness) *chain.Block
		failCommit bool
		wantCalls  int
		wantErr    error
	}{
		{name: "extends the tip", block: func(h *harness) *chain.Block { return h.build(h.tipHash(), nil, nil) }, wantCalls: 1},
		{name: "bad merkle root", block: func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) { b.Header.MerkleRoot[0] ^= 1 })
		}, wantErr: chain.ErrBadMerkleRoot},
		{name: "orphan", block: func(h *harness) *chain.Block {
			return childOf(h, h.build(h.tipHash(), nil, nil))
		}, wantErr: chain.ErrUnknownParent},
		{name: "commit fails", block: func(h *harness) *chain.Block { return h.build(h.tipHash(), nil, nil) },
			failCommit: true, wantCalls: 1, wantErr: chain.ErrStoreFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.extend(h.tipHash(), 2)
			fs := &failingStore{Store: h.st}
			c, err := chain.New(h.p, fs, chain.WithClock(func() time.Time { return testNow }))
			if err != nil {
				t.Fatal(err)
			}
			old := c.Tip()
			b := tt.block(h)
			bh := b.Hash()
			cbID := b.Transactions[0].ID()
			before, err := c.Account(h.miner.Addr)
			if err != nil {
				t.Fatal(err)
			}
			after := before.Balance + int64(b.Transactions[0].Amount)
			child := childOf(h, b)
			if tt.failCommit {
				fs.err = syscall.EIO
			}
			cb, err := c.CheckBlock(b)
			if err != nil {
				t.Fatal(err)
			}
			var seen validatedSeen
			childPrecheck := make(chan error, 1)
			ch, err := c.ProcessCheckedValidated(context.Background(), cb, func(ch *chain.Change) {
				seen.calls++
				seen.change = ch
				_, berr := c.Block(bh)
				_, merr := c.Meta(bh)
				_, serr := h.st.Meta(bh)
				seen.block, seen.meta, seen.stored = berr == nil, merr == nil, serr == nil
				enc, eerr := c.BlockBytes(bh)
				seen.encoded = eerr == nil && bytes.Equal(enc, b.Encode())
				seen.tip = c.Tip().Hash
				seen.childHasParent = c.HasBlock(bh)
				if a, err := c.Account(h.miner.Addr); err == nil {
					seen.balance = a.Balance
				}
				loc, lerr := c.TxLocation(cbID)
				seen.located = lerr == nil && loc == bh
				seen.nextHeight = c.NextHeight()
				// PrecheckHeader takes the chain's lock for the orphan
				// pool: it waits for the commit.
				go func() { childPrecheck <- c.PrecheckHeader(&child.Header) }()
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if seen.calls != tt.wantCalls {
				t.Fatalf("validated called %d times, want %d", seen.calls, tt.wantCalls)
			}
			if tt.wantCalls == 0 {
				return
			}
			if !seen.change.Joined(bh) || seen.change.OldTip.Hash != old.Hash || seen.change.NewTip.Hash != bh {
				t.Errorf("validated got change %+v, want %s joined on %s", seen.change, bh.Short(), old.Hash.Short())
			}
			if !seen.block || !seen.meta || !seen.encoded || !seen.childHasParent {
				t.Errorf("during validated: Block %v, Meta %v, BlockBytes %v, HasBlock %v; want the block readable", seen.block, seen.meta, seen.encoded, seen.childHasParent)
			}
			if seen.balance != after || !seen.located || seen.nextHeight != b.Header.Height+1 {
				t.Errorf("during validated: miner's balance %d, coinbase located %v, next height %d; want %d, the block, %d",
					seen.balance, seen.located, seen.nextHeight, after, b.Header.Height+1)
			}
			if seen.stored || seen.tip != old.Hash {
				t.Errorf("during validated: stored %v, tip %s; want neither committed yet", seen.stored, seen.tip.Short())
			}
			if tt.failCommit {
				if ch != nil || c.Tip().Hash != old.Hash {
					t.Errorf("after a failed commit: change %v, tip %s; want nil, %s", ch, c.Tip().Hash.Short(), old.Hash.Short())
				}
				if _, err := c.Block(bh); !errors.Is(err, chain.ErrNotFound) {
					t.Errorf("Block after a failed commit: %v, want ErrNotFound", err)
				}
				if _, err := c.BlockBytes(bh); !errors.Is(err, chain.ErrNotFound) {
					t.Errorf("BlockBytes after a failed commit: %v, want ErrNotFound", err)
				}
				if _, err := c.TxLocation(cbID); !errors.Is(err, chain.ErrNotFound) {
					t.Errorf("TxLocation after a failed commit: %v, want ErrNotFound", err)
				}
				if a, err := c.Account(h.miner.Addr); err != nil || a.Balance != before.Balance {
					t.Errorf("Account after a failed commit: %d, %v; want %d", a.Balance, err, before.Balance)
				}
				if got := c.NextHeight(); got != old.Height()+1 {
					t.Errorf("NextHeight after a failed commit: %d, want %d", got, old.Height()+1)
				}
				return
			}
			if c.Tip().Hash != bh || ch == nil || ch.NewTip.Hash != bh {
				t.Errorf("after the commit: tip %s, change %v; want %s", c.Tip().Hash.Short(), ch, bh.Short())
			}
			if _, err := h.st.Meta(bh); err != nil {
				t.Errorf("store after the commit: %v", err)
			}
			if a, err := c.Account(h.miner.Addr); err != nil || a.Balance != after {
				t.Errorf("Account after the commit: %d, %v; want %d", a.Balance, err, after)
			}
			if enc, err := c.BlockBytes(bh); err != nil || !bytes.Equal(enc, b.Encode()) {
				t.Errorf("BlockBytes after the commit: %d bytes, %v; want the block's encoding", len(enc), err)
			}
			if err := <-childPrecheck; err != nil {
				t.Errorf("a child's header checked during the commit: %v, want it to pass", err)
			}
		})
	}
}

// childOf builds a solved empty block on parent without reading the
// chain, which may not hold parent yet.
func childOf(h *harness, parent *chain.Block) *chain.Block {
	h.t.Helper()
	height := parent.Header.Height + 1
	cb := &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: h.miner.Addr,
		Amount: h.p.Reward, Nonce: height}
	b := &chain.Block{
		Header: chain.Header{
			Version:   chain.HeaderVersion,
			Height:    height,
			PrevHash:  parent.Hash(),
			Timestamp: parent.Header.Timestamp + 1000,
			Bits:      parent.Header.Bits,
		},
		Transactions: []*chain.Transaction{cb},
	}
	b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	return h.solve(b)
}
