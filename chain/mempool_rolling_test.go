package chain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// TestMempoolRollingMinimum: a full pool that evicts a package takes no
// newcomer paying less than the package's mean until the minimum
// decays. Before it, one transaction that beat a chain's mean freed the
// whole chain's places, and the cheapest transactions around took them
// back at once (a review's case: 64 transfers paying 10 to 73 gave way to
// one paying 42, then to 63 paying 1 each). Here bob's first transfer,
// paying 1, holds one place and alice's 63, paying 10 to 72 (2,583 in
// all, mean 41), the others. The minimum does not fall before a block
// comes; after one it halves every half-life, faster while the pool is
// emptier, and it is dropped below one coin.
func TestMempoolRollingMinimum(t *testing.T) {
	p := chain.RegTest()
	alice, bob, carol := newMPKey(61), newMPKey(62), newMPKey(63)
	state := mpState{alice.addr: {Balance: 1 << 20}, bob.addr: {Balance: 1 << 20}, carol.addr: {Balance: 1 << 20}}
	now := time.Unix(1_800_000_000, 0)
	m := chain.NewMempool(p, chain.WithMaxTxs(64), chain.WithMempoolClock(func() time.Time { return now }))
	b0 := bob.tx(p, carol.addr, 1, 1, 0)
	mpMustAdd(t, m, state, b0)
	for n := range uint64(63) {
		mpMustAdd(t, m, state, alice.tx(p, carol.addr, 1, 10+n, n))
	}
	if got := m.RollingMinFee(); got != 0 {
		t.Fatalf("rolling minimum %d before any eviction, want 0", got)
	}
	// Alice's mean is 2,583/63 = 41; bob's own first is spared.
	mpMustAdd(t, m, state, bob.tx(p, carol.addr, 1, 42, 1))
	if m.Len() != 2 {
		t.Fatalf("after bob's second transaction %d pending, want alice's 63 evicted", m.Len())
	}
	if got := m.RollingMinFee(); got != 42 {
		t.Fatalf("rolling minimum %d after evicting a package of mean 41, want 42", got)
	}
	err := m.Add(carol.tx(p, bob.addr, 1, 41, 0), state)
	if !errors.Is(err, chain.ErrFeeTooLow) || errors.Is(err, chain.ErrFeeBelowFloor) || !strings.Contains(err.Error(), "minimum of 42") {
		t.Fatalf("fee 41 under a minimum of 42: %v, want ErrFeeTooLow alone (policy) naming the minimum", err)
	}
	if size := alice.tx(p, carol.addr, 1, 1, 0).EncodedSize(); m.MinFeeNow(size) != 42 {
		t.Fatalf("MinFeeNow %d, want the rolling minimum 42", m.MinFeeNow(size))
	}
	mpMustAdd(t, m, state, carol.tx(p, bob.addr, 1, 42, 0))
	// The node's client submitting a held transaction again has it
	// adopted as its own, whatever the minimum since it came.
	if err := m.AddLocal(b0, state); !errors.Is(err, chain.ErrTxInPool) || !m.IsLocal(b0.ID()) {
		t.Fatalf("bob's first (fee 1) submitted by the client: %v, local %v; want ErrTxInPool and adopted", err, m.IsLocal(b0.ID()))
	}

	now = now.Add(time.Hour)
	if got := m.RollingMinFee(); got != 42 {
		t.Fatalf("rolling minimum %d an hour later with no block, want 42 still", got)
	}
	blk := mpBlock(p, 1, bob.addr)
	tip := mpConnect(t, p, state, blk)
	m.Reorg(nil, []*chain.Block{blk}, tip)
	// Three of 64 places taken: under a quarter full, a quarter of the
	// half-life halves it.
	now = now.Add(chain.RollingHalfLife / 4)
	if got := m.RollingMinFee(); got != 21 {
		t.Fatalf("rolling minimum %d a quarter half-life after a block, the pool nearly empty, want 21", got)
	}
	now = now.Add(2 * chain.RollingHalfLife)
	if got := m.RollingMinFee(); got != 0 {
		t.Fatalf("rolling minimum %d after eight more halvings, want it dropped", got)
	}
	mpMustAdd(t, m, tip, carol.tx(p, bob.addr, 1, 1, 1))
}

// TestMempoolRollingMinimumOpenNet: fees on the open network are not
// backed by balances, so evictions raise no minimum there.
func TestMempoolRollingMinimumOpenNet(t *testing.T) {
	m := chain.NewMempool(chain.OpenNet(), chain.WithMaxTxs(1))
	mpMustAdd(t, m, mpState{}, mpOpenTx("a", "b", 1, 1, 0))
	mpMustAdd(t, m, mpState{}, mpOpenTx("c", "d", 1, 50, 0))
	if got := m.RollingMinFee(); got != 0 {
		t.Fatalf("rolling minimum %d on the open network, want 0", got)
	}
}

// TestMempoolRollingMinimumNotFromReorg: a reorganisation that returns
// more than fits evicts, but raises no minimum: nobody paid to displace
// what it evicts.
func TestMempoolRollingMinimumNotFromReorg(t *testing.T) {
	p := chain.RegTest()
	alice, bob, carol, dave := newMPKey(71), newMPKey(72), newMPKey(73), newMPKey(74)
	state := mpState{alice.addr: {Balance: 1000}, bob.addr: {Balance: 1000}, carol.addr: {Balance: 1000}, dave.addr: {Balance: 1000}}
	m := chain.NewMempool(p, chain.WithMaxTxs(2))
	mpMustAdd(t, m, state, alice.tx(p, dave.addr, 1, 5, 0), bob.tx(p, dave.addr, 1, 6, 0))
	blk := mpBlock(p, 1, dave.addr, m.Select(2, chain.MaxBlockSize)...)
	m.Reorg(nil, []*chain.Block{blk}, mpConnect(t, p, state, blk))
	mpMustAdd(t, m, mpConnect(t, p, state, blk), carol.tx(p, dave.addr, 1, 7, 0), dave.tx(p, carol.addr, 1, 8, 0))
	m.Reorg([]*chain.Block{blk}, nil, state) // four back for two places
	if m.Len() != 2 {
		t.Fatalf("after the reorganisation %d pending, want the pool's 2", m.Len())
	}
	if got := m.RollingMinFee(); got != 0 {
		t.Fatalf("rolling minimum %d after a reorganisation's evictions, want 0", got)
	}
}

// TestMempoolRollingMinimumReadsDoNotMatter: the rolling minimum decays at
// the rate each stretch of time's fill sets, however often it is read:
// two pools given the same transactions and blocks agree, one read after
// every step and one only at the end. Here it halves over a half-life
// while the pool is over half full, over a quarter of one once a block
// emptied it, and over a whole one once it is full again (42 → 21 →
// 10.5 → 5.25, 6 in whole coins). Read only at the end, it had taken the
// last fill for the whole time since it was last read.
func TestMempoolRollingMinimumReadsDoNotMatter(t *testing.T) {
	p := chain.RegTest()
	alice, bob, carol := newMPKey(61), newMPKey(62), newMPKey(63)
	daves := []mpKey{newMPKey(64), newMPKey(65), newMPKey(66), newMPKey(67)}
	state := mpState{alice.addr: {Balance: 1 << 20}, bob.addr: {Balance: 1 << 20}, carol.addr: {Balance: 1 << 20}}
	for _, d := range daves {
		state[d.addr] = chain.Account{Balance: 1 << 20}
	}
	run := func(readEveryStep bool) uint64 {
		now := time.Unix(1_800_000_000, 0)
		m := chain.NewMempool(p, chain.WithMaxTxs(64), chain.WithMempoolClock(func() time.Time { return now }))
		read := func() {
			if readEveryStep {
				m.RollingMinFee()
			}
		}
		mpMustAdd(t, m, state, bob.tx(p, carol.addr, 1, 1, 0))
		for n := range uint64(63) {
			mpMustAdd(t, m, state, alice.tx(p, carol.addr, 1, 10+n, n))
		}
		mpMustAdd(t, m, state, bob.tx(p, carol.addr, 1, 42, 1)) // evicts alice's 63: minimum 42
		read()
		var tip chain.AccountReader = state
		mine := func(height uint64, txs ...*chain.Transaction) {
			blk := mpBlock(p, height, bob.addr, txs...)
			tip = mpConnect(t, p, tip, blk)
			m.Reorg(nil, []*chain.Block{blk}, tip)
		}
		mine(1) // the decay starts
		var fill []*chain.Transaction
		for _, d := range daves {
			for n := range uint64(10) {
				tx := d.tx(p, carol.addr, 1, 50, n)
				mpMustAdd(t, m, tip, tx)
				fill = append(fill, tx)
			}
		}
		read()
		now = now.Add(chain.RollingHalfLife) // 42 of 64 places held
		read()
		mine(2, fill...) // 2 of 64 left
		read()
		now = now.Add(chain.RollingHalfLife / 4)
		read()
		for _, d := range daves {
			for n := range uint64(10) {
				mpMustAdd(t, m, tip, d.tx(p, carol.addr, 1, 50, 10+n))
			}
		}
		read()
		now = now.Add(chain.RollingHalfLife) // 42 of 64 places held again
		return m.RollingMinFee()
	}
	often, once := run(true), run(false)
	if often != 6 || once != 6 {
		t.Fatalf("rolling minimum %d read after every step, %d read once at the end; want 6 both", often, once)
	}
}
