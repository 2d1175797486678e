package store

import (
	"bytes"
	"errors"
	"math/big"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// bigBlock returns a block at height of n transfers and its meta: about
// 130 bytes a transfer, so a few hundred take many chunks.
func bigBlock(height uint64, n int) (*chain.Block, *chain.BlockMeta) {
	txs := []*chain.Transaction{{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: "miner", Amount: 50, Nonce: height}}
	for i := range n {
		txs = append(txs, &chain.Transaction{Version: chain.TxVersion, Sender: "alice", Recipient: "bob",
			Amount: uint64(i + 1), Nonce: uint64(i), PublicKey: make([]byte, 32), Signature: make([]byte, 64)})
	}
	blk := &chain.Block{Header: chain.Header{Version: chain.HeaderVersion, Height: height,
		MerkleRoot: chain.MerkleRoot(chain.TxIDs(txs))}, Transactions: txs}
	h := blk.Hash()
	return blk, &chain.BlockMeta{Hash: h, Header: blk.Header, Work: big.NewInt(int64(height) + 1),
		Status: chain.StatusConnected, Size: uint32(blk.EncodedSize()), TxCount: uint32(len(txs))}
}

// chunkedRecords makes the store keep every record in chunks, as
// versions 3 and 4 did, until the function it returns is called: a
// version-5 store reads the chunks such a file holds.
func chunkedRecords() (restore func()) {
	old := fileRecordMin
	fileRecordMin = maxRecordSize
	return func() { fileRecordMin = old }
}

// reopenTampered stores blk with its meta m in a new store, closes it,
// runs tamper on the store file's path and returns the store opened
// again, closed when the test ends.
func reopenTampered(t *testing.T, blk *chain.Block, m *chain.BlockMeta, tamper func(path string)) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	storeBlock(t, s, blk, m, nil)
	s.Close()
	tamper(path)
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// wantCorrupt fails unless reading block h, whole or as its bytes, is
// ErrCorrupt.
func wantCorrupt(t *testing.T, s *Store, h chain.Hash) {
	t.Helper()
	if got, err := s.Block(h); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Block = %v, %v; want ErrCorrupt", got != nil, err)
	}
	if _, err := s.BlockBytes(h); !errors.Is(err, ErrCorrupt) {
		t.Errorf("BlockBytes: %v, want ErrCorrupt", err)
	}
}

// chunksOf returns the keys filed under block h at height.
func chunksOf(t *testing.T, s *Store, height uint64, h chain.Hash) [][]byte {
	t.Helper()
	var keys [][]byte
	prefix := chunkKey(nil, height, h, 0)[:blockKeySize]
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketBlocks)).Cursor()
		for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRecordChunks: a block record in chunks (as versions 3 and 4 kept
// every record), of any size, reads back whole through every read; an
// undo record put alone that shrinks or grows the record leaves exactly
// its chunks; deleting the block leaves none.
func TestRecordChunks(t *testing.T) {
	t.Cleanup(chunkedRecords())
	undoOf := undoOfSize
	for _, tc := range []struct {
		name string
		txs  int
	}{
		{"one chunk", 0},
		{"about one chunk", 60},
		{"many chunks", 1500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), FileName), WithNoSync(true))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			blk, m := bigBlock(3, tc.txs)
			h := m.Hash
			b := chain.NewBatch()
			b.Blocks[h], b.Metas[h], b.Undos[h] = blk, m, undoOf(tc.txs+1)
			if err := s.Apply(b); err != nil {
				t.Fatal(err)
			}
			// The record as stored, then an undo record alone that grows
			// it, one that shrinks it, and its deletion.
			for i, u := range []*chain.Undo{b.Undos[h], undoOf(2 * (tc.txs + 40)), undoOf(1), nil} {
				if i > 0 {
					ub := chain.NewBatch()
					ub.Undos[h] = u
					if err := s.Apply(ub); err != nil {
						t.Fatal(err)
					}
				}
				checkBlock(t, s, blk, m, u)
				var undoLen int
				if u != nil {
					enc, err := encodeUndo(u)
					if err != nil {
						t.Fatal(err)
					}
					undoLen = len(enc)
				}
				want := chunkCount(len(appendBlockRecord(nil, blk.Encode(), make([]byte, undoLen))))
				if keys := chunksOf(t, s, 3, h); len(keys) != want {
					t.Fatalf("%d chunks filed, want %d", len(keys), want)
				}
			}
			del := chain.NewBatch()
			del.Blocks[h], del.Metas[h], del.Undos[h] = nil, nil, nil
			if err := s.Apply(del); err != nil {
				t.Fatal(err)
			}
			if keys := chunksOf(t, s, 3, h); len(keys) != 0 {
				t.Fatalf("%d chunks left after the block was deleted", len(keys))
			}
		})
	}
}

// TestCorruptChunks: a record whose chunks are missing, out of sequence
// or of the wrong size reads as ErrCorrupt, never as a wrong block.
func TestCorruptChunks(t *testing.T) {
	t.Cleanup(chunkedRecords())
	blk, m := bigBlock(3, 300)
	h := m.Hash
	rec := appendBlockRecord(nil, blk.Encode(), nil)
	if chunkCount(len(rec)) < 4 {
		t.Fatalf("the record takes %d chunks, the test needs 4", chunkCount(len(rec)))
	}
	key := func(i int) []byte { return chunkKey(nil, 3, h, i) }
	for _, tc := range []struct {
		name string
		fn   func(b *bolt.Bucket) error
	}{
		{"first chunk missing", func(b *bolt.Bucket) error { return b.Delete(key(0)) }},
		{"middle chunk missing", func(b *bolt.Bucket) error { return b.Delete(key(2)) }},
		{"middle chunk short", func(b *bolt.Bucket) error { return b.Put(key(1), rec[recordChunk:2*recordChunk-1]) }},
		{"middle chunk long", func(b *bolt.Bucket) error { return b.Put(key(1), rec[recordChunk:2*recordChunk+1]) }},
		{"first chunk short", func(b *bolt.Bucket) error { return b.Put(key(0), rec[:10]) }},
		{"first chunk empty", func(b *bolt.Bucket) error { return b.Put(key(0), []byte{}) }},
		{"a chunk past the index", func(b *bolt.Bucket) error { return b.Put(key(maxChunks+5), []byte{1}) }},
		{"a key of another length", func(b *bolt.Bucket) error { return b.Put(append(key(1), 0), []byte{1}) }},
		{"a chunk after the last", func(b *bolt.Bucket) error {
			return b.Put(key(chunkCount(len(rec))), []byte{1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := reopenTampered(t, blk, m, func(path string) {
				tamper(t, path, func(tx *bolt.Tx) error { return tc.fn(tx.Bucket([]byte(bucketBlocks))) })
			})
			wantCorrupt(t, s, h)
		})
	}
}

// FuzzRecordHead: no first chunk makes recordHead panic or claim more of
// the encoding than it holds.
func FuzzRecordHead(f *testing.F) {
	blk, _ := bigBlock(3, 80)
	rec := appendBlockRecord(nil, blk.Encode(), nil)
	f.Add(rec[:recordChunk])
	f.Add(rec[:50])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, head []byte) {
		size, enc, err := recordHead(head)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if size > chain.MaxBlockSize || len(enc) > size || len(enc) > len(head) {
			t.Fatalf("head of %d bytes: size %d, %d bytes of the encoding", len(head), size, len(enc))
		}
	})
}
