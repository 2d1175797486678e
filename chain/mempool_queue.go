package chain

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrTxQueued is returned by Mempool.Add for a transaction held in the
// queue: its nonce is ahead of its sender's next, within the queue window,
// and it waits there for the nonces before it (see Mempool). It is not a
// refusal, and it is not a fault of whoever relayed the transaction.
//
// The error also matches ErrBadNonce (a *RuleError): the transaction does
// not apply to the tip yet, so callers that do not know the queue treat it
// as the nonce gap it is for now. Gossip ignores it, so it is not
// forwarded before it is valid; the HTTP API answers that the nonce
// conflicts with the tip.
var ErrTxQueued = errors.New("transaction queued until its sender's earlier nonces arrive")

type queueConfig struct {
	window    uint64
	perSender int
	maxTxs    int
	maxBytes  int
	ttl       time.Duration
}

func defaultQueueConfig() queueConfig {
	return queueConfig{window: defaultQueueWindow, perSender: defaultQueuePerSender, maxTxs: defaultQueueTxs,
		maxBytes: defaultQueueBytes, ttl: defaultQueueTTL}
}

// WithQueueWindow sets how far ahead of its sender's next nonce a
// transaction may be and still be queued (default 16). Zero turns the
// queue off: a nonce gap is refused with ErrBadNonce.
func WithQueueWindow(n uint64) MempoolOption { return func(c *mempoolConfig) { c.queue.window = n } }

// WithMaxQueuedPerSender bounds the queued transactions of one sender
// (default 16).
func WithMaxQueuedPerSender(n int) MempoolOption {
	return func(c *mempoolConfig) { c.queue.perSender = n }
}

// WithMaxQueued bounds the number of queued transactions (default 1,024).
// Zero turns the queue off.
func WithMaxQueued(n int) MempoolOption { return func(c *mempoolConfig) { c.queue.maxTxs = n } }

// WithMaxQueuedBytes bounds the encoded size of queued transactions
// (default 1 MiB).
func WithMaxQueuedBytes(n int) MempoolOption { return func(c *mempoolConfig) { c.queue.maxBytes = n } }

// WithQueueTTL sets how long a transaction may wait in the queue (default
// ten minutes).
func WithQueueTTL(d time.Duration) MempoolOption { return func(c *mempoolConfig) { c.queue.ttl = d } }

// queuedTx is one transaction in the queue.
type queuedTx struct {
	tx   *Transaction
	id   Hash
	size int
	at   time.Time // when it was admitted (queued), for the TTLs
	seq  uint64    // queue order, for eviction without ties
	// local: submitted by this node's client (AddLocal); it stays local
	// when promoted.
	local bool
}

// txQueue is the queue's indexes; Mempool.mu guards it.
type txQueue struct {
	bySender map[string][]*queuedTx // nonce order, no empty slices
	byID     map[Hash]*queuedTx
	bytes    int
	locals   int // how many are local
	nextSeq  uint64
	// oldest is at or before the admission time of every entry: none
	// expires before oldest plus the TTL, so expireQueued, which every
	// hold calls, need not look at them all until then.
	oldest time.Time
}

func (q *txQueue) init() {
	q.bySender = make(map[string][]*queuedTx)
	q.byID = make(map[Hash]*queuedTx)
}

func (q *txQueue) has(id Hash) bool {
	_, ok := q.byID[id]
	return ok
}

func queuedNonceOrder(a *queuedTx, nonce uint64) int { return cmp.Compare(a.tx.Nonce, nonce) }

// add puts t at its nonce's place; the caller checked the nonce is free.
func (q *txQueue) add(t *queuedTx) {
	s := q.bySender[t.tx.Sender]
	i, _ := slices.BinarySearchFunc(s, t.tx.Nonce, queuedNonceOrder)
	q.bySender[t.tx.Sender] = slices.Insert(s, i, t)
	q.byID[t.id] = t
	q.bytes += t.size
	if t.local {
		q.locals++
	}
	if len(q.byID) == 1 || t.at.Before(q.oldest) {
		q.oldest = t.at
	}
}

func (q *txQueue) drop(t *queuedTx) {
	s := q.bySender[t.tx.Sender]
	if i := slices.Index(s, t); i >= 0 {
		s = slices.Delete(s, i, i+1)
	}
	if len(s) == 0 {
		delete(q.bySender, t.tx.Sender)
	} else {
		q.bySender[t.tx.Sender] = s
	}
	delete(q.byID, t.id)
	q.bytes -= t.size
	if t.local {
		q.locals--
	}
}

// victim is what the queue gives up when full: the farthest-ahead
// transaction of some sender, since a sender's nearer nonces are needed
// before it can ever be promoted, and dropping one of them would strand
// the farther ones; and of those, the one queued first, since a gap that
// has lasted longest is the likeliest to be a lost transaction rather
// than one still in flight (gossip reorders by milliseconds). Taking the
// oldest also means a flood of new queued transactions cannot pin the
// queue: each newcomer pushes out what has waited longest. A local
// transaction is never the victim (its node answered its client for
// it); nil when every sender's farthest is local.
func (q *txQueue) victim() *queuedTx {
	var v *queuedTx
	for _, s := range q.bySender {
		if far := s[len(s)-1]; !far.local && (v == nil || far.seq < v.seq) {
			v = far
		}
	}
	return v
}

// hold queues e, whose nonce is ahead of want, its sender's next, or says
// why not. spendable is what the sender could pay now (balance after its
// pending transactions, plus unclaimed pending credits): a transaction its
// sender cannot pay even alone will not become valid by waiting, and the
// check makes filling the queue cost funded accounts. m.mu is held.
func (m *Mempool) hold(e *poolEntry, want uint64, spendable int64) error {
	tx, c := e.tx, m.queueCfg
	gap := tx.Nonce - want
	if c.window == 0 || c.maxTxs <= 0 || gap > c.window {
		return ruleError(ErrBadNonce, "nonce %d leaves a gap, expected %d (sender %s): more than the %d ahead the pool holds",
			tx.Nonce, want, tx.Sender, c.window)
	}
	if cost := int64(tx.Amount + tx.Fee); cost > spendable {
		return ruleError(ErrInsufficientFunds, "overspend: sender %s can pay %d, nonce %d alone needs %d",
			tx.Sender, spendable, tx.Nonce, cost)
	}
	if e.size > c.maxBytes {
		return fmt.Errorf("%w: %d bytes do not fit the %d-byte queue", ErrMempoolFull, e.size, c.maxBytes)
	}
	m.expireQueued()
	if e.local && m.queue.locals+1 > queueLocalShare(c.maxTxs) {
		return fmt.Errorf("%w: this node's own %d queued transactions fill their share of the queue's %d places",
			ErrMempoolFull, m.queue.locals, c.maxTxs)
	}
	s := m.queue.bySender[tx.Sender]
	if i, found := slices.BinarySearchFunc(s, tx.Nonce, queuedNonceOrder); found {
		return ruleError(ErrBadNonce, "nonce %d of %s is already queued by %s", tx.Nonce, tx.Sender, s[i].id.Short())
	}
	var victims []*queuedTx
	if len(s) >= c.perSender {
		// Keep the nearest nonces: they are promoted first. A local
		// one stays whatever its nonce.
		far := s[len(s)-1]
		if tx.Nonce > far.tx.Nonce || far.local {
			return fmt.Errorf("%w: %s has %d queued", ErrSenderLimit, tx.Sender, len(s))
		}
		m.queue.drop(far)
		victims = append(victims, far)
	}
	for len(m.queue.byID)+1 > c.maxTxs || m.queue.bytes+e.size > c.maxBytes {
		v := m.queue.victim()
		if v == nil {
			// Only this node's own are left to give up: refuse e
			// instead, and put back what was dropped for it.
			for _, v := range victims {
				m.queue.add(v)
			}
			return fmt.Errorf("%w: the queue's %d transactions are this node's own", ErrMempoolFull, len(m.queue.byID))
		}
		m.queue.drop(v)
		victims = append(victims, v)
	}
	m.queue.add(&queuedTx{tx: tx, id: e.id, size: e.size, at: e.at, seq: m.queue.nextSeq, local: e.local})
	m.queue.nextSeq++
	return fmt.Errorf("%w: %w", ErrTxQueued, ruleError(ErrBadNonce,
		"nonce %d leaves a gap, expected %d (sender %s); held until the gap fills", tx.Nonce, want, tx.Sender))
}

// expireQueued drops what has waited longer than the TTL. m.mu is held.
func (m *Mempool) expireQueued() {
	if len(m.queue.byID) == 0 {
		return
	}
	now := m.now()
	if now.Sub(m.queue.oldest) < m.queueCfg.ttl {
		return // nothing queued is that old
	}
	var oldest time.Time
	for _, t := range m.queue.byID {
		if now.Sub(t.at) >= m.queueCfg.ttl {
			m.queue.drop(t)
		} else if oldest.IsZero() || t.at.Before(oldest) {
			oldest = t.at
		}
	}
	m.queue.oldest = oldest
}

// promote moves addr's queued transactions that follow on from v (state
// with addr's pending transactions applied) into the pool, in nonce
// order, checking each as Add would. A queued transaction whose nonce is
// now spent, that has expired, or that no longer applies is dropped; a
// gap, the sender's pending limit or a full pool stops the promotion
// (what is left waits on). It reports whether v still says where addr
// stands: not after a transaction v took in found no room in the pool,
// nor after the state could not be read. m.mu is held.
func (m *Mempool) promote(addr string, v *StateView) (viewOK bool) {
	ttl, now := m.queueCfg.ttl, m.now()
	for {
		s := m.queue.bySender[addr]
		if len(s) == 0 {
			return true
		}
		t := s[0]
		acct, err := v.Account(addr)
		if err != nil {
			return false
		}
		if t.tx.Nonce < acct.Nonce || now.Sub(t.at) >= ttl {
			m.queue.drop(t)
			continue
		}
		if t.tx.Nonce > acct.Nonce || len(m.bySender[addr]) >= m.maxPerSender {
			return true
		}
		parents, err := m.admit(v, t.tx)
		if CodeOf(err) == 0 && err != nil {
			return false // the state could not be read: try again later
		}
		if err != nil {
			m.queue.drop(t)
			continue
		}
		e := &poolEntry{tx: t.tx, id: t.id, size: t.size, at: t.at, heapIdx: -1, parents: parents, local: t.local}
		if m.localRoom(e) != nil || m.checkFeeRoom(t.tx) != nil || m.makeRoom(e) != nil {
			// The pool is full of better-paying transactions, or t is
			// the node's own and they fill their share (the rest is
			// peers'): t stays queued for a later try (it was accepted,
			// perhaps with a 202), and v, which now includes t, is
			// spent.
			return false
		}
		m.queue.drop(t)
		e.arrival = m.nextArrival
		m.nextArrival++
		m.insert(e)
	}
}

// recheckQueued reconciles the queue with state after the pool was: what
// expired or whose nonce the tip spent leaves, what now follows on is
// promoted, and what a reorg put beyond the window leaves. m.mu is held.
func (m *Mempool) recheckQueued(state AccountReader) {
	m.expireQueued()
	if len(m.queue.bySender) == 0 {
		return
	}
	// Senders in queue order, so promotions (and what they evict) do not
	// depend on map order.
	senders := make([]string, 0, len(m.queue.bySender))
	for addr := range m.queue.bySender {
		senders = append(senders, addr)
	}
	slices.SortFunc(senders, func(a, b string) int {
		return cmp.Compare(m.queue.bySender[a][0].seq, m.queue.bySender[b][0].seq)
	})
	for _, addr := range senders {
		v, mk, err := m.senderView(addr, state)
		if err != nil {
			continue // keep them: a store hiccup must not lose transactions
		}
		if !m.promote(addr, v) {
			delete(m.tails, addr)
			continue // v no longer says where the sender stands
		}
		m.extendTail(addr, v, mk)
		acct, _ := v.Account(addr)
		for _, t := range slices.Clone(m.queue.bySender[addr]) {
			if t.tx.Nonce-acct.Nonce > m.queueCfg.window {
				m.queue.drop(t)
			}
		}
	}
}

// QueuedTxs returns the queued transactions, each sender's in nonce
// order.
func (m *Mempool) QueuedTxs() []*Transaction {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireQueued()
	var out []*Transaction
	for _, s := range m.queue.bySender {
		for _, t := range s {
			out = append(out, t.tx)
		}
	}
	return out
}

// Queued returns the number of queued transactions: held until their
// sender's earlier nonces arrive, not counted by Len.
func (m *Mempool) Queued() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireQueued()
	return len(m.queue.byID)
}

// QueuedBytes returns the total encoded size of queued transactions.
func (m *Mempool) QueuedBytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireQueued()
	return m.queue.bytes
}
