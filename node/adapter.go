package node

import (
	"context"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/p2p"
)

// chainAdapter is the node as p2p sees it: the chain's reads, and block
// and transaction intake that keeps the mempool in step. It only adapts:
// what to do about a block's result (forward, announce, ask for its
// parents) is p2p's to decide.
type chainAdapter struct{ n *Node }

var (
	_ p2p.Chain    = chainAdapter{}
	_ p2p.FeeFloor = chainAdapter{}
)

func (a chainAdapter) Params() *chain.Params       { return a.n.chain.Params() }
func (a chainAdapter) Tip() *chain.BlockMeta       { return a.n.chain.Tip() }
func (a chainAdapter) Stored(h chain.Hash) bool    { return a.n.chain.Committed(h) }
func (a chainAdapter) TipChanged() <-chan struct{} { return a.n.chain.TipChanged() }
func (a chainAdapter) Validated(h chain.Hash) bool {
	_, err := a.n.chain.Meta(h)
	return err == nil
}
func (a chainAdapter) OrphanRoot(h chain.Hash) chain.Hash         { return a.n.chain.OrphanRoot(h) }
func (a chainAdapter) Locator() ([]chain.Hash, error)             { return a.n.chain.Locator() }
func (a chainAdapter) MainHash(height uint64) (chain.Hash, error) { return a.n.chain.MainHash(height) }
func (a chainAdapter) Block(h chain.Hash) (*chain.Block, error)   { return a.n.chain.Block(h) }
func (a chainAdapter) BlockBytes(h chain.Hash) ([]byte, error)    { return a.n.chain.BlockBytes(h) }
func (a chainAdapter) PrecheckHeader(h *chain.Header) error       { return a.n.chain.PrecheckHeader(h) }
func (a chainAdapter) PrecheckChild(h, parent *chain.Header) error {
	return a.n.chain.PrecheckChild(h, parent)
}
func (a chainAdapter) NewHeaderChain(from chain.Hash) (*chain.HeaderChain, error) {
	return a.n.chain.NewHeaderChain(from)
}
func (a chainAdapter) HeadersAfter(loc []chain.Hash, stop chain.Hash, max int) ([]chain.Header, error) {
	return a.n.chain.HeadersAfter(loc, stop, max)
}
func (a chainAdapter) ProcessBlock(ctx context.Context, b *chain.Block, d *chain.TxDigest) (p2p.BlockResult, error) {
	return a.n.intake.processGossiped(ctx, b, d)
}
func (a chainAdapter) CheckBlocks(bs []*chain.Block) *chain.CheckedBlocks {
	return a.n.chain.CheckBlocks(bs)
}
func (a chainAdapter) ProcessCheckedBlocks(ctx context.Context, cb *chain.CheckedBlocks) (int, error) {
	return a.n.intake.processChecked(ctx, cb)
}
func (a chainAdapter) AddTxs(txs []*chain.Transaction, ids []chain.Hash) []error {
	return a.n.intake.addTxs(txs, ids, OriginGossip)
}

// MinFee makes the adapter a p2p.FeeFloor: gossip refuses a fee below the
// mempool's minimum relay fee before decoding the transaction. Not its
// rolling minimum: a transaction refused for that is still decoded, to
// be kept among the recent ones a compact block is rebuilt from (a full
// pool is when those matter), and is refused by the pool's precheck,
// before its signature is verified.
func (a chainAdapter) MinFee(size int) uint64 { return a.n.mempool.MinFee(size) }
func (a chainAdapter) RangeMempool(f func(chain.Hash, *chain.Transaction) bool) {
	a.n.mempool.Range(f)
}
func (a chainAdapter) DigestTxs(txs []*chain.Transaction, ids []chain.Hash) *chain.TxDigest {
	return a.n.mempool.DigestTxs(txs, ids)
}
