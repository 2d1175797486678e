package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"os"
	"path/filepath"
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

// TestCorruptRecord writes garbage under each kind of key with bbolt
// directly: reading it must fail with ErrCorrupt, and not panic.
func TestCorruptRecord(t *testing.T) {
	h := chain.Hash{0xab}
	undo := func(count uint32, rest ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, count), rest...)
	}
	entry := func(addrLen byte, addr string) []byte {
		return append(append([]byte{addrLen}, addr...), make([]byte, accountSize)...)
	}
	goodBlock := (&chain.Block{Header: chain.Header{Version: chain.HeaderVersion}, Transactions: []*chain.Transaction{
		{Version: chain.TxVersion, Sender: "0", Recipient: "x", Amount: 50},
	}}).Encode()

	tests := []struct {
		name   string
		bucket string
		key    []byte
		val    []byte
		read   func(s *Store) error
	}{
		{"block garbage", bucketBlocks, h[:], []byte("garbage"), func(s *Store) error { _, err := s.Block(h); return err }},
		{"block truncated", bucketBlocks, h[:], goodBlock[:len(goodBlock)-3], func(s *Store) error { _, err := s.Block(h); return err }},
		{"block trailing bytes", bucketBlocks, h[:], append(bytes.Clone(goodBlock), 0), func(s *Store) error { _, err := s.Block(h); return err }},
		{"block huge tx count", bucketBlocks, h[:], append(bytes.Clone(goodBlock[:chain.HeaderSize]), 0xff, 0xff, 0xff, 0xff, 0x0f), func(s *Store) error { _, err := s.Block(h); return err }},
		{"meta short", bucketMetas, h[:], make([]byte, metaSize-1), func(s *Store) error { _, err := s.Meta(h); return err }},
		{"meta long", bucketMetas, h[:], make([]byte, metaSize+1), func(s *Store) error { _, err := s.Meta(h); return err }},
		{"main short hash", bucketMain, heightKey(5), make([]byte, 31), func(s *Store) error { _, err := s.MainHash(5); return err }},
		{"txindex long hash", bucketTxIndex, h[:], make([]byte, 33), func(s *Store) error { _, err := s.TxLocation(h); return err }},
		{"tip short", bucketMeta, []byte(keyTip), []byte{1, 2, 3}, func(s *Store) error { _, err := s.Tip(); return err }},
		{"account short", bucketAccounts, []byte("a"), make([]byte, accountSize-1), func(s *Store) error { _, err := s.Account("a"); return err }},
		{"undo empty", bucketUndo, h[:], []byte{0}, func(s *Store) error { _, err := s.Undo(h); return err }},
		{"undo count beyond limit", bucketUndo, h[:], undo(0xffffffff), func(s *Store) error { _, err := s.Undo(h); return err }},
		{"undo count beyond bytes", bucketUndo, h[:], undo(3, entry(1, "a")...), func(s *Store) error { _, err := s.Undo(h); return err }},
		{"undo empty address", bucketUndo, h[:], undo(1, entry(0, "")...), func(s *Store) error { _, err := s.Undo(h); return err }},
		{"undo address too long", bucketUndo, h[:], undo(1, entry(chain.MaxNameLen+1, string(make([]byte, chain.MaxNameLen+1)))...), func(s *Store) error { _, err := s.Undo(h); return err }},
		{"undo address past end", bucketUndo, h[:], undo(1, 40, 'a', 'b'), func(s *Store) error { _, err := s.Undo(h); return err }},
		{"undo trailing bytes", bucketUndo, h[:], undo(1, append(entry(1, "a"), 9)...), func(s *Store) error { _, err := s.Undo(h); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := newFile(t)
			tamper(t, path, put(tt.bucket, tt.key, tt.val))
			s, err := Open(path)
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
		{"version zero", put(bucketMeta, []byte(keyVersion), make([]byte, 4)), ErrSchema},
		{"version garbled", put(bucketMeta, []byte(keyVersion), []byte{1}), ErrCorrupt},
		{"bucket missing", func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(bucketUndo)) }, ErrCorrupt},
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
		Work:   new(big.Int).Lsh(big.NewInt(3), 200), Status: chain.StatusConnected, Size: 1234, TxCount: 3,
	}
	m.Hash = m.Header.Hash()
	enc, err := encodeMeta(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add(enc[:metaSize-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(chain.Hash{}, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := encodeMeta(m)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gave %x, %v", b, again, err)
		}
	})
}

func FuzzDecodeUndo(f *testing.F) {
	enc, err := encodeUndo(&chain.Undo{Entries: []chain.UndoEntry{
		{Address: "gc0123", Prev: chain.Account{Balance: -5, Nonce: 2}},
		{Address: "x", Prev: chain.Account{Balance: 1 << 40}},
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
