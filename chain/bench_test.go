package chain_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// signedBlock returns a regtest block on genesis-funded senders holding
// n signed transactions, and the chain state it connects to.
func signedBlock(b *testing.B, n int) (*harness, *chain.Block) {
	h := newHarness(b, nil)
	senders := make([]*testwallet.Wallet, n)
	for i := range senders {
		senders[i] = testwallet.New(fmt.Sprintf("sender %d", i))
	}
	// Fund every sender in blocks of up to 1,000 transfers from the miner.
	h.extend(h.tipHash(), 2*n/int(h.p.Reward)+2)
	a, _ := h.c.Account(h.miner.Addr)
	for lo := 0; lo < n; lo += 1000 {
		var txs []*chain.Transaction
		for i := lo; i < min(lo+1000, n); i++ {
			txs = append(txs, h.miner.Tx(h.p, senders[i].Addr, 2, 0, a.Nonce))
			a.Nonce++
		}
		if _, err := h.process(h.build(h.tipHash(), txs, nil)); err != nil {
			b.Fatal(err)
		}
	}
	to := testwallet.New("recipient").Addr
	txs := make([]*chain.Transaction, n)
	for i, s := range senders {
		txs[i] = s.Tx(h.p, to, 1, 0, 0)
	}
	return h, h.build(h.tipHash(), txs, nil)
}

// BenchmarkVerify1000 is the limit for block validation: 1,000 bare
// ed25519 verifies of transaction-sized messages, on one goroutine.
func BenchmarkVerify1000(b *testing.B) {
	_, blk := signedBlock(b, 1000)
	p := chain.RegTest()
	msgs := make([][]byte, 0, 1000)
	for _, tx := range blk.Transactions[1:] {
		msgs = append(msgs, tx.SigningBytes(p.NetworkID()))
	}
	b.ResetTimer()
	for b.Loop() {
		for i, tx := range blk.Transactions[1:] {
			if !ed25519.Verify(tx.PublicKey, msgs[i], tx.Signature) {
				b.Fatal("verify")
			}
		}
	}
}

// BenchmarkVerify1000Parallel is the same limit on every core.
func BenchmarkVerify1000Parallel(b *testing.B) {
	_, blk := signedBlock(b, 1000)
	p := chain.RegTest()
	txs := blk.Transactions[1:]
	msgs := make([][]byte, len(txs))
	for i, tx := range txs {
		msgs[i] = tx.SigningBytes(p.NetworkID())
	}
	workers := runtime.GOMAXPROCS(0)
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(txs); i += workers {
					ed25519.Verify(txs[i].PublicKey, msgs[i], txs[i].Signature)
				}
			})
		}
		wg.Wait()
	}
}

// BenchmarkCheckBlockSanity1000 is the stateless validation of a block of
// 1,000 signed transactions: what gossip runs before forwarding.
func BenchmarkCheckBlockSanity1000(b *testing.B) {
	h, blk := signedBlock(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := chain.CheckBlockSanity(h.p, blk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateBlock1000 is full validation of a block of 1,000
// signed transactions without the commit: sanity (signatures on every
// core), context against the parent, and the ledger.
func BenchmarkValidateBlock1000(b *testing.B) {
	h, blk := signedBlock(b, 1000)
	parent := h.c.Tip()
	b.ResetTimer()
	for b.Loop() {
		if _, err := chain.CheckBlockSanity(h.p, blk); err != nil {
			b.Fatal(err)
		}
		if err := chain.CheckHeaderContext(h.p, metaSource{h}, &blk.Header, &parent.Header, testNow); err != nil {
			b.Fatal(err)
		}
		if err := chain.NewStateView(h.p, h.c).ConnectBlock(blk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnectBlocks connects 10,000 blocks (coinbase and two signed
// transfers each) to a fsynced store: one commit per block, as gossip
// delivers them, and batches of 100, as sync delivers them.
func BenchmarkConnectBlocks(b *testing.B) {
	const n = 10_000
	blocks := buildChain(b, n, 2)
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				st, err := store.OpenDir(dir)
				if err != nil {
					b.Fatal(err)
				}
				c, err := chain.New(chain.RegTest(), st, chain.WithClock(func() time.Time { return testNow }))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for lo := 0; lo < n; lo += batch {
					if _, k, err := c.ProcessBlocks(context.Background(), blocks[lo:lo+batch]); err != nil || k != batch {
						b.Fatalf("block %d: %v", lo+k, err)
					}
				}
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// buildChain mines n regtest blocks on genesis, each with txsPer signed
// transfers after the first blocks have funded the sender.
func buildChain(b *testing.B, n, txsPer int) []*chain.Block {
	h := newHarness(b, nil)
	defer h.close()
	from, to := testwallet.New("bench sender"), testwallet.New("bench recipient")
	h.fund(from, uint64(n*txsPer)+10)
	nonce := uint64(0)
	for h.c.Tip().Height() < uint64(n) {
		var txs []*chain.Transaction
		for range txsPer {
			txs = append(txs, from.Tx(h.p, to.Addr, 1, 0, nonce))
			nonce++
		}
		if _, err := h.process(h.build(h.tipHash(), txs, nil)); err != nil {
			b.Fatal(err)
		}
	}
	out := make([]*chain.Block, n)
	for i := range out {
		blk, err := h.c.BlockAt(uint64(i + 1))
		if err != nil {
			b.Fatal(err)
		}
		out[i] = blk
	}
	return out
}

// BenchmarkOpenChain100k opens a chain of 100,000 blocks: store open,
// genesis check, tip read. Nothing is replayed, so it does not grow with
// the chain.
func BenchmarkOpenChain100k(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	st, err := store.OpenDir(dir, store.WithNoSync(true))
	if err != nil {
		b.Fatal(err)
	}
	c, err := chain.New(chain.RegTest(), st, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		b.Fatal(err)
	}
	blocks := buildChain(b, 1000, 0)
	// Extend past the prebuilt thousand with empty blocks in batches.
	if _, _, err := c.ProcessBlocks(context.Background(), blocks); err != nil {
		b.Fatal(err)
	}
	h := &harness{t: b, p: c.Params(), c: c, st: st, miner: testwallet.New("miner")}
	for c.Tip().Height() < n {
		batch := make([]*chain.Block, 0, 1000)
		parent := c.Tip().Header
		for range 1000 {
			cb := &chain.Transaction{Version: chain.TxVersion, Sender: "0", Recipient: h.miner.Addr, Amount: h.p.Reward, Nonce: parent.Height + 1}
			blk := &chain.Block{Header: chain.Header{Version: 1, Height: parent.Height + 1, PrevHash: parent.Hash(),
				Timestamp: parent.Timestamp + 1000, Bits: h.p.PowLimitBits()}, Transactions: []*chain.Transaction{cb}}
			blk.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(blk.Transactions))
			blk = h.solve(blk)
			batch = append(batch, blk)
			parent = blk.Header
		}
		if _, _, err := c.ProcessBlocks(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
	b.ResetTimer()
	for b.Loop() {
		st, err := store.Open(filepath.Join(dir, store.FileName))
		if err != nil {
			b.Fatal(err)
		}
		c, err := chain.New(chain.RegTest(), st)
		if err != nil || c.Tip().Height() != n {
			b.Fatalf("reopen: %v, height %d", err, c.Tip().Height())
		}
		st.Close()
	}
}

// BenchmarkMineDevnetBlock: how long a fresh devnet node takes to mine its
// first block, at the genesis target, with one and two workers. Each
// iteration mines a new block 1 (the template's timestamp moves, so the
// work differs each time); the mean over many is the expected time.
func BenchmarkMineDevnetBlock(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			h := newHarness(b, chain.DevNet())
			clock := testNow
			c, err := chain.New(chain.DevNet(), h.st, chain.WithClock(func() time.Time { clock = clock.Add(time.Millisecond); return clock }))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := c.Mine(context.Background(), nil, h.miner.Addr, workers, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/block")
		})
	}
}

// BenchmarkConnectAdmitted1000 is BenchmarkCheckBlockSanity1000 for a
// block whose transactions all passed mempool admission: every signature
// is a hit in the chain's cache, so what remains is hashing, the merkle
// root and the field checks. Compare it with the uncached figure of the
// same run (-bench 'CheckBlockSanity1000|ConnectAdmitted1000').
func BenchmarkConnectAdmitted1000(b *testing.B) {
	h, blk := signedBlock(b, 1000)
	for _, tx := range blk.Transactions[1:] {
		if err := h.c.CheckTxSanity(tx); err != nil { // admission
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.c.CheckBlockSanity(blk); err != nil {
			b.Fatal(err)
		}
	}
}
