package chain

import (
	"cmp"
	"errors"
	"maps"
	"slices"
)

// Reorg reconciles the pool with a new tip. Call it after every tip change,
// a plain new block included: disconnected are the blocks that left the
// main chain, newest first; connected those that joined it, oldest first
// (as in Change); state is the ledger at the new tip (node's intake
// calls it once the change is validated, before its commit, with the
// chain's Account reading the write under way).
//
//   - Every transaction included in connected leaves the pool.
//   - Every non-coinbase transaction of disconnected comes back unless
//     connected includes it. It passed sanity inside a valid block, so its
//     signature is not verified again.
//   - The whole pool is then rebuilt against state as Add would admit it:
//     each sender's transactions in nonce order with the ledger's ApplyTx,
//     claiming pending credits of transactions already back in when the
//     sender's balance falls short (see Mempool). A transaction waiting
//     for a credit is tried again once others got in, until a round adds
//     nothing, so a transfer that spent coins received on the abandoned
//     branch comes back with the transfer that paid them, whatever the
//     order of the two. What no longer applies (a nonce spent on the new
//     branch, a balance the new branch spent, a credit whose parent is
//     gone) leaves; the sender's later transactions then wait in the
//     queue for that nonce. Nothing that still applies is lost.
//   - What has been pending longer than the pending TTL leaves, with its
//     descendants. Returned transactions count as admitted now: a
//     block held them, so they did win once.
//   - The queue is checked again: what expired or whose nonce the tip
//     spent leaves, what now follows on is promoted.
//
// The returned transactions keep their places in the arrival order, and
// those from disconnected come before all others (oldest block first, in
// block order), since they were sent earlier. If the returned ones take the
// pool over its limits, peers' packages go as in Add, the lowest mean
// fee first; local ones (AddLocal) never do, so the pool may stay
// over its limits by local transactions until blocks take them (Add
// refuses newcomers meanwhile). A returned
// transaction counts as a peer's, unless it was this node's own (local)
// when its block took it out of the pool (minedLocal): then it is local
// again, so the node whose client submitted it keeps it before its
// peers' transactions, as it did before the block.
//
// A transaction whose check fails for a reason other than a rule (the
// state could not be read) is kept, with its sender's later ones: a store
// hiccup must not lose transactions, and the template builder checks
// every transaction again anyway.
func (m *Mempool) Reorg(disconnected, connected []*Block, state AccountReader) {
	m.reorg(disconnected, connected, nil, state)
}

// ReorgChange is Reorg for a change the chain made, with the ids of the
// connected blocks' transactions the chain hashed to check them
// (Change.connectedIDs): the transactions of a gossiped block are hashed
// once on its way through the node, not again here.
func (m *Mempool) ReorgChange(ch *Change, state AccountReader) {
	m.reorg(ch.Disconnected, ch.Connected, ch, state)
}

// reorg is Reorg, with the connected blocks' ids taken from ch where it
// has them (ch may be nil).
func (m *Mempool) reorg(disconnected, connected []*Block, ch *Change, state AccountReader) {
	n := 0
	for _, b := range connected {
		n += len(b.Transactions)
	}
	included := make(map[Hash]struct{}, n)
	for _, b := range connected {
		var ids []Hash
		if ch != nil {
			ids = ch.connectedIDs(b)
		}
		for i, tx := range b.Transactions {
			if ids != nil {
				included[ids[i]] = struct{}{}
			} else {
				included[tx.ID()] = struct{}{}
			}
		}
	}
	var back []*poolEntry
	seen := make(map[Hash]struct{})
	now := m.now()
	for _, b := range slices.Backward(disconnected) {
		for _, tx := range b.Transactions {
			if tx.IsCoinbase() {
				continue
			}
			id := tx.ID()
			if _, ok := included[id]; ok {
				continue
			}
			if _, ok := seen[id]; ok {
				continue
			}
			seen[id] = struct{}{}
			back = append(back, &poolEntry{tx: tx, id: id, size: tx.EncodedSize(), at: now})
		}
	}

	// Rebuilding the pool reads each sender several times and each
	// recipient once per transaction paying it, every read a store read
	// transaction on a node: thousands at every block under load. The
	// state does not change during the call, so read each account once.
	state = &onceReader{base: state, read: make(map[string]Account)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(connected) > 0 {
		m.blockCame()
	}
	for _, e := range back {
		old, held := m.byID[e.id]
		e.local = m.minedLocal.take(e.id) || held && old.local
	}
	stay := make([]*poolEntry, 0, len(m.byID))
	for id, e := range m.byID {
		_, inBlock := included[id]
		_, returned := seen[id]
		switch {
		case inBlock && e.local:
			m.minedLocal.remember(id, m.maxTxs)
		case !inBlock && !returned:
			stay = append(stay, e)
		}
	}
	slices.SortFunc(stay, func(a, b *poolEntry) int { return cmp.Compare(a.arrival, b.arrival) })

	// Number everything again from zero: the returned ones first, then the
	// others in their old order. Credits are claimed afresh.
	all := append(back, stay...)
	for i, e := range all {
		e.arrival = uint64(i)
		e.heapIdx = -1
		e.parents, e.child = nil, nil
	}
	m.nextArrival = uint64(len(all))
	m.reset()

	if !m.p.Signed {
		for _, e := range all {
			m.insert(e)
		}
	} else {
		m.revalidate(all, state)
	}
	m.shrink()
	m.expirePending(true)
	if m.p.Signed {
		m.recheckQueued(state)
	}
}

// senderWork is one sender's transactions still to place in revalidate,
// and the view of state they apply to.
type senderWork struct {
	v *StateView
	q []*poolEntry
}

// revalidate inserts the entries that apply to state, each sender's in
// nonce order (arrival order among equal nonces, so the first of two
// conflicting transactions wins). Senders are taken in arrival order of
// their first entry; a sender whose next transaction needs a credit not
// in the pool yet waits until a transaction paying it gets in, and is
// then taken again, so the work is bounded by the entries and the credits
// between them, however the dependencies run. m.mu is held and the pool
// is empty.
func (m *Mempool) revalidate(entries []*poolEntry, state AccountReader) {
	index := make(map[string]int)
	var todo []*senderWork
	for _, e := range entries {
		i, ok := index[e.tx.Sender]
		if !ok {
			i = len(todo)
			index[e.tx.Sender] = i
			todo = append(todo, &senderWork{v: NewStateView(m.p, state)})
		}
		todo[i].q = append(todo[i].q, e)
	}
	for _, w := range todo {
		slices.SortFunc(w.q, func(a, b *poolEntry) int {
			return cmp.Or(cmp.Compare(a.tx.Nonce, b.tx.Nonce), cmp.Compare(a.arrival, b.arrival))
		})
	}
	blocked := make(map[string]*senderWork) // waiting for a credit, by sender
	wake := func(addr string) {
		if len(blocked) == 0 {
			return
		}
		if w, ok := blocked[addr]; ok {
			delete(blocked, addr)
			todo = append(todo, w)
		}
	}
	for len(todo) > 0 {
		w := todo[0]
		todo = todo[1:]
		m.place(w, wake)
		if len(w.q) > 0 {
			blocked[w.q[0].tx.Sender] = w
		}
	}
	// What still waits for a credit will not get one: drop it, and queue
	// its sender's later transactions for its nonce. In arrival order of
	// the dropped ones, so the queue's choices do not depend on map order.
	rest := slices.Collect(maps.Values(blocked))
	slices.SortFunc(rest, func(a, b *senderWork) int { return cmp.Compare(a.q[0].arrival, b.q[0].arrival) })
	for _, w := range rest {
		acct, err := w.v.Account(w.q[0].tx.Sender)
		if err != nil {
			continue
		}
		for _, e := range w.q[1:] {
			if e.tx.Nonce > acct.Nonce {
				_ = m.hold(e, acct.Nonce, acct.Balance) // refused or queued: either way it is settled
			}
		}
	}
}

// place inserts w's transactions while they apply, calling wake with the
// recipient of each. It stops at one that needs a credit the pool does
// not hold yet, leaving it first in w.q; everything else leaves w.q.
// m.mu is held.
func (m *Mempool) place(w *senderWork, wake func(recipient string)) {
	for len(w.q) > 0 {
		e := w.q[0]
		acct, err := w.v.Account(e.tx.Sender)
		if err != nil {
			m.keep(w)
			return
		}
		switch {
		case e.tx.Nonce < acct.Nonce: // spent, or a conflicting one got in first
			w.q = w.q[1:]
			continue
		case e.tx.Nonce > acct.Nonce: // a gap: the rest waits in the queue
			for _, rest := range w.q {
				_ = m.hold(rest, acct.Nonce, acct.Balance) // refused or queued: either way it is settled
			}
			w.q = nil
			return
		}
		parents, err := m.admit(w.v, e.tx)
		switch {
		case err == nil:
			e.parents = parents
			m.insert(e)
			w.q = w.q[1:]
			wake(e.tx.Recipient)
		case CodeOf(err) == 0:
			m.keep(w)
			return
		case errors.Is(err, ErrInsufficientFunds):
			return // until a credit comes in
		default:
			w.q = w.q[1:]
		}
	}
}

// keep inserts what is left of w unchecked: the state could not be read.
// m.mu is held.
func (m *Mempool) keep(w *senderWork) {
	for _, e := range w.q {
		m.insert(e)
	}
	w.q = nil
}

// onceReader reads each account of base once and answers again from
// memory; a failed read is not kept, so the next one tries again.
type onceReader struct {
	base AccountReader
	read map[string]Account
}

// Account implements AccountReader.
func (r *onceReader) Account(addr string) (Account, error) {
	if a, ok := r.read[addr]; ok {
		return a, nil
	}
	a, err := r.base.Account(addr)
	if err == nil {
		r.read[addr] = a
	}
	return a, err
}
