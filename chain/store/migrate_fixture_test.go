package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// TestWriteV2Fixture writes testdata/v2, the version-2 store that the
// migration tests convert, and the answers the version-2 build gave for
// it (store.Dump). It is run on a version-2 build (80ea615, with the
// dump function of migrate_internal_test.go beside it) with
// GOSSIPCHAIN_WRITE_V2_FIXTURE naming the directory to write; on a
// later build it would write that build's version, so it is skipped
// without the variable.
//
// The chain: blocks of 0 to 200 transfers (records of one chunk and of
// many), a batch of several blocks, and a side block at the tip's height
// that is stored but not connected (no undo record).
func TestWriteV2Fixture(t *testing.T) {
	dir := os.Getenv("GOSSIPCHAIN_WRITE_V2_FIXTURE")
	if dir == "" {
		t.Skip("writes the version-2 fixture on a version-2 build only")
	}
	st, err := store.Open(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := newGen(41, 60)
	for _, n := range []int{0, 1, 40, 0, 120, 3, 0, 200, 7, 60, 0, 1} {
		b := chain.NewBatch()
		g.connect(b, n)
		mustApply(t, st, b)
	}
	for _, b := range g.batches(6, 3, 5) {
		mustApply(t, st, b)
	}
	tip, err := st.Tip()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := st.Meta(tip)
	if err != nil {
		t.Fatal(err)
	}
	txs := []*chain.Transaction{{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: g.addrs[0], Amount: 50, Nonce: tm.Height()}}
	side := &chain.Block{
		Header: chain.Header{
			Version: chain.HeaderVersion, Height: tm.Height(), PrevHash: tm.Header.PrevHash,
			MerkleRoot: chain.MerkleRoot(chain.TxIDs(txs)), Timestamp: tm.Header.Timestamp + 1, Bits: testBits, Nonce: 7,
		},
		Transactions: txs,
	}
	b := chain.NewBatch()
	b.Blocks[side.Hash()] = side
	b.Metas[side.Hash()] = &chain.BlockMeta{
		Hash: side.Hash(), Header: side.Header, Work: tm.Work,
		Size: uint32(side.EncodedSize()), TxCount: uint32(len(txs)),
	}
	mustApply(t, st, b)
	answers, err := store.Dump(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "answers.txt"), []byte(answers), 0o644); err != nil {
		t.Fatal(err)
	}
}
