package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// newFile creates an empty store at a temporary path and closes it.
func newFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// tamper runs fn in a bbolt write transaction on the closed store at path.
func tamper(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func put(bucket string, key, val []byte) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Put(key, val) }
}

// newFileWithBlock creates a store at a temporary path holding one block
// on the main chain, with its undo record and tx index, and closes it. It
// returns the path, the block's hash, height and encoding, and its
// coinbase's id.
func newFileWithBlock(t *testing.T) (path string, h chain.Hash, height uint64, enc []byte, txid chain.Hash) {
	t.Helper()
	path = filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, h, txid := oneBlockBatch(5, "x")
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
	return path, h, 5, b.Blocks[h].Encode(), txid
}

// oneBlockBatch returns the batch that puts a block of one coinbase to
// addr on the main chain at height, with its undo record and tx index,
// and the block's hash and its coinbase's id.
func oneBlockBatch(height uint64, addr string) (b *chain.Batch, h, txid chain.Hash) {
	blk := &chain.Block{Header: chain.Header{Version: chain.HeaderVersion, Height: height}, Transactions: []*chain.Transaction{
		{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: addr, Amount: 50},
	}}
	h, txid = blk.Hash(), blk.Transactions[0].ID()
	b = chain.NewBatch()
	b.Blocks[h] = blk
	b.Metas[h] = &chain.BlockMeta{Hash: h, Header: blk.Header, Work: big.NewInt(6), Status: chain.StatusConnected,
		Size: uint32(blk.EncodedSize()), TxCount: 1}
	b.Undos[h] = &chain.Undo{Entries: []chain.UndoEntry{{Address: addr}}}
	b.Main[height] = h
	b.TxIndex[txid] = h
	b.Tip = h
	return b, h, txid
}

// TestCorruptRecord writes garbage under each kind of key with bbolt
// directly: reading it must fail with ErrCorrupt, and not panic.
func TestCorruptRecord(t *testing.T) {
	undo := func(count uint32, rest ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, count), rest...)
	}
	entry := func(addrLen byte, addr string) []byte {
		return append(append([]byte{addrLen}, addr...), make([]byte, accountSize)...)
	}
	goodBlock := (&chain.Block{Header: chain.Header{Version: chain.HeaderVersion, Height: 5}, Transactions: []*chain.Transaction{
		{Version: chain.TxVersion, Sender: "0", Recipient: "x", Amount: 50},
	}}).Encode()
	index := func(height uint64, work ...byte) []byte {
		return append(append(heightKey(height), byte(chain.StatusConnected)), work...)
	}
	del := func(bucket string, key []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Delete(key) }
	}

	path, h, height, enc, txid := newFileWithBlock(t)
	bk := chunkKey(nil, height, h, 0)
	rec := func(blk []byte) []byte { return appendBlockRecord(nil, blk, nil) }
	withUndo := func(undo []byte) []byte { return appendBlockRecord(nil, enc, undo) }
	block := func(s *Store) error { _, err := s.Block(h); return err }
	meta := func(s *Store) error { _, err := s.Meta(h); return err }
	undoRead := func(s *Store) error { _, err := s.Undo(h); return err }
	tests := []struct {
		name   string
		tamper func(tx *bolt.Tx) error
		read   func(s *Store) error
	}{
		{"block record garbage", put(bucketBlocks, bk, []byte("garbage")), block},
		{"block record's length past its end", put(bucketBlocks, bk, rec(goodBlock)[:len(goodBlock)]), block},
		{"block record's length too long", put(bucketBlocks, bk, append(binary.AppendUvarint(nil, chain.MaxBlockSize+1), make([]byte, chain.MaxBlockSize+1)...)), block},
		{"block record empty", put(bucketBlocks, bk, []byte{}), block},
		{"block garbage", put(bucketBlocks, bk, rec([]byte("garbage"))), block},
		{"block truncated", put(bucketBlocks, bk, rec(goodBlock[:len(goodBlock)-3])), block},
		{"block huge tx count", put(bucketBlocks, bk, rec(append(bytes.Clone(goodBlock[:chain.HeaderSize]), 0xff, 0xff, 0xff, 0xff, 0x0f))), block},
		{"block record missing", del(bucketBlocks, bk), block},
		{"meta of a block record missing", del(bucketBlocks, bk), meta},
		{"meta of a block record too short", put(bucketBlocks, bk, rec(goodBlock[:chain.HeaderSize])), meta},
		{"meta of a header at another height", put(bucketBlocks, bk, rec((&chain.Block{Header: chain.Header{Height: 6}}).Encode())), meta},
		{"undo of a block record missing", del(bucketBlocks, bk), undoRead},
		{"meta short", put(bucketMetas, h[:], index(height)[:indexFixed-1]), meta},
		{"meta long", put(bucketMetas, h[:], index(height, make([]byte, workSize+1)...)), meta},
		{"meta work with a leading zero", put(bucketMetas, h[:], index(height, 0, 1)), meta},
		{"meta at another height", put(bucketMetas, h[:], index(height+1, 1)), meta},
		// Open's catch-up reads the tip's meta when the mark is not at
		// the tip: a damaged one is left for the reads to report.
		{"tip's meta short, no index mark", func(tx *bolt.Tx) error {
			if err := del(bucketMeta, []byte(keyIndexed))(tx); err != nil {
				return err
			}
			return put(bucketMetas, h[:], index(height)[:indexFixed-1])(tx)
		}, meta},
		{"main short hash", put(bucketMain, heightKey(height), make([]byte, 31)), func(s *Store) error { _, err := s.MainHash(height); return err }},
		{"txindex long record", put(bucketTxIndex, txid[:], make([]byte, heightKeySize+1)), func(s *Store) error { _, err := s.TxLocation(txid); return err }},
		{"txindex height off the main chain", put(bucketTxIndex, txid[:], heightKey(height+1)), func(s *Store) error { _, err := s.TxLocation(txid); return err }},
		{"tip short", put(bucketMeta, []byte(keyTip), []byte{1, 2, 3}), func(s *Store) error { _, err := s.Tip(); return err }},
		{"account short", put(bucketAccounts, accountKey("a"), make([]byte, accountSize-1)), func(s *Store) error { _, err := s.Account("a"); return err }},
		{"undo empty", put(bucketBlocks, bk, withUndo([]byte{0})), undoRead},
		{"undo count beyond limit", put(bucketBlocks, bk, withUndo(undo(0xffffffff))), undoRead},
		{"undo count beyond bytes", put(bucketBlocks, bk, withUndo(undo(3, entry(1, "a")...))), undoRead},
		{"undo empty address", put(bucketBlocks, bk, withUndo(undo(1, entry(0, "")...))), undoRead},
		{"undo address too long", put(bucketBlocks, bk, withUndo(undo(1, entry(chain.MaxNameLen+1, string(make([]byte, chain.MaxNameLen+1)))...))), undoRead},
		{"undo address past end", put(bucketBlocks, bk, withUndo(undo(1, 40, 'a', 'b'))), undoRead},
		{"undo compact address truncated", put(bucketBlocks, bk, withUndo(undo(1, append([]byte{compactTag}, make([]byte, compactAddrLen-1+accountSize)...)...))), undoRead},
		{"undo gc address written long", put(bucketBlocks, bk, withUndo(undo(1, entry(byte(chain.AddressLen), chain.AddressPrefix+strings.Repeat("ab", compactAddrLen))...))), undoRead},
		{"undo trailing bytes", put(bucketBlocks, bk, withUndo(undo(1, append(entry(1, "a"), 9)...))), undoRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), FileName)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			tamper(t, p, tt.tamper)
			s, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := tt.read(s); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read = %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestSchema: Open refuses files it cannot read rather than misreading
// them.
func TestSchema(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(tx *bolt.Tx) error
		want   error
	}{
		{"newer version", put(bucketMeta, []byte(keyVersion), binary.BigEndian.AppendUint32(nil, SchemaVersion+1)), ErrSchema},
		{"version 1", put(bucketMeta, []byte(keyVersion), binary.BigEndian.AppendUint32(nil, 1)), ErrSchema},
		{"version zero", put(bucketMeta, []byte(keyVersion), make([]byte, 4)), ErrSchema},
		{"version garbled", put(bucketMeta, []byte(keyVersion), []byte{1}), ErrCorrupt},
		{"bucket missing", func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(bucketTxIndex)) }, ErrCorrupt},
		{"not a gossipchain store", func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket([]byte(bucketMeta)); err != nil {
				return err
			}
			_, err := tx.CreateBucket([]byte("other"))
			return err
		}, ErrSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := newFile(t)
			tamper(t, path, tt.tamper)
			s, err := Open(path)
			if !errors.Is(err, tt.want) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}

	t.Run("not a bbolt file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err == nil {
			s.Close()
			t.Fatal("Open of a garbage file succeeded")
		}
		t.Log(err)
	})
}

func FuzzDecodeMeta(f *testing.F) {
	m := &chain.BlockMeta{
		Header: chain.Header{Version: 1, Height: 7, Bits: 0x1d00ffff, Timestamp: -1, Nonce: 99},
		Work:   new(big.Int).Lsh(big.NewInt(3), 200), Status: chain.StatusConnected,
	}
	m.Hash = m.Header.Hash()
	enc, err := encodeIndex(m)
	if err != nil {
		f.Fatal(err)
	}
	blk := (&chain.Block{Header: m.Header, Transactions: []*chain.Transaction{
		{Version: chain.TxVersion, Sender: "0", Recipient: "x", Amount: 50},
	}}).Encode()
	f.Add(enc, blk)
	f.Add(enc[:indexFixed], blk[:chain.HeaderSize+1])
	f.Add(enc[:indexFixed-1], blk[:chain.HeaderSize])
	f.Fuzz(func(t *testing.T, idx, blk []byte) {
		rec, err := decodeIndex(idx)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		m, err := metaOf(chain.Hash{}, rec, blk, len(blk))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := encodeIndex(m)
		if err != nil || !bytes.Equal(again, idx) {
			t.Fatalf("re-encoding %x gave %x, %v", idx, again, err)
		}
		if int(m.Size) != len(blk) || m.Height() != rec.height {
			t.Fatalf("meta %+v from a block record of %d bytes at height %d", m, len(blk), rec.height)
		}
	})
}

func FuzzDecodeUndo(f *testing.F) {
	enc, err := encodeUndo(&chain.Undo{Entries: []chain.UndoEntry{
		{Address: "gc0123", Prev: chain.Account{Balance: -5, Nonce: 2}},
		{Address: "x", Prev: chain.Account{Balance: 1 << 40}},
		{Address: chain.AddressPrefix + strings.Repeat("0f", compactAddrLen), Prev: chain.Account{Nonce: 3}},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add(enc[:len(enc)-1])
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUndo(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := encodeUndo(u)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gave %x, %v", b, again, err)
		}
	})
}
