package chain_test

import (
	"context"
	"testing"
)

// TestMinedBlockReadsFewParents: mining a block and connecting it checks
// the median time past of its parent three times (the template, the
// precheck, the connect), each over the ten blocks before it. Their
// headers are the previous block's but one, and that one was connected
// last, so a run of blocks mined one after another reads none of them
// from the store, not thirty (docs/benchmarks.md, "One block per API call").
func TestMinedBlockReadsFewParents(t *testing.T) {
	h := newHarness(t, nil)
	h.extend(h.tipHash(), 30)
	h.close()
	c, cs := openCounting(t, h.p, h.dir)
	const blocks = 20
	// The first block fills the cache; count the ones after it.
	var before int
	for i := range blocks + 1 {
		if i == 1 {
			before = cs.reads
		}
		b, err := c.Mine(context.Background(), nil, h.miner.Addr, 1, nil)
		if err != nil {
			t.Fatalf("mine %d: %v", i, err)
		}
		if _, err := c.ProcessBlock(context.Background(), b); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	perBlock := float64(cs.reads-before) / blocks
	// Thirty of them were the walks' (41 a block without the cache, 12
	// with it before a connected block's header went in); of the eleven
	// left, six read the parent's meta, which is the committed tip, and
	// the chain knows it in memory (tipstore.go). What is left (5) is the
	// block's own meta that the precheck and the duplicate check find
	// missing, and the connect's reads of the main chain.
	const most = 6
	t.Logf("%.1f store reads a mined block", perBlock)
	if perBlock > most {
		t.Errorf("%.1f store reads a mined block, want at most %d", perBlock, most)
	}
	if got := c.Tip().Height(); got != 30+blocks+1 {
		t.Fatalf("tip at %d, want %d", got, 30+blocks+1)
	}
}
