package chain

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrTxInPool is returned by Mempool.Add for a transaction the pool already
// holds. It means "not now", not a fault: gossip ignores it.
var ErrTxInPool = errors.New("transaction already in the mempool")

// ErrMempoolFull is returned by Mempool.Add when the pool is at its count or
// byte limit and the transaction pays no more than anything it could
// evict. It is this node's limit, not a fault of the sender.
var ErrMempoolFull = errors.New("mempool full")

// ErrTxMined is returned by Mempool.Add, on networks without nonces, for
// a transaction the main chain already holds: the same transfer again
// has the same id and could never be mined.
var ErrTxMined = errors.New("transaction already on the main chain")

// ErrSenderLimit is returned by Mempool.Add when the sender already has
// the most pending transactions one sender may have. Checking a new
// transaction costs time in the sender's pending count, so the cap keeps
// one funded sender from making every admission slow.
var ErrSenderLimit = errors.New("too many pending transactions from this sender")

// Mempool limits by default: the count bounds bookkeeping, the bytes bound
// memory (10,000 transactions of at most MaxTxSize fit well inside them).
const (
	defaultMempoolTxs   = 10_000
	defaultMempoolBytes = 32 << 20
	defaultPerSender    = 64
)

// Mempool holds transactions waiting for a block. Every transaction in it
// is valid on the chain tip it was last reconciled with (by Add, or by
// Reorg after the tip moved) together with its sender's earlier pending
// transactions: on signed networks each sender's pending nonces run on
// from the sender's nonce at the tip without a gap, and their amounts and
// fees together stay within the sender's balance there. Credits from other
// pending transactions are not counted, so any order that keeps each
// sender's nonce order applies to the tip: that is what Select relies on.
//
// On unsigned networks (the teaching chain) there is no nonce or balance
// rule, so the pool only refuses what it already holds.
//
// The pool is bounded by count and encoded bytes. When full, a new
// transaction may evict the lowest-fee transaction that ends its sender's
// nonce chain, so eviction never leaves a gap behind.
//
// One mutex, mu, guards all the state below it. Add verifies signatures
// before taking it, so gossip validators on several goroutines verify in
// parallel; everything else runs under it. Transactions handed to the pool
// or returned by it are shared: nobody may modify them.
type Mempool struct {
	p            *Params
	maxTxs       int
	maxBytes     int
	maxPerSender int
	mined        func(Hash) bool

	mu sync.Mutex
	// byID holds every pending transaction.
	byID map[Hash]*poolEntry
	// bySender holds each sender's pending transactions in nonce order on
	// signed networks, in arrival order on unsigned ones. No empty slices.
	bySender map[string][]*poolEntry
	// evictable is a min-heap, lowest fee first, of what may be evicted:
	// each sender's last pending transaction on signed networks, every
	// transaction on unsigned ones.
	evictable evictHeap
	// bytes is the encoded size of everything in byID.
	bytes int
	// nextArrival numbers accepted transactions in the order they came,
	// breaking fee ties in Select without reading a clock.
	nextArrival uint64
}

// poolEntry is one pending transaction with what the pool computed once.
type poolEntry struct {
	tx      *Transaction
	id      Hash
	size    int
	arrival uint64
	heapIdx int // position in Mempool.evictable, -1 when not there
}

// MempoolOption configures a Mempool.
type MempoolOption func(*mempoolConfig)

type mempoolConfig struct {
	maxTxs       int
	maxBytes     int
	maxPerSender int
	mined        func(Hash) bool
}

// WithMaxTxs bounds the number of pending transactions (default 10,000).
func WithMaxTxs(n int) MempoolOption { return func(c *mempoolConfig) { c.maxTxs = n } }

// WithMaxBytes bounds the total encoded size of pending transactions
// (default 32 MiB).
func WithMaxBytes(n int) MempoolOption { return func(c *mempoolConfig) { c.maxBytes = n } }

// WithMaxPerSender bounds the pending transactions of one sender
// (default 64).
func WithMaxPerSender(n int) MempoolOption { return func(c *mempoolConfig) { c.maxPerSender = n } }

// WithMinedCheck gives the pool a way to ask whether the main chain
// holds a transaction id. On networks without nonces that is the only
// thing that stops a mined transaction from coming back (see ErrTxMined);
// the chain's TxLocation answers it.
func WithMinedCheck(f func(id Hash) bool) MempoolOption {
	return func(c *mempoolConfig) { c.mined = f }
}

// NewMempool returns an empty pool for network p.
func NewMempool(p *Params, opts ...MempoolOption) *Mempool {
	cfg := mempoolConfig{maxTxs: defaultMempoolTxs, maxBytes: defaultMempoolBytes, maxPerSender: defaultPerSender}
	for _, o := range opts {
		o(&cfg)
	}
	m := &Mempool{p: p, maxTxs: cfg.maxTxs, maxBytes: cfg.maxBytes, maxPerSender: cfg.maxPerSender, mined: cfg.mined}
	m.reset()
	return m
}

// The miner takes its block templates from the mempool.
var _ TxSource = (*Mempool)(nil)

// reset empties the pool, keeping its limits.
func (m *Mempool) reset() {
	m.byID = make(map[Hash]*poolEntry)
	m.bySender = make(map[string][]*poolEntry)
	m.evictable = m.evictable[:0]
	m.bytes = 0
}

// Add checks tx and adds it to the pool. state is the ledger at the chain
// tip the pool was last reconciled with (see Reorg). The checks run from
// cheapest to dearest, and the first that fails is returned:
//
//  1. a coinbase never enters the pool (ErrMultipleCoinbases);
//  2. a transaction already pending: ErrTxInPool;
//  3. CheckTxSanity: version, names, amounts, key and signature;
//  4. on networks without nonces, a transaction the main chain already
//     holds (ErrTxMined, with WithMinedCheck);
//  5. the sender's pending count (ErrSenderLimit);
//  6. on signed networks, against state and the sender's pending
//     transactions: the nonce must be the sender's next after them
//     (ErrBadNonce), and the balance left after them must cover amount
//     plus fee (ErrInsufficientFunds);
//  7. room: when the pool is full, tx evicts lower-fee transactions that
//     end their senders' nonce chains, or is refused with ErrMempoolFull.
//
// Rule failures are *RuleError (branch with errors.Is on the codes);
// ErrTxInPool, ErrTxMined, ErrSenderLimit and ErrMempoolFull are plain
// sentinels for "not now"; a failure to read state is returned wrapped,
// and is this node's fault.
func (m *Mempool) Add(tx *Transaction, state AccountReader) error {
	return m.add(tx, state, false)
}

// AddVerified is Add for a transaction that has already passed
// CheckTxSanity on this network: the caller checked it before taking a
// lock of its own, so the signature is not verified twice under it.
func (m *Mempool) AddVerified(tx *Transaction, state AccountReader) error {
	return m.add(tx, state, true)
}

func (m *Mempool) add(tx *Transaction, state AccountReader, verified bool) error {
	if tx.IsCoinbase() {
		return ruleError(ErrMultipleCoinbases, "a coinbase cannot enter the mempool; only a block's first transaction may be one")
	}
	id := tx.ID()
	if m.Has(id) {
		return fmt.Errorf("%w: %s", ErrTxInPool, id.Short())
	}
	// Signature verification is the dearest check by far: run it outside
	// the lock, then look for a duplicate again under it.
	if !verified {
		if err := CheckTxSanity(m.p, tx); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[id]; ok {
		return fmt.Errorf("%w: %s", ErrTxInPool, id.Short())
	}
	if !m.p.Signed && m.mined != nil && m.mined(id) {
		return fmt.Errorf("%w: %s", ErrTxMined, id.Short())
	}
	if n := len(m.bySender[tx.Sender]); n >= m.maxPerSender {
		return fmt.Errorf("%w: %s has %d", ErrSenderLimit, tx.Sender, n)
	}
	if m.p.Signed {
		if err := m.checkAgainstState(tx, state); err != nil {
			return err
		}
	}
	e := &poolEntry{tx: tx, id: id, size: tx.EncodedSize(), heapIdx: -1}
	if err := m.makeRoom(e); err != nil {
		return err
	}
	e.arrival = m.nextArrival
	m.nextArrival++
	m.insert(e)
	return nil
}

// checkAgainstState applies the sender's pending transactions and then tx
// to a view of state, with the ledger's own ApplyTx, so the pool and block
// validation can never disagree on a rule. Only the nonce check is done
// here first, to say whether a wrong nonce is spent or ahead. m.mu is held.
func (m *Mempool) checkAgainstState(tx *Transaction, state AccountReader) error {
	v := NewStateView(m.p, state)
	base, err := v.Account(tx.Sender)
	if err != nil {
		return fmt.Errorf("mempool: read sender %s: %w", tx.Sender, err)
	}
	pending := m.bySender[tx.Sender]
	var spent uint64
	for _, e := range pending {
		if err := v.ApplyTx(e.tx); err != nil {
			// The pool no longer matches state: the tip moved and Reorg
			// has not run yet. That is not the sender's fault, so the
			// rule error is not wrapped: gossip must not penalise anyone.
			return fmt.Errorf("mempool: pending %s of %s does not apply to this state (tip moved without Reorg?): %v",
				e.id.Short(), tx.Sender, err)
		}
		spent += e.tx.Amount + e.tx.Fee
	}
	want := base.Nonce + uint64(len(pending))
	switch {
	case tx.Nonce < want:
		return ruleError(ErrBadNonce, "nonce %d already used, expected %d (sender %s at %d with %d pending)",
			tx.Nonce, want, tx.Sender, base.Nonce, len(pending))
	case tx.Nonce > want:
		return ruleError(ErrBadNonce, "nonce %d leaves a gap, expected %d (sender %s at %d with %d pending)",
			tx.Nonce, want, tx.Sender, base.Nonce, len(pending))
	}
	if err := v.ApplyTx(tx); err != nil {
		if errors.Is(err, ErrInsufficientFunds) {
			left, _ := v.Account(tx.Sender) // already read: cannot fail
			return ruleError(ErrInsufficientFunds, "overspend: sender %s has %d, %d pending spend %d, leaving %d; needs %d",
				tx.Sender, base.Balance, len(pending), spent, left.Balance, tx.Amount+tx.Fee)
		}
		return err
	}
	return nil
}

// makeRoom evicts what it must for e to fit, or changes nothing and
// returns ErrMempoolFull. Only transactions paying strictly less than e
// are evicted, lowest fee first, newest first among equal fees. e's own
// sender is spared: its last pending transaction is the one e follows.
// m.mu is held.
func (m *Mempool) makeRoom(e *poolEntry) error {
	var victims, spared []*poolEntry
	for m.fullFor(e) {
		v := m.evictable.min()
		if v == nil || v.tx.Fee >= e.tx.Fee {
			break
		}
		if m.p.Signed && v.tx.Sender == e.tx.Sender {
			m.evictable.remove(v)
			spared = append(spared, v)
			continue
		}
		m.remove(v)
		victims = append(victims, v)
	}
	full := m.fullFor(e)
	for _, v := range spared {
		m.evictable.push(v)
	}
	if full {
		// Put the victims back, last evicted first, so each goes back
		// onto the end of its sender's chain.
		for _, v := range slices.Backward(victims) {
			m.insert(v)
		}
		return fmt.Errorf("%w: %d transactions, %d bytes; fee %d does not beat the cheapest evictable",
			ErrMempoolFull, len(m.byID), m.bytes, e.tx.Fee)
	}
	return nil
}

// fullFor reports whether adding e would break a limit. m.mu is held.
func (m *Mempool) fullFor(e *poolEntry) bool {
	return len(m.byID)+1 > m.maxTxs || m.bytes+e.size > m.maxBytes
}

// insert adds e to the indexes: into its sender's list at its place (the
// end, for every caller but an unsigned-network rollback), and into the
// eviction heap. m.mu is held.
func (m *Mempool) insert(e *poolEntry) {
	q := m.bySender[e.tx.Sender]
	i, _ := slices.BinarySearchFunc(q, e, m.senderOrder)
	q = slices.Insert(q, i, e)
	m.bySender[e.tx.Sender] = q
	m.byID[e.id] = e
	m.bytes += e.size
	if m.p.Signed {
		if i != len(q)-1 {
			return // not the new last: stays unevictable
		}
		if i > 0 {
			m.evictable.remove(q[i-1])
		}
	}
	m.evictable.push(e)
}

// remove takes an evictable e out of the pool: on signed networks the last
// of its sender's chain, whose predecessor becomes evictable. m.mu is held.
func (m *Mempool) remove(e *poolEntry) {
	m.evictable.remove(e)
	delete(m.byID, e.id)
	m.bytes -= e.size
	q := m.bySender[e.tx.Sender]
	i := slices.Index(q, e)
	q = slices.Delete(q, i, i+1)
	if len(q) == 0 {
		delete(m.bySender, e.tx.Sender)
		return
	}
	m.bySender[e.tx.Sender] = q
	if m.p.Signed && i == len(q) {
		m.evictable.push(q[len(q)-1])
	}
}

// senderOrder orders one sender's list: by nonce on signed networks, by
// arrival on unsigned ones, where nonces mean nothing.
func (m *Mempool) senderOrder(a, b *poolEntry) int {
	if m.p.Signed && a.tx.Nonce != b.tx.Nonce {
		if a.tx.Nonce < b.tx.Nonce {
			return -1
		}
		return 1
	}
	return cmpUint64(a.arrival, b.arrival)
}

// Get returns a pending transaction by id.
func (m *Mempool) Get(id Hash) (*Transaction, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byID[id]
	if !ok {
		return nil, false
	}
	return e.tx, true
}

// Has reports whether a transaction is pending.
func (m *Mempool) Has(id Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.byID[id]
	return ok
}

// Len returns the number of pending transactions.
func (m *Mempool) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}

// Bytes returns the total encoded size of pending transactions.
func (m *Mempool) Bytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// Txs returns every pending transaction in the order Select would take
// them.
func (m *Mempool) Txs() []*Transaction {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.selectLocked(len(m.byID), m.bytes)
}

// Pending returns a sender's pending transactions in the order they apply:
// nonce order on signed networks, arrival order on unsigned ones.
func (m *Mempool) Pending(addr string) []*Transaction {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.bySender[addr]
	out := make([]*Transaction, len(q))
	for i, e := range q {
		out[i] = e.tx
	}
	return out
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
