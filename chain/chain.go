package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"
)

// ErrWrongNetwork is returned by New when the store holds another
// network's chain.
var ErrWrongNetwork = errors.New("store belongs to another network")

// Chain is the block tree and the ledger of one network: it validates
// blocks, keeps the main chain on the branch with the most cumulative work
// (the first seen wins a tie), reorganises to a heavier valid branch of any
// depth, parks blocks with unknown parents in a bounded orphan pool and
// remembers blocks that proved invalid.
//
// Writes (ProcessBlock, ProcessBlocks) are serialised by mu; the orphan
// pool and the invalid set change only under it, and have locks of their
// own for the readers that do not take it (a header's precheck). Reads go to the store, which holds
// only committed state, and the tip is an atomic pointer, so neither waits
// for a long reorg. Block, Meta, TxLocation and Account (and the header
// checks that read them) also see the write under way once it has
// validated its blocks (pending), so a block forwarded before its commit
// can be served and built on, and the mempool admits on the state it
// leaves while it commits.
type Chain struct {
	p     *Params
	store Store
	log   *slog.Logger
	now   func() time.Time

	tip atomic.Pointer[BlockMeta]
	// pending is the overlay of the write under way from the moment its
	// blocks are validated until its store commit ends, nil otherwise.
	// Nothing writes to it once it is set: reads from any goroutine see
	// it, then the store.
	pending atomic.Pointer[overlay]
	// sigs remembers verified signatures, shared with the mempool the
	// node builds on this chain (WithSigCache).
	sigs *SigCache

	mu      sync.Mutex
	orphans *orphanPool
	invalid *hashRing
	// tipWait is closed and replaced on every tip change, after the tip
	// itself: atomic, so a waiter never waits for the lock a commit holds.
	tipWait atomic.Pointer[chan struct{}]
	failure storeFailure // sticky once a commit failed
	// side holds the stored blocks off the main chain, for pruning
	// (prune.go).
	side map[Hash]sideBlock
	// headers keeps runs of main-chain headers for HeadersAfter.
	headers *headerCache
	// prechecked holds the last headers PrecheckHeader judged in full
	// and passed (their parent stored: an orphan's header is not one):
	// gossip prechecks a block's header, then hands the block to
	// ProcessBlock, whose own unlocked precheck (CheckBlockDigest) would
	// repeat every read and check of it. The locked pass judges the
	// header again in any case (processOne). An entry gone stale (the
	// tip moved meanwhile) costs a body checked before the lock for
	// nothing, once: a copy of the block sent again is prechecked
	// again by gossip, which refuses it or finds it stored first.
	prechecked *hashRing
	// ancestors keeps the headers the median-time and retarget rules
	// read (ancestry.go).
	ancestors *ancestorCache
	// accounts keeps recently read tip states for Account
	// (accountcache.go); every commit goes through apply to keep it true.
	accounts *accountCache
}

// Option configures a Chain.
type Option func(*config)

type config struct {
	log           *slog.Logger
	now           func() time.Time
	maxOrphans    int
	maxOrphanSize int
	maxInvalid    int
	sigs          *SigCache
}

// WithSigCache sets the verified-signature cache (default: one of its
// own, defaultSigCache entries). Give the mempool the same one, so what
// it verified at admission is not verified again when a block connects.
func WithSigCache(sc *SigCache) Option { return func(c *config) { c.sigs = sc } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock timestamps are checked against (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithOrphanLimits bounds the orphan pool by count and total encoded bytes
// (default 256 blocks, 32 MiB).
func WithOrphanLimits(count, bytes int) Option {
	return func(c *config) { c.maxOrphans, c.maxOrphanSize = count, bytes }
}

// New opens the chain held by st, writing p's genesis into an empty store.
// It reads only the tip: nothing is replayed or validated again.
func New(p *Params, st Store, opts ...Option) (*Chain, error) {
	cfg := config{
		log:           slog.New(slog.DiscardHandler),
		now:           time.Now,
		maxOrphans:    defaultOrphans,
		maxOrphanSize: defaultOrphanBytes,
		maxInvalid:    defaultInvalidMemory,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.sigs == nil {
		cfg.sigs = NewSigCache(defaultSigCache)
	}
	ts := newTipStore(st)
	c := &Chain{
		sigs:      cfg.sigs,
		p:         p,
		store:     ts,
		log:       cfg.log,
		now:       cfg.now,
		orphans:   newOrphanPool(cfg.maxOrphans, cfg.maxOrphanSize),
		invalid:   newHashRing(cfg.maxInvalid),
		headers:   newHeaderCache(),
		ancestors: newAncestorCache(),
		// Gossip validates a few blocks at a time; a header forgotten
		// before its block is processed is only prechecked again.
		prechecked: newHashRing(64),
		accounts:   newAccountCache(accountCacheMax),
		failure:    storeFailure{done: make(chan struct{})},
	}
	first := make(chan struct{})
	c.tipWait.Store(&first)
	g, err := st.MainHash(0)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := c.writeGenesis(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("read genesis: %w", err)
	case g != p.NetworkID():
		return nil, fmt.Errorf("%w: genesis %s, %s wants %s", ErrWrongNetwork, g.Short(), p.Name, p.NetworkID().Short())
	}
	tip, err := tipMeta(st)
	if err != nil {
		return nil, err
	}
	c.tip.Store(tip)
	ts.set(tip) // nothing writes before New returns
	if err := c.loadSide(); err != nil {
		return nil, err
	}
	return c, nil
}

// writeGenesis stores and connects the genesis block of an empty store.
func (c *Chain) writeGenesis() error {
	g := c.p.Genesis()
	o := newOverlay(c.store)
	h := g.Hash()
	meta := &BlockMeta{
		Hash:    h,
		Header:  g.Header,
		Work:    WorkForBits(g.Header.Bits),
		Size:    uint32(g.EncodedSize()),
		TxCount: uint32(len(g.Transactions)),
	}
	o.b.Blocks[h] = g
	o.b.Metas[h] = meta
	if err := c.connect(o, g, meta); err != nil {
		return fmt.Errorf("connect genesis: %w", err)
	}
	o.b.Tip = h
	if err := c.apply(o.b); err != nil {
		return fmt.Errorf("write genesis: %w", err)
	}
	return nil
}

// SigCache returns the chain's verified-signature cache.
func (c *Chain) SigCache() *SigCache { return c.sigs }

// CheckTxSanity is the package's CheckTxSanity through the chain's
// signature cache: what it verifies, a block connecting later does not
// verify again.
func (c *Chain) CheckTxSanity(tx *Transaction) error { return checkTxSanity(c.p, tx, c.sigs, nil) }

// CheckBlockSanity is the package's CheckBlockSanity through the chain's
// signature cache.
func (c *Chain) CheckBlockSanity(b *Block) ([]Hash, error) {
	return checkBlockSanity(c.p, b, c.sigs, nil, true)
}

// Params returns the network parameters.
func (c *Chain) Params() *Params { return c.p }

// Change is what one call did to the main chain. Disconnected holds the
// blocks that left it, newest first; Connected those that joined it,
// oldest first. A call that did not move the tip returns a nil Change.
// It is read-only: its metas and blocks are the ones the store writes.
type Change struct {
	OldTip, NewTip *BlockMeta
	Disconnected   []*Block
	Connected      []*Block
	// ids are the transaction ids of connected blocks, by block hash, as
	// the chain hashed them in this call to check the blocks (the
	// process's overlay's, read-only once described): the mempool takes
	// them rather than hash every transaction of the block once more.
	ids map[Hash][]Hash
}

// connectedIDs returns the ids of b's transactions if the chain hashed
// them in this change, else nil.
func (ch *Change) connectedIDs(b *Block) []Hash {
	if ids, ok := ch.ids[b.Hash()]; ok && len(ids) == len(b.Transactions) {
		return ids
	}
	return nil
}

// Joined reports whether the block h joined the main chain in this change.
func (ch *Change) Joined(h Hash) bool {
	if ch == nil {
		return false
	}
	for _, b := range ch.Connected {
		if b.Hash() == h {
			return true
		}
	}
	return false
}

// Reorg reports whether blocks left the main chain.
func (ch *Change) Reorg() bool { return ch != nil && len(ch.Disconnected) > 0 }

// ProcessBlock validates b and adds it to the block tree, moving the main
// chain to it if its branch has more work. It is for blocks nobody asked
// for (gossip, the miner, a submission): one that does not make its
// branch heavier than the tip is refused before its body is checked or
// stored (ErrNotHeavier, ErrLowWork; protocol.md §9.5). Its body is
// checked before the chain's lock is taken. Blocks waiting in the orphan
// pool for b are processed too. The error is a *RuleError (use errors.Is
// with the codes, IsTransient for "not now") or a store failure, which
// wraps ErrStoreFailed and ends all writes (see StoreFailed). The chain
// keeps b, and its store may keep it until written out (Store.Apply): the
// caller must not change b afterwards, nor what a Change or a meta read
// from the chain points at.
func (c *Chain) ProcessBlock(ctx context.Context, b *Block) (*Change, error) {
	cb, err := c.CheckBlock(b)
	if err != nil {
		return nil, err
	}
	return c.ProcessChecked(ctx, cb)
}

// CheckedBlock is an unrequested block whose checks that need no lock
// have run: the work gate on its header (unless PrecheckHeader passed
// the header already) and, unless a cheaper check already fails, its
// body's sanity.
type CheckedBlock struct {
	b      *Block
	sanity *sanityResult
}

// CheckBlock runs ProcessBlock's checks that take no lock, so a caller
// that serialises processing under a lock of its own (the node's intake)
// checks signatures before taking it. It returns the work gate's refusal
// (ErrNotHeavier, ErrLowWork); every other outcome is ProcessChecked's to
// report, in pipeline order. A header PrecheckHeader judged and passed
// lately is not prechecked again (Chain.prechecked): the gate, if the
// tip moved since, refuses it under the lock instead.
func (c *Chain) CheckBlock(b *Block) (*CheckedBlock, error) { return c.CheckBlockDigest(b, nil) }

// CheckBlockDigest is CheckBlock for a block whose transactions were
// digested already (DigestTxs, or Mempool.DigestTxs as a compact block's
// rebuild does to check its merkle root): the body's check takes d's ids
// and root rather than hash every transaction again. A digest not
// computed from b's transactions, or nil, is not used.
func (c *Chain) CheckBlockDigest(b *Block, d *TxDigest) (*CheckedBlock, error) {
	checkBody, judged := true, true
	if h := b.Hash(); !c.prechecked.has(h) {
		var gate error
		if checkBody, judged, _, gate = c.precheck(&b.Header, h); gate != nil {
			return nil, gate
		}
	}
	cb := &CheckedBlock{b: b}
	if checkBody {
		// A body checked without its header judged is an orphan's: what
		// its check learns is not remembered (verifyBlockJobs).
		cb.sanity = newSanity(c.p, b, c.sigs, d, judged)
	}
	return cb, nil
}

// ProcessChecked is ProcessBlock for a block CheckBlock has checked.
func (c *Chain) ProcessChecked(ctx context.Context, cb *CheckedBlock) (*Change, error) {
	return c.ProcessCheckedValidated(ctx, cb, nil)
}

// ProcessCheckedValidated is ProcessChecked that also calls validated,
// under the chain's lock, with the change the block makes once it is
// fully validated and connected in memory, before the store commit: the
// moment gossip may forward it (protocol.md §16.8). From then until the
// commit ends, Block, Meta, TxLocation and Account read it (Tip does not:
// it moves with the commit) and a block building on it waits
// for the lock rather than being taken for an orphan. validated is not
// called for a block that fails or leaves the tip where it was; if the
// commit then fails, ProcessCheckedValidated returns the store failure
// as ProcessChecked does. validated must not call the chain's writes,
// and the commit waits for it: it runs under the chain's lock (node's
// intake brings its mempool along there).
func (c *Chain) ProcessCheckedValidated(ctx context.Context, cb *CheckedBlock, validated func(*Change)) (*Change, error) {
	ch, _, err := c.process(ctx, []*Block{cb.b}, []*sanityResult{cb.sanity}, false, validated)
	return ch, err
}

// ProcessBlocks processes blocks in order and commits them in one store
// transaction: the path for blocks the syncer requested after their
// branch's headers proved more work than the tip. They are stored
// whatever their own work, since the first blocks of a heavier branch
// are lighter than the tip until the last ones connect. It stops at the
// first block that fails, commits those before it, and returns how many
// were processed with the failure's error. A duplicate block is skipped,
// not a failure.
func (c *Chain) ProcessBlocks(ctx context.Context, blocks []*Block) (*Change, int, error) {
	return c.ProcessCheckedBlocks(ctx, c.CheckBlocks(blocks))
}

// CheckBlocks runs ProcessBlocks' checks that take no lock, on every
// core and through the signature cache, so a syncer checks the next batch
// while the chain commits the one before it. Every outcome is
// ProcessCheckedBlocks' to report, in pipeline order.
func (c *Chain) CheckBlocks(blocks []*Block) *CheckedBlocks {
	return &CheckedBlocks{blocks: blocks, sanity: checkSanityParallel(c.p, blocks, c.sigs)}
}

// JoinChecked returns the checked batches as one, in order: consecutive
// batches of a download committed in one store transaction.
func JoinChecked(cbs ...*CheckedBlocks) *CheckedBlocks {
	if len(cbs) == 1 {
		return cbs[0]
	}
	out := &CheckedBlocks{}
	for _, cb := range cbs {
		out.blocks = append(out.blocks, cb.blocks...)
		out.sanity = append(out.sanity, cb.sanity...)
	}
	return out
}

// ProcessCheckedBlocks is ProcessBlocks for a batch CheckBlocks checked.
func (c *Chain) ProcessCheckedBlocks(ctx context.Context, cb *CheckedBlocks) (*Change, int, error) {
	return c.process(ctx, cb.blocks, cb.sanity, true, nil)
}

// readAheadBlocks is how many blocks of a sync batch have their accounts
// read in one store view: one view for many blocks, but not for a whole
// batch at once, whose later blocks a failure may never reach.
const readAheadBlocks = 64

// batchAddresses returns the addresses of the first readAheadBlocks
// blocks, up to the first whose sanity check failed before the lock (it
// and those after it will not connect).
func batchAddresses(blocks []*Block, sanity []*sanityResult) []string {
	var addrs []string
	for i, b := range blocks[:min(len(blocks), readAheadBlocks)] {
		if sanity[i] != nil && sanity[i].err != nil {
			break
		}
		addrs = append(addrs, blockAddresses(b)...)
	}
	return addrs
}

// process runs blocks through the pipeline under the lock; sanity holds
// the body checks done before it (nil entries are done under it).
// requested marks a sync batch: duplicates are skipped and the work gate
// does not apply. validated, if not nil, is called before the commit
// (see ProcessCheckedValidated).
func (c *Chain) process(ctx context.Context, blocks []*Block, sanity []*sanityResult, requested bool,
	validated func(*Change)) (*Change, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure.err != nil {
		return nil, 0, c.failure.err
	}
	oldTip := c.tip.Load()
	root := newOverlay(c.store)
	root.accounts = c.accounts // the lock is held: no commit runs
	done := 0
	var failure error
	for i, b := range blocks {
		if err := ctx.Err(); err != nil {
			failure = err
			break
		}
		if requested && len(blocks) > 1 && i%readAheadBlocks == 0 {
			if err := root.readAhead(batchAddresses(blocks[i:], sanity[i:])); err != nil {
				failure = err
				break
			}
		}
		err := c.processOne(root, b, sanity[i], requested)
		if err != nil && !(requested && errors.Is(err, ErrDuplicateBlock)) {
			failure = err
			break
		}
		done++
	}
	if root.empty() {
		return nil, done, failure
	}
	// The change is described from the overlay, which holds every block
	// it moves, so it is known before the commit.
	ch, err := c.describe(root, oldTip)
	if err != nil {
		return nil, done, err
	}
	// root is read-only from here on: readers may see it until the
	// commit ends.
	c.pending.Store(root)
	if validated != nil && ch != nil && failure == nil {
		validated(ch)
	}
	err = c.apply(root.b)
	if err == nil {
		// The tip moves before the write stops being read, so no reader
		// finds the store at the new tip and the tip still at the old.
		c.publishTip(ch)
	}
	c.pending.Store(nil)
	if err != nil {
		// Nothing of the batch is visible: the tip stays where it was.
		// Whether the file holds the batch is unknown until it is
		// reopened, so no later write may build on either guess.
		return nil, 0, fmt.Errorf("commit: %w", c.failLocked(err))
	}
	if err := c.noteSide(root.b, ch); err != nil {
		return ch, done, err
	}
	if ch != nil {
		if err := c.pruneSide(); err != nil {
			return ch, done, err
		}
	}
	return ch, done, failure
}

// sanityResult is the outcome of CheckBlockSanity on one block, computed
// ahead of processing; nil means not computed. ids are the block's
// transaction ids when it passed, hashed for its merkle root: connect
// takes them rather than hash every transaction again.
type sanityResult struct {
	err error
	ids []Hash
}

// newSanity runs CheckBlockSanity on b, with d's hashes if they are b's.
func newSanity(p *Params, b *Block, sigs *SigCache, d *TxDigest, remember bool) *sanityResult {
	ids, err := checkBlockSanity(p, b, sigs, d, remember)
	return &sanityResult{err: err, ids: ids}
}

// checkSanityParallel runs the context-free checks of a batch on every
// core before the chain's lock is taken. A sync batch of small blocks has
// too few signatures per block to spread or batch one block's, so the
// signatures of the whole batch are verified together (verifyBlockJobs):
// in batches, on every core, none after the first that fails. A single
// block is checked on its own, its signatures in parallel if it has many.
func checkSanityParallel(p *Params, blocks []*Block, sigs *SigCache) []*sanityResult {
	out := make([]*sanityResult, len(blocks))
	if len(blocks) == 1 {
		out[0] = newSanity(p, blocks[0], sigs, nil, true)
		return out
	}
	checks := make([]*blockCheck, len(blocks))
	onEveryCore(len(blocks), func(i int) { checks[i] = prepareBlockSanity(p, blocks[i], sigs, nil) })
	n := 0
	for _, bc := range checks {
		n += len(bc.jobs)
	}
	jobs := make([]sigJob, 0, n)
	for _, bc := range checks {
		jobs = append(jobs, bc.jobs...)
	}
	sigs.verifyBlockJobs(p, jobs, true)
	for i, bc := range checks {
		// Each block's jobs become its part of the verified slice.
		bc.jobs, jobs = jobs[:len(bc.jobs)], jobs[len(bc.jobs):]
		ids, err := bc.result()
		out[i] = &sanityResult{err: err, ids: ids}
	}
	return out
}

// describe returns the change the overlay r makes to the main chain
// whose tip is oldTip: nil if it leaves the tip where it is. The blocks
// it moves are read from r, in memory.
func (c *Chain) describe(r *overlay, oldTip *BlockMeta) (*Change, error) {
	if r.b.Tip.IsZero() || r.b.Tip == oldTip.Hash {
		return nil, nil
	}
	newTip, err := r.Meta(r.b.Tip)
	if err != nil {
		return nil, fmt.Errorf("read tip meta: %w", err)
	}
	disc, conn, err := branchDiff(r, oldTip, newTip)
	if err != nil {
		return nil, fmt.Errorf("describe tip change: %w", err)
	}
	return &Change{OldTip: oldTip, NewTip: newTip, Disconnected: disc, Connected: conn, ids: r.ids}, nil
}

// publishTip makes the tip of a committed change visible.
func (c *Chain) publishTip(ch *Change) {
	if ch == nil {
		return
	}
	c.tip.Store(ch.NewTip)
	next := make(chan struct{})
	close(*c.tipWait.Swap(&next))
	if ch.Reorg() {
		c.log.Debug("reorg", "old_tip", ch.OldTip.Hash.Short(), "new_tip", ch.NewTip.Hash.Short(),
			"height", ch.NewTip.Height(), "depth", len(ch.Disconnected))
	}
}

// addWork returns parent's cumulative work plus the work of bits.
func addWork(parent *big.Int, bits uint32) *big.Int {
	return new(big.Int).Add(parent, workForBits(bits))
}
