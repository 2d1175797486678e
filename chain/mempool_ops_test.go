package chain_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// TestMempoolConcurrent runs Add, Select and the reads from several
// goroutines; run with -race.
func TestMempoolConcurrent(t *testing.T) {
	p := chain.RegTest()
	const senders, perSender = 8, 16
	state := mpState{}
	var keys []mpKey
	for i := range senders {
		k := newMPKey(byte(10 + i))
		keys = append(keys, k)
		state[k.addr] = chain.Account{Balance: 1000}
	}
	m := chain.NewMempool(p)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for _, k := range keys {
		wg.Go(func() {
			for n := range uint64(perSender) {
				if err := m.Add(k.tx(p, keys[0].addr, 1, n%3, n), state); err != nil {
					errs <- err
					return
				}
				m.Select(10, chain.MaxBlockSize)
				m.Pending(k.addr)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m.Len() != senders*perSender {
		t.Fatalf("Len %d, want %d", m.Len(), senders*perSender)
	}
	mpApplies(t, p, state, m.Txs())
}

// TestMempoolRandomOps adds random transactions, some invalid, to a small
// pool that must evict, mines blocks from it and takes them back, and
// checks after every step what the pool promises: Txs applies to the tip,
// each sender's nonces run on from the tip without a gap, the limits hold,
// Select keeps its rule (SelectMatches) and applies, a block leaves
// nothing behind it included and loses nothing else, and undoing the
// block restores the pool.
//
// Senders pay each other, so transactions spend pending credits, and some
// nonces come early and wait in the queue: several seeds.
func TestMempoolRandomOps(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { testMempoolRandomOps(t, seed) })
	}
}

func testMempoolRandomOps(t *testing.T, seed uint64) {
	p := chain.RegTest()
	rng := rand.New(rand.NewPCG(1+seed, 2))
	keys := make([]mpKey, 5)
	var tip chain.AccountReader
	genesis := mpState{}
	for i := range keys {
		keys[i] = newMPKey(byte(20 + i))
		genesis[keys[i].addr] = chain.Account{Balance: 200}
	}
	tip = genesis
	const maxTxs = 12
	// Each block moves the clock on by a half-life of the rolling
	// minimum, so that evictions' minimums fall again as on a node.
	now := time.Unix(1_800_000_000, 0)
	m := chain.NewMempool(p, chain.WithMaxTxs(maxTxs), chain.WithMempoolClock(func() time.Time { return now }))
	height := uint64(0)
	outcomes := map[string]int{}

	check := func(step int) {
		t.Helper()
		txs := m.Txs()
		mpApplies(t, p, tip, txs)
		bytes := 0
		for _, tx := range txs {
			bytes += tx.EncodedSize()
		}
		if len(txs) != m.Len() || m.Len() > maxTxs || bytes != m.Bytes() {
			t.Fatalf("step %d: Txs %d, Len %d, Bytes %d (sum %d)", step, len(txs), m.Len(), m.Bytes(), bytes)
		}
		if err := chain.PackagesMatch(m); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for _, k := range keys {
			acct, _ := tip.Account(k.addr)
			for i, tx := range m.Pending(k.addr) {
				if tx.Nonce != acct.Nonce+uint64(i) {
					t.Fatalf("step %d: pending %d of %s has nonce %d, want %d", step, i, k.addr, tx.Nonce, acct.Nonce+uint64(i))
				}
			}
		}
		n, room := rng.IntN(len(txs)+1), rng.IntN(bytes+1)
		mpApplies(t, p, tip, m.Select(n, room))
		for _, lim := range [][2]int{{n, chain.MaxBlockSize}, {len(txs), room}, {n, room}} {
			if err := chain.SelectMatches(m, lim[0], lim[1]); err != nil {
				t.Fatalf("step %d: Select(%d, %d): %v", step, lim[0], lim[1], err)
			}
		}
	}

	for step := range 400 {
		switch r := rng.IntN(10); {
		case r < 8: // a transaction, valid or not
			k := keys[rng.IntN(len(keys))]
			acct, _ := tip.Account(k.addr)
			nonce := acct.Nonce + uint64(len(m.Pending(k.addr)))
			if rng.IntN(5) == 0 {
				nonce = uint64(rng.IntN(int(nonce) + 3))
			}
			tx := k.tx(p, keys[rng.IntN(len(keys))].addr, uint64(1+rng.IntN(60)), uint64(rng.IntN(10)), nonce)
			before := m.Len()
			err := m.Add(tx, tip)
			switch {
			case err == nil:
				outcomes["accepted"]++
				if !m.Has(tx.ID()) {
					t.Fatalf("step %d: accepted but not held", step)
				}
				if m.Len() == before {
					outcomes["accepted by eviction"]++
				}
			case errors.Is(err, chain.ErrMempoolFull), errors.Is(err, chain.ErrBadNonce), errors.Is(err, chain.ErrInsufficientFunds),
				errors.Is(err, chain.ErrFeeTooLow): // under the rolling minimum after an eviction
				if errors.Is(err, chain.ErrTxQueued) {
					outcomes["queued"]++
				} else if errors.Is(err, chain.ErrFeeTooLow) {
					outcomes["under the rolling minimum"]++
				} else if c := chain.CodeOf(err); c != 0 {
					outcomes[c.String()]++
				} else {
					outcomes["full"]++
				}
				if m.Len() != before {
					t.Fatalf("step %d: refused (%v) but Len went %d -> %d", step, err, before, m.Len())
				}
			default:
				t.Fatalf("step %d: unexpected error %v", step, err)
			}
		default: // mine a block from the pool, then maybe take it back
			now = now.Add(chain.RollingHalfLife)
			beforeTxs, queuedBefore := m.Txs(), m.Queued()
			included := m.Select(1+rng.IntN(4), chain.MaxBlockSize)
			height++
			blk := mpBlock(p, height, keys[rng.IntN(len(keys))].addr, included...)
			parent := tip
			tip = mpConnect(t, p, parent, blk)
			m.Reorg(nil, []*chain.Block{blk}, tip)
			check(step)
			// The block frees room: queued transactions that follow on
			// may move in, and no more than left the queue.
			left, promoted := len(beforeTxs)-len(included), queuedBefore-m.Queued()
			if m.Len() < left || m.Len() > left+max(promoted, 0) {
				t.Fatalf("step %d: block of %d from %d left %d (%d queued before, %d after)", step, len(included), len(beforeTxs), m.Len(), queuedBefore, m.Queued())
			}
			movedIn := m.Len() > left
			for _, tx := range included {
				if m.Has(tx.ID()) {
					t.Fatalf("step %d: included transaction still pending", step)
				}
			}
			// Undoing the block gives the pool back as it was, unless
			// queued transactions moved into the room the block made:
			// then the pool's limit decides what stays.
			if rng.IntN(2) == 0 && !movedIn {
				tip, height = parent, height-1
				m.Reorg([]*chain.Block{blk}, nil, tip)
				after := m.Txs()
				if len(after) != len(beforeTxs) {
					t.Fatalf("step %d: undoing the block: %d pending, want %d", step, len(after), len(beforeTxs))
				}
				for _, tx := range beforeTxs {
					if !m.Has(tx.ID()) {
						t.Fatalf("step %d: undoing the block lost %s/%d", step, tx.Sender, tx.Nonce)
					}
				}
			}
		}
		check(step)
	}
	t.Logf("Add outcomes: %v; final height %d", outcomes, height)
}

// mpSigned returns senders*perSender signed transfers, nonce-major (every
// sender's nonce 0, then every nonce 1, ...), with spread fees, and a
// state that funds them all.
func mpSigned(p *chain.Params, senders, perSender int) ([]*chain.Transaction, mpState) {
	state := mpState{}
	keys := make([]mpKey, senders)
	for i := range keys {
		var seed [ed25519.SeedSize]byte
		seed[0], seed[1] = byte(i), byte(i>>8)
		k := ed25519.NewKeyFromSeed(seed[:])
		keys[i] = mpKey{key: k, addr: chain.AddressFromPublicKey(k.Public().(ed25519.PublicKey))}
		state[keys[i].addr] = chain.Account{Balance: 1 << 40}
	}
	txs := make([]*chain.Transaction, 0, senders*perSender)
	for n := range perSender {
		for i, k := range keys {
			fee := uint64((i*7919+n*104729)%1000 + 1)
			txs = append(txs, k.tx(p, keys[(i+1)%senders].addr, 1000, fee, uint64(n)))
		}
	}
	return txs, state
}

// BenchmarkMempoolAdd adds signed transactions, signature check included,
// to a pool refilled from empty every 4,096.
func BenchmarkMempoolAdd(b *testing.B) {
	p := chain.RegTest()
	txs, state := mpSigned(p, 256, 16)
	m := chain.NewMempool(p)
	i := 0
	for b.Loop() {
		if i == len(txs) {
			b.StopTimer()
			m, i = chain.NewMempool(p), 0
			b.StartTimer()
		}
		if err := m.Add(txs[i], state); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSelect picks a block template from a full pool of 10,000
// transactions of 1,000 senders, and the whole pool in order.
func BenchmarkSelect(b *testing.B) {
	p := chain.RegTest()
	txs, state := mpSigned(p, 1000, 10)
	m := chain.NewMempool(p)
	mpMustAdd(b, m, state, txs...)
	b.Run("block", func(b *testing.B) {
		for b.Loop() {
			if got := m.Select(chain.MaxBlockTxs-1, chain.MaxBlockSize); len(got) == 0 {
				b.Fatal("empty template")
			}
		}
	})
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if got := m.Txs(); len(got) != len(txs) {
				b.Fatalf("Txs: %d, want %d", len(got), len(txs))
			}
		}
	})
	// Chains of 64 whose fees fall (every transaction a chunk of its
	// own) or rise (every chain one chunk): the chunking's two ends.
	for _, shape := range []struct {
		name string
		fee  func(sender, n int) uint64
	}{
		{"falling", func(i, n int) uint64 { return uint64(1000 - 10*n + i%7) }},
		{"rising", func(i, n int) uint64 { return uint64(100 + 10*n + i%7) }},
	} {
		txs, state := mpChains(p, 150, 64, shape.fee)
		m := chain.NewMempool(p, chain.WithMaxPerSender(64))
		mpMustAdd(b, m, state, txs...)
		b.Run(shape.name, func(b *testing.B) {
			for b.Loop() {
				if got := m.Select(chain.MaxBlockTxs-1, chain.MaxBlockSize); len(got) == 0 {
					b.Fatal("empty template")
				}
			}
		})
	}
}

// mpChains returns senders chains of perSender signed transfers, sender
// i's nonce n paying fee(i, n), and a state that funds them all.
func mpChains(p *chain.Params, senders, perSender int, fee func(sender, n int) uint64) ([]*chain.Transaction, mpState) {
	state := mpState{}
	var txs []*chain.Transaction
	for i := range senders {
		k := mpKeyN(1000 + i)
		state[k.addr] = chain.Account{Balance: 1 << 40}
		for n := range perSender {
			txs = append(txs, k.tx(p, mpKeyN(i).addr, 1000, fee(i, n), uint64(n)))
		}
	}
	return txs, state
}

// BenchmarkMempoolReorg re-validates a pool of 10,000 against an unchanged
// tip: the work every new block costs besides removing what it includes.
func BenchmarkMempoolReorg(b *testing.B) {
	p := chain.RegTest()
	txs, state := mpSigned(p, 1000, 10)
	m := chain.NewMempool(p)
	mpMustAdd(b, m, state, txs...)
	for b.Loop() {
		m.Reorg(nil, nil, state)
	}
	if m.Len() != len(txs) {
		b.Fatalf("Len %d, want %d", m.Len(), len(txs))
	}
}
