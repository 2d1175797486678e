package store_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// TestLargeBlocksWrittenOnce: a commit writes a large block's record once,
// not again with the blocks stored before it. bbolt rewrites the whole
// leaf it puts into and never splits a leaf of four entries or fewer, so
// block records kept whole were written three to five times each
// (chunks.go). The bytes the process hands to write calls while the
// store appends large blocks must stay near the blocks' own size.
func TestLargeBlocksWrittenOnce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		txs         int
		warm, timed int
		maxPerByte  float64 // bytes written per byte of block
	}{
		{"1,500 transfers", 1500, 4, 6, 1.5},
		{"700 transfers", 700, 8, 10, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := openTemp(t, store.WithNoSync(true))
			g := newGen(21, 64)
			var blockBytes, written int64
			for i := range tc.warm + tc.timed {
				full := chain.NewBatch()
				blk := g.connect(full, tc.txs)
				h := blk.Hash()
				// Only the block and its meta: the accounts and the
				// transaction index would write pages of their own.
				b := chain.NewBatch()
				b.Blocks[h], b.Metas[h] = blk, full.Metas[h]
				w0 := procIO(t, "wchar")
				mustApply(t, st, b)
				if i >= tc.warm {
					written += procIO(t, "wchar") - w0
					blockBytes += int64(blk.EncodedSize())
				}
			}
			if got := float64(written) / float64(blockBytes); got > tc.maxPerByte {
				t.Fatalf("appending %d blocks of %d bytes wrote %.2f bytes per byte of block, want at most %.2f",
					tc.timed, blockBytes/int64(tc.timed), got, tc.maxPerByte)
			} else {
				t.Logf("%.2f bytes written per byte of block", got)
			}
		})
	}
}
