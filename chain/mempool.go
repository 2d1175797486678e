package chain

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrTxInPool is returned by Mempool.Add for a transaction the pool already
// holds, pending or queued. It means "not now", not a fault: gossip ignores
// it.
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
// the most pending (or queued) transactions one sender may have. Checking
// a new transaction may cost time in the sender's pending count (a replay
// of them, after a reorganisation or an eviction: see senderTail), so the
// cap keeps one funded sender from making every admission slow.
var ErrSenderLimit = errors.New("too many pending transactions from this sender")

// Mempool holds transactions waiting for a block, and a bounded queue of
// transactions that came before their sender's previous nonce.
//
// # Pending transactions
//
// Every pending transaction is valid on the chain tip the pool was last
// reconciled with (by Add, or by Reorg after the tip moved), applied after
// its sender's earlier pending transactions and after its parents: on
// signed networks each sender's pending nonces run on from the sender's
// nonce at the tip without a gap, and their amounts and fees together stay
// within the sender's balance there plus the credits the sender claimed.
//
// A credit is a pending transaction of another sender that pays the
// sender. When a sender's balance at the tip does not cover a transaction,
// the pool lets it claim pending credits to the sender, oldest first, until
// it does; the claimed ones become its parents. A credit is claimed at most
// once, by one child. This holds for new transactions and for those a
// reorg brings back alike: one rule, so a transaction that spent coins
// received in an abandoned block comes back with the transfer that paid
// it, and a wallet may spend coins it has been sent before they confirm,
// as Bitcoin allows with unconfirmed outputs. A transaction's parents and
// its sender's earlier transactions are always in the pool before it is
// admitted, so the dependencies have no cycle.
//
// That gives three invariants the rest relies on:
//
//   - Select takes a transaction only after its sender's earlier ones and
//     all its parents, so its order applies to the tip: a block never holds
//     a child without its parents. (A transaction claims credits only when
//     its sender needs them, and other transactions only ever add to a
//     sender's balance, so parents first is enough.)
//   - A parent is never evicted before its child: only a stretch at the
//     end of a sender's chain, after its last transaction whose credit
//     somebody claimed, is evictable, so eviction never leaves a gap or
//     an orphaned child behind.
//   - Reorg rebuilds the pool from scratch, parents before children; a
//     child whose parent no longer applies finds no credit and drops (or
//     claims another that covers it), and its sender's later transactions
//     wait in the queue for its nonce.
//
// # Queued transactions
//
// GossipSub validates messages concurrently, so a sender's nonce N+1 may
// arrive before N. Such a transaction, at most the queue window ahead of
// the sender's next nonce (tip nonce plus pending count) and affordable
// on its own, is held in the queue (Add returns ErrTxQueued) instead of
// being refused and lost. Queued transactions are not selected and not
// counted by Len; Has sees them, so the same one is not queued twice. When
// the missing nonces arrive (by Add, or confirmed by a block), queued ones
// that now follow on are promoted in nonce order, their balance checked
// then. The queue is bounded per sender and in count and bytes; when full
// it gives up a sender's farthest nonce first (the nearer ones are needed
// before it), and across senders the one queued first (the longest gap is
// the likeliest lost for good). Entries expire after the queue TTL, and
// Reorg checks them again on every tip change.
//
// On unsigned networks (the teaching chain) there is no nonce or balance
// rule, so the pool only refuses what it already holds, and queues nothing.
//
// The pool is bounded by count and encoded bytes. When full, a new
// transaction may evict a peer's package paying less on average than it
// (a sender's cheapest stretch at the end of its chain); this node's own
// (AddLocal) are never evicted, so one that does not fit is refused at
// entry (mempool_evict.go).
//
// # Fees and expiry
//
// A fee no block could carry (the reward plus the fee above MaxAmount) is
// refused on every network, and so is a fee that would take the pending
// fees together past what one block can carry: what the pool holds can
// always be mined, and transactions that can never win cannot fill it
// (mempool_fee.go). On signed networks a fee below the minimum relay fee
// for the transaction's size is refused (WithMinRelayFee), so filling
// blocks costs coins. A pending transaction expires after the pending TTL
// from its admission, with its descendants (its sender's later
// transactions and the children that claimed its credits), as Bitcoin
// Core expires a transaction with its descendants (mempool_expiry.go).
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
	queueCfg     queueConfig
	now          func() time.Time
	sigs         *SigCache
	minRelayFee  FeeRate
	pendingTTL   time.Duration

	mu sync.Mutex
	// byID holds every pending transaction.
	byID map[Hash]*poolEntry
	// bySender holds each sender's pending transactions in nonce order on
	// signed networks, in arrival order on unsigned ones. No empty slices.
	bySender map[string][]*poolEntry
	// byRecipient holds, on signed networks, the pending transactions
	// that pay each address from another sender (the credits it may
	// claim), in insertion order. No empty slices.
	byRecipient map[string][]*poolEntry
	// credits adds up byRecipient's amounts per address (creditSum).
	credits map[string]creditSum
	// evictable is a min-heap, lowest mean fee first, of what may be
	// evicted: on signed networks each sender's cheapest package (the
	// stretch of its chain's end with the lowest mean fee, after its last
	// transaction that is local or whose credit a child claimed), every
	// transaction on unsigned ones (mempool_evict.go).
	evictable evictHeap
	// repack holds the senders whose package must be worked out again
	// before the heap is next read; their stale ones are out of it.
	repack map[string]struct{}
	// bytes is the encoded size of everything in byID, fees the sum of
	// their fees.
	bytes int
	fees  feeSum
	// locals counts the local entries of byID, localBytes their size.
	locals     int
	localBytes int
	// nextExpiry is when the oldest pending transaction expires, as of
	// the last scan; no scan is needed before it.
	nextExpiry time.Time
	// nextArrival numbers accepted transactions in the order they came,
	// breaking fee ties in Select without reading a clock.
	nextArrival uint64
	// selectPass numbers Select's passes; see poolEntry.taken.
	selectPass uint64
	// selectChunks is Select's scratch space, one slot a transaction.
	selectChunks []selectChunk
	// tails keeps senderView's work by sender (senderTail); reset
	// drops it.
	tails map[string]*senderTail
	// queue holds the transactions waiting for an earlier nonce.
	queue txQueue
	// rolling is the minimum fee raised by evictions (mempool_rolling.go).
	rolling rollingMin
	// minedLocal: this node's own transactions that left in a block.
	minedLocal minedLocal
}

// poolEntry is one pending transaction with what the pool computed once.
type poolEntry struct {
	tx      *Transaction
	id      Hash
	size    int
	arrival uint64
	at      time.Time // when this node first admitted it, for expiry
	heapIdx int       // position in Mempool.evictable, -1 when not there
	// pkgFee and pkgN are, while the entry is in the heap, the fees and
	// the count of the package it begins: itself to its sender's last.
	pkgFee uint64
	pkgN   uint64
	// parents are the credits (pending transactions of other senders
	// paying this one's sender) this one claimed when it was admitted;
	// child is the entry that claimed this one's credit, if any.
	parents []*poolEntry
	child   *poolEntry
	// taken is the Select pass that last took this entry.
	taken uint64
	// local: submitted to this node by its own client (AddLocal), which
	// trusts the node to keep it; evicted only when nothing else is.
	local bool
}

// MempoolOption configures a Mempool.
type MempoolOption func(*mempoolConfig)

type mempoolConfig struct {
	maxTxs       int
	maxBytes     int
	maxPerSender int
	mined        func(Hash) bool
	queue        queueConfig
	now          func() time.Time
	sigs         *SigCache
	minRelayFee  FeeRate
	pendingTTL   time.Duration
}

// WithMempoolSigCache sets the verified-signature cache the mempool
// checks and fills at admission: the chain's (Chain.SigCache), so a
// block of admitted transactions connects without verifying them again.
// Default: none, every admission verifies.
func WithMempoolSigCache(sc *SigCache) MempoolOption { return func(c *mempoolConfig) { c.sigs = sc } }

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

// WithMempoolClock sets the clock expiry reads, the queue's and the
// pending transactions' (default time.Now); tests pass a fake one.
func WithMempoolClock(now func() time.Time) MempoolOption {
	return func(c *mempoolConfig) { c.now = now }
}

// NewMempool returns an empty pool for network p.
func NewMempool(p *Params, opts ...MempoolOption) *Mempool {
	cfg := mempoolConfig{maxTxs: defaultMempoolTxs, maxBytes: defaultMempoolBytes, maxPerSender: defaultPerSender,
		queue: defaultQueueConfig(), now: time.Now, pendingTTL: defaultPendingTTL}
	for _, o := range opts {
		o(&cfg)
	}
	m := &Mempool{p: p, maxTxs: cfg.maxTxs, maxBytes: cfg.maxBytes, maxPerSender: cfg.maxPerSender, mined: cfg.mined,
		queueCfg: cfg.queue, now: cfg.now, sigs: cfg.sigs, minRelayFee: cfg.minRelayFee, pendingTTL: cfg.pendingTTL}
	m.reset()
	m.queue.init()
	return m
}

// The miner takes its block templates from the mempool.
var _ TxSource = (*Mempool)(nil)

// reset empties the pending pool, keeping its limits and the queue.
func (m *Mempool) reset() {
	m.rollingFeeLocked() // at the fill it decayed at until now
	m.byID = make(map[Hash]*poolEntry)
	m.bySender = make(map[string][]*poolEntry)
	m.byRecipient = make(map[string][]*poolEntry)
	m.credits = make(map[string]creditSum)
	m.tails = make(map[string]*senderTail)
	m.evictable = m.evictable[:0]
	m.repack = make(map[string]struct{})
	m.bytes = 0
	m.locals, m.localBytes = 0, 0
	m.fees = feeSum{}
}

// Add checks tx and adds it to the pool. state is the ledger at the chain
// tip the pool was last reconciled with (see Reorg). The checks run from
// cheapest to dearest, and the first that fails is returned:
//
//  1. a coinbase never enters the pool (ErrMultipleCoinbases);
//  2. a transaction already pending or queued: ErrTxInPool;
//  3. the fee: one no block can carry (ErrFeeUnminable), on signed
//     networks one below the minimum relay fee for the transaction's
//     size, or below the rolling minimum after evictions unless it is
//     held already and the node's client submits it (ErrFeeTooLow);
//  4. CheckTxSanity: version, names, amounts, key and signature;
//  5. on networks without nonces, a transaction the main chain already
//     holds (ErrTxMined, with WithMinedCheck);
//  6. the sender's pending count (ErrSenderLimit);
//  7. on signed networks, against state, the sender's pending
//     transactions and the credits it claimed: a nonce already used is
//     ErrBadNonce; a nonce ahead of the sender's next is queued (see
//     below); otherwise the balance left, with unclaimed pending credits
//     to the sender if needed, must cover amount plus fee
//     (ErrInsufficientFunds);
//  8. room: the pending fees with tx's must fit one block's coinbase
//     (ErrMempoolFull); when the pool is full, tx evicts packages whose
//     mean fee is below its fee, or is refused with ErrMempoolFull.
//
// Once the pool's lock is taken, before the checks under it, pending
// transactions that have expired leave.
//
// The node's intake verifies the signature before AddVerified, so a
// forged transaction is a fault whatever its fee.
//
// A transaction whose nonce is ahead is held in the queue when it is
// within the queue window and its sender can afford it alone; Add then
// returns an error matching both ErrTxQueued and ErrBadNonce (see
// ErrTxQueued), and nothing else when it is refused instead (ErrBadNonce
// beyond the window, ErrInsufficientFunds, ErrSenderLimit, ErrMempoolFull).
// After an Add, queued transactions of the sender that now follow on are
// promoted.
//
// Rule failures are *RuleError (branch with errors.Is on the codes);
// ErrTxInPool, ErrTxMined, ErrSenderLimit and ErrMempoolFull are plain
// sentinels for "not now"; ErrFeeTooLow is this node's policy and
// ErrFeeUnminable a fee no node could ever mine; a failure to read state
// is returned wrapped, and is this node's fault.
func (m *Mempool) Add(tx *Transaction, state AccountReader) error {
	return m.add(tx, tx.ID(), state, false, false, time.Time{})
}

// AddVerified is Add for a transaction that has already passed
// CheckTxSanity on this network: the caller checked it before taking a
// lock of its own, so the signature is not verified twice under it.
func (m *Mempool) AddVerified(tx *Transaction, state AccountReader) error {
	return m.add(tx, tx.ID(), state, true, false, time.Time{})
}

// AddLocal is AddVerified for a transaction submitted to this node by its
// own client (the HTTP API, the node's wallet) rather than relayed by a
// peer. The pool then keeps it until a block takes it or a conflicting
// one makes it invalid: eviction, when a newcomer or a reorganisation's
// returned transactions need room, takes only peers' transactions, never
// a local one, whatever the newcomer pays. What does not fit beside the
// local transactions is refused here (ErrMempoolFull), so the client
// learns it now instead of after its transfer was dropped.
// A peer's transaction evicted here is still kept by the node it was
// submitted to, which relays and mines it: so a full pool loses nothing
// the network accepted, where evicting the newest, whichever node took
// it, could drop the same transaction from every pool at once.
// A local transaction held in the queue stays local when promoted, and
// the queue's bounds give up only peers' transactions to make room: a
// newcomer that would need a local one's place is refused.
func (m *Mempool) AddLocal(tx *Transaction, state AccountReader) error {
	return m.add(tx, tx.ID(), state, true, true, time.Time{})
}

// add is Add; id is tx.ID(), admitted is when the transaction was first
// admitted, zero for now.
func (m *Mempool) add(tx *Transaction, id Hash, state AccountReader, verified, local bool, admitted time.Time) error {
	at, err := m.precheck(tx, id, admitted, local)
	if err != nil {
		return err
	}
	// Signature verification is the dearest check by far: run it outside
	// the lock, then look for a duplicate again under it.
	if !verified {
		if err := checkTxSanity(m.p, tx, m.sigs, &id); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expirePending(false)
	if m.holds(id) {
		return m.alreadyHeld(id, local)
	}
	if !m.p.Signed && m.mined != nil && m.mined(id) {
		return fmt.Errorf("%w: %s", ErrTxMined, id.Short())
	}
	if n := len(m.bySender[tx.Sender]); n >= m.maxPerSender {
		return fmt.Errorf("%w: %s has %d", ErrSenderLimit, tx.Sender, n)
	}
	e := &poolEntry{tx: tx, id: id, size: tx.EncodedSize(), at: at, heapIdx: -1, local: local}
	var v *StateView
	var mk senderMark // where the sender stood before e: mk.n pending
	if m.p.Signed {
		if v, mk, err = m.senderView(tx.Sender, state); err != nil {
			return err
		}
		acct, _ := v.Account(tx.Sender) // read by senderView: cannot fail
		switch {
		case tx.Nonce < acct.Nonce:
			return ruleError(ErrBadNonce, "nonce %d already used, expected %d (sender %s at %d with %d pending)",
				tx.Nonce, acct.Nonce, tx.Sender, acct.Nonce-uint64(mk.n), mk.n)
		case tx.Nonce > acct.Nonce:
			return m.hold(e, acct.Nonce, acct.Balance+m.unclaimedCredit(tx.Sender))
		}
		if e.parents, err = m.admit(v, tx); err != nil {
			if errors.Is(err, ErrInsufficientFunds) {
				return ruleError(ErrInsufficientFunds, "overspend: sender %s has %d left after %d pending (credits counted); needs %d",
					tx.Sender, acct.Balance, mk.n, tx.Amount+tx.Fee)
			}
			return err
		}
	}
	if err := m.checkFeeRoom(tx); err != nil {
		return err
	}
	if err := m.localRoom(e); err != nil {
		return err
	}
	if err := m.makeRoom(e); err != nil {
		return err
	}
	e.arrival = m.nextArrival
	m.nextArrival++
	m.insert(e)
	if m.p.Signed {
		if m.promote(tx.Sender, v) {
			m.extendTail(tx.Sender, v, mk)
		} else {
			delete(m.tails, tx.Sender)
		}
	}
	return nil
}

// insert adds e to the indexes: into its sender's list at its place (the
// end, for every caller but an unsigned-network rollback), as the child
// of its parents, as a credit of its recipient, and into the eviction
// heap if it is evictable. m.mu is held.
func (m *Mempool) insert(e *poolEntry) {
	m.rollingFeeLocked() // at the fill it decayed at until now
	q := m.bySender[e.tx.Sender]
	i, _ := slices.BinarySearchFunc(q, e, m.senderOrder)
	q = slices.Insert(q, i, e)
	m.bySender[e.tx.Sender] = q
	m.byID[e.id] = e
	m.bytes += e.size
	if e.local {
		m.locals++
		m.localBytes += e.size
	}
	m.fees.add(e.tx.Fee)
	if due := e.at.Add(m.pendingTTL); due.Before(m.nextExpiry) {
		m.nextExpiry = due
	}
	if m.p.Signed {
		for _, p := range e.parents {
			m.setChild(p, e) // p's sender's package changes
		}
		if r := e.tx.Recipient; r != e.tx.Sender {
			m.byRecipient[r] = append(m.byRecipient[r], e)
			m.countCredit(r, e, 1)
		}
		m.stale(e.tx.Sender)
		return
	}
	e.pkgFee, e.pkgN = e.tx.Fee, 1
	m.evictable.push(e)
}

// remove takes e out of the pool: on signed networks the last of its
// sender's chain, with no child. Its sender's package, and those of its
// parents' senders, change. m.mu is held.
func (m *Mempool) remove(e *poolEntry) {
	m.rollingFeeLocked() // at the fill it decayed at until now
	m.evictable.remove(e)
	delete(m.byID, e.id)
	m.bytes -= e.size
	if e.local {
		m.locals--
		m.localBytes -= e.size
	}
	m.fees.sub(e.tx.Fee)
	q := m.bySender[e.tx.Sender]
	i := slices.Index(q, e)
	q = slices.Delete(q, i, i+1)
	delete(m.tails, e.tx.Sender) // its list no longer only grew
	if len(q) == 0 {
		delete(m.bySender, e.tx.Sender)
	} else {
		m.bySender[e.tx.Sender] = q
	}
	if !m.p.Signed {
		return
	}
	if r := e.tx.Recipient; r != e.tx.Sender {
		c := m.byRecipient[r]
		if j := slices.Index(c, e); j >= 0 {
			c = slices.Delete(c, j, j+1)
		}
		if len(c) == 0 {
			delete(m.byRecipient, r)
		} else {
			m.byRecipient[r] = c
		}
		m.countCredit(r, e, -1)
	}
	for _, p := range e.parents {
		m.setChild(p, nil)
	}
	m.stale(e.tx.Sender)
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
	return cmp.Compare(a.arrival, b.arrival)
}

// holds reports whether id is pending or queued. m.mu is held.
func (m *Mempool) holds(id Hash) bool {
	if _, ok := m.byID[id]; ok {
		return true
	}
	return m.queue.has(id)
}

// Get returns a pending transaction by id; queued ones are not returned.
func (m *Mempool) Get(id Hash) (*Transaction, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byID[id]
	if !ok {
		return nil, false
	}
	return e.tx, true
}

// Has reports whether the pool holds a transaction, pending or queued:
// either way, the same transaction offered again is not new.
func (m *Mempool) Has(id Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.holds(id)
}

// Range calls f with the id and transaction of every transaction the
// pool holds, pending or queued, in no order, until f returns false. The
// pool is locked meanwhile: f must not call back into it. A compact
// block's receiver matches short ids this way without copying the pool
// or hashing a transaction again. Queued ones count: a block may carry a
// transaction together with the earlier nonce it waited for, which is
// common when a sender's transfers arrive out of order.
func (m *Mempool) Range(f func(id Hash, tx *Transaction) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, e := range m.byID {
		if !f(id, e.tx) {
			return
		}
	}
	for id, q := range m.queue.byID {
		if !f(id, q.tx) {
			return
		}
	}
}

// Len returns the number of pending transactions (not the queued ones).
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
