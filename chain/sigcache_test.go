package chain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestSigCacheOnce: a transaction admitted to the mempool is verified
// once; the block that carries it connects on cache hits. A transaction
// whose signature was changed is not a hit, and a failure is not
// remembered.
func TestSigCacheOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.extend(h.tipHash(), 3)
	sc := h.c.SigCache()
	pool := chain.NewMempool(h.p, chain.WithMempoolSigCache(sc))
	a, _ := h.c.Account(h.miner.Addr)
	const n = 40 // enough to check the block's signatures on every core
	var txs []*chain.Transaction
	to := testwallet.New("to").Addr
	for i := range n {
		tx := h.miner.Tx(h.p, to, 1, 0, a.Nonce+uint64(i))
		if err := pool.Add(tx, h.c); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	if got := sc.Stats(); got.Verifies != n || got.Hits != 0 {
		t.Fatalf("after admission: %+v, want %d verifies and no hits", got, n)
	}
	if _, err := h.process(h.build(h.tipHash(), txs, nil)); err != nil {
		t.Fatal(err)
	}
	if got := sc.Stats(); got.Verifies != n || got.Hits != n {
		t.Fatalf("after the block: %+v, want still %d verifies and %d hits", got, n, n)
	}

	// The same transfer with another signature byte: another id, so a
	// verification, which fails and is not remembered.
	forged := *txs[0]
	forged.Nonce += n // not yet used
	forged.Signature = append([]byte(nil), txs[0].Signature...)
	for range 2 {
		if err := h.c.CheckTxSanity(&forged); err == nil {
			t.Fatal("a forged signature passed")
		}
	}
	if got := sc.Stats(); got.Verifies != n+2 {
		t.Fatalf("a failed signature was remembered: %+v", got)
	}
}

// TestSigCacheBound: the cache keeps its newest entries up to its size.
func TestSigCacheBound(t *testing.T) {
	p := chain.RegTest()
	h := newHarness(t, p)
	sc := chain.NewSigCache(2)
	c, err := chain.New(p, h.st, chain.WithSigCache(sc))
	if err != nil {
		t.Fatal(err)
	}
	w := testwallet.New("w")
	var txs []*chain.Transaction
	for i := range 3 {
		txs = append(txs, w.Tx(p, testwallet.New(fmt.Sprint(i)).Addr, 1, 0, uint64(i)))
	}
	for _, c2 := range []struct {
		tx            int
		verifies, hit uint64
	}{
		{0, 1, 0}, {1, 2, 0}, {1, 2, 1}, // 0 and 1 remembered
		{2, 3, 1}, // 2 evicts 0
		{0, 4, 1}, // 0 verified again, evicting 1
		{2, 4, 2},
	} {
		if err := c.CheckTxSanity(txs[c2.tx]); err != nil {
			t.Fatal(err)
		}
		if got := sc.Stats(); got.Verifies != c2.verifies || got.Hits != c2.hit {
			t.Fatalf("after tx %d: %+v, want %d verifies %d hits", c2.tx, got, c2.verifies, c2.hit)
		}
	}
}

// TestSigCacheSizeNotPositive: a cache of no entries, or of a negative
// number (a configuration's mistake), remembers nothing and verifies
// every signature, rather than panicking.
func TestSigCacheSizeNotPositive(t *testing.T) {
	for _, size := range []int{0, -1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := chain.RegTest()
			h := newHarness(t, p)
			sc := chain.NewSigCache(size)
			c, err := chain.New(p, h.st, chain.WithSigCache(sc))
			if err != nil {
				t.Fatal(err)
			}
			tx := testwallet.New("w").Tx(p, testwallet.New("to").Addr, 1, 0, 0)
			for i := range 2 {
				if err := c.CheckTxSanity(tx); err != nil {
					t.Fatal(err)
				}
				if got := sc.Stats(); got.Verifies != uint64(i+1) || got.Hits != 0 {
					t.Fatalf("after check %d: %+v, want %d verifies, no hits", i+1, got, i+1)
				}
			}
		})
	}
}

// TestSigCacheOneNetwork: a transaction's id does not hold the network
// id its signature covers, so a cache answers for the network of its
// first check only. Shared by two chains of different networks, it
// does not vouch on one for a signature made on the other, nor keep
// the other's.
func TestSigCacheOneNetwork(t *testing.T) {
	sc := chain.NewSigCache(64)
	open := func(p *chain.Params) *chain.Chain {
		st, err := store.OpenDir(t.TempDir(), store.WithNoSync(true))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		c, err := chain.New(p, st, chain.WithSigCache(sc))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	dev, reg := open(chain.DevNet()), open(chain.RegTest())
	w := testwallet.New("two networks")
	onDev := w.Tx(dev.Params(), testwallet.New("payee").Addr, 1, 0, 0)
	if err := dev.CheckTxSanity(onDev); err != nil {
		t.Fatalf("on its own network: %v", err)
	}
	if err := reg.CheckTxSanity(onDev); !errors.Is(err, chain.ErrBadSignature) {
		t.Fatalf("signed for devnet, checked on regtest through devnet's cache: %v, want %v", err, chain.ErrBadSignature)
	}
	if errs := reg.CheckTxsSanity([]*chain.Transaction{onDev}, chain.TxIDs([]*chain.Transaction{onDev})); !errors.Is(errs[0], chain.ErrBadSignature) {
		t.Fatalf("the same in a gossiped batch: %v, want %v", errs[0], chain.ErrBadSignature)
	}
	onReg := w.Tx(reg.Params(), testwallet.New("payee").Addr, 1, 0, 0)
	before := sc.Stats()
	for range 2 {
		if err := reg.CheckTxSanity(onReg); err != nil {
			t.Fatalf("on regtest: %v", err)
		}
	}
	if got := sc.Stats(); got.Hits != before.Hits || got.Verifies != before.Verifies {
		t.Fatalf("devnet's cache kept or answered regtest's checks: %+v, then %+v", before, got)
	}
}
