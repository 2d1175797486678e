package chain_test

import (
	"testing"
)

// TestMinedBlockReadsFewParents: mining a block and connecting it checks
// the median time past of its parent three times (the template, the
// precheck, the connect), each over the ten blocks before it. Their
// headers are the previous block's but one, and that one was connected
// last, so a run of blocks mined one after another reads none of them
// from the store, not thirty (docs/benchmarks.md, "One block per API call").
func TestMinedBlockReadsFewParents(t *testing.T) {
	h, c, cs := countingChain(t, 30)
	const blocks = 20
	// The first block fills the cache; count the ones after it.
	var before int
	for i := range blocks + 1 {
		if i == 1 {
			before = cs.reads
		}
		mineConnect(t, c, h.miner.Addr)
	}
	perBlock := float64(cs.reads-before) / blocks
	// Thirty of them were the walks' (41 a block without the cache, 12
	// with it before a connected block's header went in); of the eleven
	// left, six read the parent's meta and one the main chain at its
	// height: the parent is the committed tip, which the chain knows in
	// memory (tipstore.go). What is left (4.05) is the block's own meta that
	// the precheck and the duplicate check find missing, the main chain
	// at the block's height, and the connect's read-ahead of accounts.
	const most = 4.5
	t.Logf("%.1f store reads a mined block", perBlock)
	if perBlock > most {
		t.Errorf("%.1f store reads a mined block, want at most %.1f", perBlock, most)
	}
	if got := c.Tip().Height(); got != 30+blocks+1 {
		t.Fatalf("tip at %d, want %d", got, 30+blocks+1)
	}
}
