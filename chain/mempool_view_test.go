package chain_test

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// mpCountingState is an mpState that counts its reads by address.
type mpCountingState struct {
	mpState
	mu    sync.Mutex
	reads map[string]int
}

func (s *mpCountingState) Account(addr string) (chain.Account, error) {
	s.mu.Lock()
	s.reads[addr]++
	s.mu.Unlock()
	return s.mpState.Account(addr)
}

func (s *mpCountingState) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.reads {
		n += c
	}
	return n
}

// TestMempoolAdmissionReadsFewAccounts: admitting a sender's next
// transaction reads the sender and the new recipient from the state, not
// the recipient of every transaction it already has pending (each a
// store read on a node).
func TestMempoolAdmissionReadsFewAccounts(t *testing.T) {
	p := chain.RegTest()
	alice := newMPKey(1)
	for _, pending := range []int{0, 1, 10, 40} {
		st := &mpCountingState{mpState: mpState{alice.addr: {Balance: 1_000_000}}, reads: map[string]int{}}
		m := chain.NewMempool(p)
		for n := range pending {
			mpMustAdd(t, m, st, alice.tx(p, newMPKey(byte(10+n)).addr, 1, 1, uint64(n)))
		}
		before := st.total()
		mpMustAdd(t, m, st, alice.tx(p, newMPKey(200).addr, 1, 1, uint64(pending)))
		if got := st.total() - before; got > 2 {
			t.Errorf("%d pending: admission read %d accounts (%v), want at most 2", pending, got, st.reads)
		}
	}
}

// TestMempoolPendingCreditsStillCount: what a sender's pending
// transactions pay a recipient counts when its next one pays the same
// recipient (an overflow is still refused), and a sender paying itself
// keeps its own balance.
func TestMempoolPendingCreditsStillCount(t *testing.T) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	tests := []struct {
		name    string
		base    mpState
		pending []*chain.Transaction
		next    *chain.Transaction
		want    error
	}{
		{
			name:    "pending credit pushes the recipient over",
			base:    mpState{alice.addr: {Balance: 1000}, bob.addr: {Balance: math.MaxInt64 - 150}},
			pending: []*chain.Transaction{alice.tx(p, bob.addr, 100, 1, 0)},
			next:    alice.tx(p, bob.addr, 100, 1, 1),
			want:    chain.ErrBalanceOverflow,
		},
		{
			name:    "the same transfer without the pending one fits",
			base:    mpState{alice.addr: {Balance: 1000}, bob.addr: {Balance: math.MaxInt64 - 150}},
			pending: []*chain.Transaction{alice.tx(p, newMPKey(3).addr, 100, 1, 0)},
			next:    alice.tx(p, bob.addr, 100, 1, 1),
		},
		{
			name:    "paying itself keeps the balance",
			base:    mpState{alice.addr: {Balance: 102}},
			pending: []*chain.Transaction{alice.tx(p, alice.addr, 100, 1, 0)},
			next:    alice.tx(p, bob.addr, 100, 1, 1),
		},
		{
			name:    "the pending spend is counted",
			base:    mpState{alice.addr: {Balance: 150}},
			pending: []*chain.Transaction{alice.tx(p, bob.addr, 100, 1, 0)},
			next:    alice.tx(p, bob.addr, 100, 1, 1),
			want:    chain.ErrInsufficientFunds,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := chain.NewMempool(p)
			mpMustAdd(t, m, tc.base, tc.pending...)
			err := m.Add(tc.next, tc.base)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Add: %v, want %v", err, tc.want)
			}
			if err == nil {
				mpApplies(t, p, tc.base, m.Txs())
			}
		})
	}
}

// TestMempoolReorgReadsEachAccountOnce: rebuilding the pool after a tip
// change reads each sender and recipient from the state once, however
// many transactions name it.
func TestMempoolReorgReadsEachAccountOnce(t *testing.T) {
	p := chain.RegTest()
	senders := []mpKey{newMPKey(1), newMPKey(2), newMPKey(3)}
	recipients := []string{newMPKey(4).addr, newMPKey(5).addr}
	base := mpState{}
	for _, s := range senders {
		base[s.addr] = chain.Account{Balance: 1_000_000}
	}
	m := chain.NewMempool(p)
	for nonce := range 20 {
		for i, s := range senders {
			mpMustAdd(t, m, base, s.tx(p, recipients[(nonce+i)%len(recipients)], 1, 1, uint64(nonce)))
		}
	}
	st := &mpCountingState{mpState: base, reads: map[string]int{}}
	m.Reorg(nil, nil, st)
	if got := m.Len(); got != 60 {
		t.Fatalf("pool holds %d after the reorg, want 60", got)
	}
	for addr, n := range st.reads {
		if n > 1 {
			t.Errorf("%s read %d times, want once", addr, n)
		}
	}
	if len(st.reads) != len(senders)+len(recipients) {
		t.Errorf("read %d accounts, want %d", len(st.reads), len(senders)+len(recipients))
	}
}
