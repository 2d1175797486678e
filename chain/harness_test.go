package chain_test

import (
	"context"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// harness is a chain on a real bbolt store in a temp dir, on regtest rules
// (about two hashes a block), with a clock far enough ahead that test
// timestamps are never in the future.
type harness struct {
	t     testing.TB
	p     *chain.Params
	dir   string
	st    *store.Store
	c     *chain.Chain
	miner *testwallet.Wallet
	seq   int64 // makes every built block distinct
}

// testNow is the harness clock: 30 days after genesis.
var testNow = time.UnixMilli(chain.RegTest().Genesis().Header.Timestamp).Add(30 * 24 * time.Hour)

func newHarness(t testing.TB, p *chain.Params) *harness {
	t.Helper()
	if p == nil {
		p = chain.RegTest()
	}
	h := &harness{t: t, p: p, dir: t.TempDir(), miner: testwallet.New("miner")}
	h.open()
	t.Cleanup(func() { h.close() })
	return h
}

// newRival is a second harness on the same network whose blocks pay
// another miner: a branch that competes with the first one's.
func newRival(t testing.TB) *harness {
	t.Helper()
	other := newHarness(t, nil)
	other.miner = testwallet.New("other miner")
	return other
}

func (h *harness) open() {
	h.t.Helper()
	st, err := store.OpenDir(h.dir, store.WithNoSync(true))
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	c, err := chain.New(h.p, st, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		st.Close()
		h.t.Fatalf("new chain: %v", err)
	}
	h.st, h.c = st, c
}

func (h *harness) close() {
	if h.st != nil {
		h.st.Close()
		h.st = nil
	}
}

// build returns a solved block on parent paying the harness miner, with
// txs after the coinbase, after mutate (if any) has changed it. The
// merkle root is recomputed after mutate unless keepRoot is set.
func (h *harness) build(parent chain.Hash, txs []*chain.Transaction, mutate func(*chain.Block)) *chain.Block {
	h.t.Helper()
	pm, err := h.c.Meta(parent)
	if err != nil {
		h.t.Fatalf("parent %s: %v", parent.Short(), err)
	}
	var fees uint64
	for _, tx := range txs {
		fees += tx.Fee
	}
	height := pm.Height() + 1
	h.seq++
	cb := &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: h.miner.Addr, Amount: h.p.Reward + fees, Nonce: height}
	b := &chain.Block{
		Header: chain.Header{
			Version:   chain.HeaderVersion,
			Height:    height,
			PrevHash:  parent,
			Timestamp: pm.Header.Timestamp + 1000 + h.seq,
			Bits:      pm.Header.Bits,
		},
		Transactions: append([]*chain.Transaction{cb}, txs...),
	}
	if h.p.NoRetarget {
		b.Header.Bits = h.p.PowLimitBits()
	}
	b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	if mutate != nil {
		mutate(b)
	}
	return h.solve(b)
}

func (h *harness) solve(b *chain.Block) *chain.Block {
	h.t.Helper()
	hdr, err := chain.Solve(context.Background(), b.Header, 1, nil)
	if err != nil {
		h.t.Fatalf("solve: %v", err)
	}
	b.Header = hdr
	return b
}

// extend builds and processes n empty blocks on parent and returns them,
// as a sync batch would deliver them: a side branch is stored whatever its
// work.
func (h *harness) extend(parent chain.Hash, n int) []*chain.Block {
	h.t.Helper()
	var out []*chain.Block
	for i := 0; i < n; i++ {
		b := h.build(parent, nil, nil)
		if _, err := h.sync(b); err != nil {
			h.t.Fatalf("extend: block %d: %v", i, err)
		}
		out = append(out, b)
		parent = b.Hash()
	}
	return out
}

// process hands b to the chain as gossip does: unrequested.
func (h *harness) process(b *chain.Block) (*chain.Change, error) {
	return h.c.ProcessBlock(context.Background(), b)
}

// sync hands b to the chain as a requested block, as the syncer does
// once headers proved its branch heavier: stored whatever its own work.
func (h *harness) sync(b *chain.Block) (*chain.Change, error) {
	ch, _, err := h.c.ProcessBlocks(context.Background(), []*chain.Block{b})
	return ch, err
}

func (h *harness) tipHash() chain.Hash { return h.c.Tip().Hash }

func (h *harness) balance(addr string) int64 {
	h.t.Helper()
	a, err := h.c.Account(addr)
	if err != nil {
		h.t.Fatalf("account %s: %v", addr, err)
	}
	return a.Balance
}

// fund mines blocks paying the miner, then one block moving amount to w.
func (h *harness) fund(w *testwallet.Wallet, amount uint64) {
	h.t.Helper()
	need := int(amount/h.p.Reward) + 1
	h.extend(h.tipHash(), need)
	a, _ := h.c.Account(h.miner.Addr)
	tx := h.miner.Tx(h.p, w.Addr, amount, 0, a.Nonce)
	if _, err := h.process(h.build(h.tipHash(), []*chain.Transaction{tx}, nil)); err != nil {
		h.t.Fatalf("fund: %v", err)
	}
}
