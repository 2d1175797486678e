package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// testBits is the compact target of generated headers. Validity does not
// matter to the store; it only fixes the work per block.
const testBits = 0x1f00ffff

// gen builds a deterministic chain and the batches that connect it, with a
// ledger in memory so that accounts and undo records look like the chain's.
// Blocks are not valid (no proof of work, fake signatures): the store does
// not care.
type gen struct {
	rng    *rand.Rand
	addrs  []string
	ledger map[string]chain.Account
	// load gives the state of an address not yet in ledger; nil means zero.
	load func(string) chain.Account

	started bool
	height  uint64
	prev    chain.Hash
	work    *big.Int
}

func newGen(seed uint64, nAddrs int) *gen {
	g := &gen{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		ledger: make(map[string]chain.Account),
		work:   new(big.Int),
	}
	for i := range nAddrs {
		sum := sha256.Sum256(fmt.Appendf(nil, "addr %d", i))
		g.addrs = append(g.addrs, chain.AddressPrefix+hex.EncodeToString(sum[:24]))
	}
	return g
}

// resume makes g continue the main chain of st after its tip, taking
// account states from st as it meets them.
func (g *gen) resume(st *store.Store) error {
	g.load = func(addr string) chain.Account {
		a, err := st.Account(addr)
		if err != nil {
			panic(err)
		}
		return a
	}
	tip, err := st.Tip()
	if errors.Is(err, chain.ErrNotFound) {
		return nil // empty store: start at genesis
	}
	if err != nil {
		return err
	}
	m, err := st.Meta(tip)
	if err != nil {
		return err
	}
	g.started, g.height, g.prev, g.work = true, m.Height(), tip, m.Work
	return nil
}

func (g *gen) account(addr string) chain.Account {
	if a, ok := g.ledger[addr]; ok {
		return a
	}
	if g.load != nil {
		return g.load(addr)
	}
	return chain.Account{}
}

func (g *gen) randBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

// connect adds the next block, with nTx transfers after its coinbase, to
// b: block, meta, main index, undo, tx index, touched accounts and tip.
// It returns the block.
func (g *gen) connect(b *chain.Batch, nTx int) *chain.Block {
	height := uint64(0)
	if g.started {
		height = g.height + 1
	}
	miner := g.addrs[g.rng.IntN(len(g.addrs))]
	txs := []*chain.Transaction{{
		Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: miner,
		Amount: 50, Nonce: height,
	}}
	for range nTx {
		from := g.addrs[g.rng.IntN(len(g.addrs))]
		to := g.addrs[g.rng.IntN(len(g.addrs))]
		txs = append(txs, &chain.Transaction{
			Version: chain.TxVersion, Sender: from, Recipient: to,
			Amount: 1 + g.rng.Uint64N(10), Fee: 1, Nonce: g.account(from).Nonce,
			PublicKey: g.randBytes(32), Signature: g.randBytes(64),
		})
	}

	// The ledger change: undo keeps each touched address's state before.
	undo := &chain.Undo{}
	touched := make(map[string]bool)
	touch := func(addr string, delta int64, nonce bool) {
		a := g.account(addr)
		if !touched[addr] {
			touched[addr] = true
			undo.Entries = append(undo.Entries, chain.UndoEntry{Address: addr, Prev: a})
		}
		a.Balance += delta
		if nonce {
			a.Nonce++
		}
		g.ledger[addr] = a
	}
	for _, tx := range txs {
		if tx.IsCoinbase() {
			touch(tx.Recipient, int64(tx.Amount), false)
			continue
		}
		touch(tx.Sender, -int64(tx.Amount+tx.Fee), true)
		touch(tx.Recipient, int64(tx.Amount), false)
		touch(miner, int64(tx.Fee), false)
	}

	blk := &chain.Block{
		Header: chain.Header{
			Version: chain.HeaderVersion, Height: height, PrevHash: g.prev,
			MerkleRoot: chain.MerkleRoot(chain.TxIDs(txs)),
			Timestamp:  1_700_000_000_000 + int64(height)*5000,
			Bits:       testBits, Nonce: g.rng.Uint64(),
		},
		Transactions: txs,
	}
	h := blk.Hash()
	g.work = new(big.Int).Add(g.work, chain.WorkForBits(testBits))
	b.Blocks[h] = blk
	b.Metas[h] = &chain.BlockMeta{
		Hash: h, Header: blk.Header, Work: g.work,
		Status: chain.StatusConnected, Size: uint32(blk.EncodedSize()), TxCount: uint32(len(txs)),
	}
	b.Undos[h] = undo
	b.Main[height] = h
	for _, tx := range txs {
		b.TxIndex[tx.ID()] = h
	}
	for addr := range touched {
		b.Accounts[addr] = g.ledger[addr]
	}
	b.Tip = h
	g.started, g.height, g.prev = true, height, h
	return blk
}

// batches returns the batches connecting n blocks, perBatch blocks each.
func (g *gen) batches(n, perBatch, nTx int) []*chain.Batch {
	var out []*chain.Batch
	for i := 0; i < n; i += perBatch {
		b := chain.NewBatch()
		for j := 0; j < perBatch && i+j < n; j++ {
			g.connect(b, nTx)
		}
		out = append(out, b)
	}
	return out
}

func openTemp(t testing.TB, opts ...store.Option) (*store.Store, string) {
	t.Helper()
	path := t.TempDir() + "/" + store.FileName
	st, err := store.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, path
}

func mustApply(t testing.TB, st *store.Store, b *chain.Batch) {
	t.Helper()
	if err := st.Apply(b); err != nil {
		t.Fatal(err)
	}
}
