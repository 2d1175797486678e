package chain_test

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// TestMempoolCreditSums: the pool keeps, per address, what the pending
// credits to it add up to (all of them, and those no child claimed), so
// that admitting a sender short of funds and Hopeless need not add them
// up one by one. Over random sequences of transfers among six keys
// (credits, claims, evictions in a tight pool, blocks, and blocks taken
// back), the kept sums always equal the sums added up, and each sender's
// claimed credits, derived from them, what its transactions' parents add
// up to.
func TestMempoolCreditSums(t *testing.T) {
	p := chain.RegTest()
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 13))
		keys := make([]mpKey, 6)
		base := mpState{}
		for i := range keys {
			keys[i] = newMPKey(byte(100 + i))
			base[keys[i].addr] = chain.Account{Balance: int64(r.IntN(200))}
		}
		// Each block moves the clock on by a half-life of the rolling
		// minimum, so that evictions go on through the run.
		now := time.Unix(1_800_000_000, 0)
		m := chain.NewMempool(p, chain.WithMaxTxs(9), chain.WithMaxPerSender(5), chain.WithMempoolClock(func() time.Time { return now }))
		states := []chain.AccountReader{base}
		var blocks []*chain.Block
		state := func() chain.AccountReader { return states[len(states)-1] }
		for step := range 200 {
			var op string
			switch x := r.IntN(10); {
			case x < 7:
				k := keys[r.IntN(len(keys))]
				a, _ := state().Account(k.addr)
				nonce := a.Nonce + uint64(len(m.Pending(k.addr)))
				tx := k.tx(p, keys[r.IntN(len(keys))].addr, uint64(r.IntN(80)), uint64(1+r.IntN(20)), nonce)
				op = "add"
				if r.IntN(4) == 0 {
					op = "add local"
					_ = m.AddLocal(tx, state())
				} else {
					_ = m.Add(tx, state())
				}
			case x < 9:
				b := mpBlock(p, uint64(len(blocks)+1), keys[0].addr, m.Select(1+r.IntN(4), 1<<20)...)
				ns := mpConnect(t, p, state(), b)
				states, blocks = append(states, ns), append(blocks, b)
				now = now.Add(chain.RollingHalfLife)
				m.Reorg(nil, []*chain.Block{b}, ns)
				op = "mine"
			default:
				if len(blocks) == 0 {
					continue
				}
				old := blocks[len(blocks)-1]
				blocks, states = blocks[:len(blocks)-1], states[:len(states)-1]
				nb := mpBlock(p, uint64(len(blocks)+1), keys[1].addr)
				ns := mpConnect(t, p, state(), nb)
				states, blocks = append(states, ns), append(blocks, nb)
				m.Reorg([]*chain.Block{old}, []*chain.Block{nb}, ns)
				op = "reorg"
			}
			if err := chain.CreditSumsMatch(m); err != nil {
				t.Fatalf("seed %d, step %d (%s): %v", seed, step, op, err)
			}
			if err := chain.PackagesMatch(m); err != nil {
				t.Fatalf("seed %d, step %d (%s): %v", seed, step, op, err)
			}
			for _, n := range []int{3, m.Len()} {
				if err := chain.SelectMatches(m, n, 1<<20); err != nil {
					t.Fatalf("seed %d, step %d (%s), Select(%d): %v", seed, step, op, n, err)
				}
			}
		}
	}
}

// mpKeyN is a key of its own for each n, past newMPKey's 256.
func mpKeyN(n int) mpKey {
	var s [ed25519.SeedSize]byte
	binary.BigEndian.PutUint32(s[:], uint32(n)+7777)
	k := ed25519.NewKeyFromSeed(s[:])
	return mpKey{key: k, addr: chain.AddressFromPublicKey(k.Public().(ed25519.PublicKey))}
}

// BenchmarkMempoolReorgCreditChain is the pool's rebuild after an empty
// block with a crafted chain of k credits to one sender, B: B's second
// transfer needs all k, each C_i's credit to B waits for C_{i-1}'s
// payment to C_i, and their first transfers came in reverse order, so
// the rebuild tries B again as each of the k credits is placed.
// base=... is a pool as large without the chain.
func BenchmarkMempoolReorgCreditChain(b *testing.B) {
	for _, k := range []int{1000, 3000} {
		b.Run(fmt.Sprintf("credits=%d", k), func(b *testing.B) { benchCreditChain(b, k, true) })
		b.Run(fmt.Sprintf("base=%d", k), func(b *testing.B) { benchCreditChain(b, k, false) })
	}
}

func benchCreditChain(b *testing.B, k int, chained bool) {
	p := chain.RegTest()
	sink, bKey := mpKeyN(0).addr, mpKeyN(1)
	cs := make([]mpKey, k+2)
	state := mpState{bKey.addr: {Balance: 2}}
	for i := 1; i <= k+1; i++ {
		cs[i] = mpKeyN(10 + i)
		state[cs[i].addr] = chain.Account{Balance: 100}
		if chained {
			state[cs[i].addr] = chain.Account{Balance: 2} // a fee and B's 1: C_i waits for C_{i-1}
		}
	}
	var txs []*chain.Transaction
	if chained {
		state[cs[1].addr] = chain.Account{Balance: 2 + int64(4*k+10)}
		txs = append(txs, bKey.tx(p, sink, 1, 1, 0))
		for i := k; i >= 1; i-- {
			txs = append(txs, cs[i].tx(p, sink, 1, 1, 0))
		}
		amt := uint64(4*k + 5)
		for i := 1; i <= k; i++ {
			amt -= 4
			txs = append(txs, cs[i].tx(p, bKey.addr, 1, 1, 1), cs[i].tx(p, cs[i+1].addr, amt, 1, 2))
		}
		txs = append(txs, bKey.tx(p, sink, uint64(k-1), 1, 1))
	} else {
		for i := 1; i <= k; i++ {
			for n := range uint64(3) {
				txs = append(txs, cs[i].tx(p, sink, 1, 1, n))
			}
		}
	}
	m := chain.NewMempool(p, chain.WithMaxTxs(4*k+10), chain.WithMaxBytes(1<<30))
	for _, tx := range txs {
		mpMustAdd(b, m, state, tx)
	}
	want := m.Len()
	blk := mpBlock(p, 1, sink)
	after := mpConnect(b, p, state, blk)
	b.ResetTimer()
	for range b.N {
		m.Reorg(nil, []*chain.Block{blk}, after)
		b.StopTimer()
		m.Reorg([]*chain.Block{blk}, nil, state) // back, for the next round
		b.StartTimer()
	}
	b.StopTimer()
	if m.Len() != want {
		b.Fatalf("pool of %d after the rounds, want %d", m.Len(), want)
	}
}
