package p2p

import (
	"context"
	"runtime"
	"sync"

	"github.com/gossipchain/gossipchain/chain"
)

// Chain is what the network layer needs of the node's chain and mempool.
// The node passes an implementation that keeps its mempool in step with
// the blocks it processes; p2p never reaches the store directly.
type Chain interface {
	// Params names the network.
	Params() *chain.Params
	// Tip is the main chain's last block.
	Tip() *chain.BlockMeta
	// Stored reports whether a block is stored: valid as far as checked,
	// and not merely waiting in the orphan pool for its parent (the syncer
	// must fetch those again, or their parents would never come).
	Stored(chain.Hash) bool
	// Validated reports whether a block is stored or validated and being
	// committed (chain.Chain.Meta): gossip judges a block's parent in
	// either state alike (protocol.md §16.8). Stored stays the committed
	// state only, which the syncer weighs against the tip.
	Validated(chain.Hash) bool
	// TipChanged returns a channel closed at the next change of the
	// committed tip (chain.Chain.TipChanged): gossip waits on it for a
	// commit under way to end before it announces the new tip.
	TipChanged() <-chan struct{}
	// OrphanRoot is the missing ancestor of a block waiting for its parent.
	OrphanRoot(chain.Hash) chain.Hash
	// Locator describes the main chain for a peer (see chain.Chain.Locator).
	Locator() ([]chain.Hash, error)
	// MainHash returns the hash of the main-chain block at a height: the
	// syncer builds denser locators from it when a peer's answers hold
	// only our own headers.
	MainHash(height uint64) (chain.Hash, error)
	// NewHeaderChain starts checking a peer's headers from the stored
	// block from, before any of their bodies is fetched (see
	// chain.HeaderChain).
	NewHeaderChain(from chain.Hash) (*chain.HeaderChain, error)
	// HeadersAfter answers a peer's locator from the main chain.
	HeadersAfter(locator []chain.Hash, stop chain.Hash, max int) ([]chain.Header, error)
	// Block returns a stored block.
	Block(chain.Hash) (*chain.Block, error)
	// BlockBytes returns a stored block's canonical encoding
	// (chain.Block.Encode) without decoding it (chain.Chain.BlockBytes):
	// the sync server sends it as it is, and the client checks it all.
	BlockBytes(chain.Hash) ([]byte, error)
	// PrecheckHeader runs the work gate on the header of an unrequested
	// block before its body is decoded (see chain.Chain.PrecheckHeader).
	PrecheckHeader(h *chain.Header) error
	// PrecheckChild judges the header of a block whose parent is being
	// validated by gossip here, against the parent's header, before the
	// block waits for that validation (see chain.Chain.PrecheckChild).
	PrecheckChild(h, parent *chain.Header) error
	// ProcessBlock validates one unrequested block and reports what it
	// connected, even along with an error (orphans it freed may have
	// connected before one of them failed). A block whose branch cannot
	// beat the tip is refused before its body is checked or stored
	// (chain.ErrNotHeavier, chain.ErrLowWork). A block that is stored but
	// did not join the main chain has not met the ledger, so gossip does
	// not forward it. A duplicate is an error (chain.ErrDuplicateBlock),
	// so gossip can ignore it. It may return as soon as the block is
	// fully validated and its change to the main chain known, before the
	// block is stored (ProcessEarly): Block and Stored report it from then
	// on, and a block building on it is processed after it. d, if not
	// nil, is the digest of b's transactions that gossip had made to
	// check a rebuilt compact block (DigestTxs), which the chain's
	// check of b takes rather than hash them again
	// (chain.Chain.CheckBlockDigest).
	ProcessBlock(ctx context.Context, b *chain.Block, d *chain.TxDigest) (BlockResult, error)
	// CheckBlocks runs the context-free checks of a batch the syncer
	// requested, signatures included, on every core and without the
	// chain's lock (see chain.Chain.CheckBlocks): the syncer checks one
	// batch while the one before it connects.
	CheckBlocks(blocks []*chain.Block) *chain.CheckedBlocks
	// ProcessCheckedBlocks validates and connects a checked batch in
	// order (see chain.Chain.ProcessBlocks): blocks the syncer requested
	// after their branch's headers proved more work than the tip, stored
	// whatever their own work. The node updates its mempool after.
	ProcessCheckedBlocks(ctx context.Context, cb *chain.CheckedBlocks) (int, error)
	// AddTxs offers a gossiped batch's transactions to the mempool, in
	// order, their signatures verified together through the signature
	// cache (chain.Chain.CheckTxsSanity); errs[i] is transaction i's
	// outcome, nil when the mempool admitted it now. ids[i] is
	// transaction i's id (its ID, which gossip computed already): the
	// mempool keys the transaction by it, and DigestTxs takes it for the
	// transaction's id in a rebuilt block's merkle check.
	AddTxs(txs []*chain.Transaction, ids []chain.Hash) (errs []error)
	// RangeMempool calls f with each transaction of the mempool, pending
	// or queued, and its id until f returns false (see
	// chain.Mempool.Range): what a compact block is rebuilt from.
	RangeMempool(f func(id chain.Hash, tx *chain.Transaction) bool)
	// DigestTxs returns the digest of a rebuilt compact block's
	// transactions (see chain.Mempool.DigestTxs): ids[i] is the id under
	// which RangeMempool gave txs[i], or zero, and is taken only where
	// the mempool still holds that very transaction under it; every
	// other transaction is hashed.
	DigestTxs(txs []*chain.Transaction, ids []chain.Hash) *chain.TxDigest
}

// BlockResult is what processing one gossiped block did to the main
// chain: gossip decides from it whether to forward the block and whether
// to announce a tip that moved further than the block itself.
type BlockResult struct {
	// Connected counts the blocks that joined the main chain: the block,
	// the orphans that waited for it, and the rest of a branch it made the
	// heaviest.
	Connected int
	// Tip is the main chain's tip afterwards; nil when nothing connected.
	Tip *chain.BlockMeta
	// Joined reports whether the block itself is on the main chain.
	Joined bool
}

// ResultOf summarises a chain change for the block with hash h: the one
// conversion the node's adapter and the tests' chains share.
func ResultOf(ch *chain.Change, h chain.Hash) BlockResult {
	if ch == nil {
		return BlockResult{}
	}
	return BlockResult{Connected: len(ch.Connected), Tip: ch.NewTip, Joined: ch.Joined(h)}
}

// ProcessEarly runs process on a worker goroutine (workers) and returns
// the result for the block with hash h as soon as process calls
// validated (chain.Chain.ProcessCheckedValidated: the block is fully
// validated and its change known, the store commit not yet done) or
// returns, whichever comes first. The commit and whatever follows it go
// on after ProcessEarly returns, so gossip forwards a block one store
// commit sooner on every hop; a commit that fails after that takes the
// node down its store-failure path as any failed commit does. It is how
// both the node and the tests implement Chain.ProcessBlock. The caller
// counts the work that outlives the call, inside process, if it must
// wait for it (the node does so under the lock its close takes).
func ProcessEarly(h chain.Hash, process func(validated func(*chain.Change)) (*chain.Change, error)) (BlockResult, error) {
	type result struct {
		ch  *chain.Change
		err error
	}
	done := make(chan result, 1)
	earlyWorkers.run(func() {
		var once sync.Once
		ch, err := process(func(ch *chain.Change) {
			once.Do(func() { done <- result{ch, nil} })
			// The send made the waiting validator runnable on this
			// goroutine's processor, where it would wait until the
			// commit that follows gives the processor up (a system call
			// or preemption, milliseconds later), unless the other
			// processor is idle to steal it: yield, so the block is
			// forwarded before the commit takes the CPU.
			runtime.Gosched()
		})
		once.Do(func() { done <- result{ch, err} })
	})
	r := <-done
	return ResultOf(r.ch, h), r.err
}
