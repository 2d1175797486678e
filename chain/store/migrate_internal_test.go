package store

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// Dump is dump for the external tests (migrate_test.go).
var Dump = dump

// dump returns the answer of every query the store serves, one per line,
// found through the queries alone: the main chain from the tip down, the
// side blocks, every transaction of every block, every address any of
// them or any undo record names. Two stores that answer every query the
// same dump the same text, whatever their layout on disk.
func dump(s *Store) (string, error) {
	var out strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }
	tip, err := s.Tip()
	if err != nil {
		return "", err
	}
	line("tip %s", tip)
	tipMeta, err := s.Meta(tip)
	if err != nil {
		return "", err
	}
	var hashes []chain.Hash
	for h := uint64(0); h <= tipMeta.Height(); h++ {
		hash, err := s.MainHash(h)
		if err != nil {
			return "", fmt.Errorf("main %d: %w", h, err)
		}
		line("main %d %s", h, hash)
		hashes = append(hashes, hash)
	}
	if _, err := s.MainHash(tipMeta.Height() + 1); !errors.Is(err, chain.ErrNotFound) {
		return "", fmt.Errorf("main past the tip: %v", err)
	}
	err = s.View(func(v chain.StoreView) error {
		all, err := v.MainHashes(0, len(hashes)+1)
		if err != nil {
			return err
		}
		line("mainhashes %d %t", len(all), slices.Equal(all, hashes))
		return nil
	})
	if err != nil {
		return "", err
	}
	side, err := s.SideMetas()
	if err != nil {
		return "", err
	}
	slices.SortFunc(side, func(a, b *chain.BlockMeta) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	for _, m := range side {
		line("side %s", m.Hash)
		hashes = append(hashes, m.Hash)
	}
	addrs := map[string]bool{}
	var ids []chain.Hash
	for _, h := range hashes {
		m, err := s.Meta(h)
		if err != nil {
			return "", fmt.Errorf("meta %s: %w", h, err)
		}
		line("meta %s height %d status %d work %s size %d txs %d header %s", h, m.Height(), m.Status, m.Work, m.Size, m.TxCount, m.Header.Hash())
		raw, err := s.BlockBytes(h)
		if err != nil {
			return "", fmt.Errorf("block bytes %s: %w", h, err)
		}
		blk, err := s.Block(h)
		if err != nil {
			return "", fmt.Errorf("block %s: %w", h, err)
		}
		line("block %s bytes %x encoded-same %t", h, sha256.Sum256(raw), bytes.Equal(raw, blk.Encode()))
		for _, tx := range blk.Transactions {
			ids = append(ids, tx.ID())
			addrs[tx.Sender], addrs[tx.Recipient] = true, true
		}
		u, err := s.Undo(h)
		switch {
		case errors.Is(err, chain.ErrNotFound):
			line("undo %s none", h)
		case err != nil:
			return "", fmt.Errorf("undo %s: %w", h, err)
		default:
			line("undo %s entries %d", h, len(u.Entries))
			for _, e := range u.Entries {
				line("undo %s %s %d %d", h, e.Address, e.Prev.Balance, e.Prev.Nonce)
				addrs[e.Address] = true
			}
		}
	}
	slices.SortFunc(ids, func(a, b chain.Hash) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range slices.Compact(ids) {
		at, err := s.TxLocation(id)
		if errors.Is(err, chain.ErrNotFound) {
			line("tx %s none", id)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("tx %s: %w", id, err)
		}
		line("tx %s in %s", id, at)
	}
	for _, addr := range slices.Sorted(func(yield func(string) bool) {
		for a := range addrs {
			if !yield(a) {
				return
			}
		}
	}) {
		a, err := s.Account(addr)
		if err != nil {
			return "", fmt.Errorf("account %s: %w", addr, err)
		}
		line("account %s %d %d", addr, a.Balance, a.Nonce)
	}
	return out.String(), nil
}

// v2Fixture is a store written by a version-2 build and the dump of its
// answers there (TestWriteV2Fixture, migrate_fixture_test.go): chain.db
// as that build wrote it, copied key for key into a new file by bbolt's
// Compact (the build's file is 16 MB of mostly holes), and gzipped.
const v2Fixture = "testdata/v2"

// v3Fixture is the same chain written by a version-3 build (b7c3cda, the
// same test), compacted and gzipped the same way. That build's answers
// were byte for byte version 2's, so the fixture keeps no copy of them.
const v3Fixture = "testdata/v3"

// copyV2Fixture copies the version-2 fixture's file into a new directory
// and returns its path and the answers the version-2 build gave.
func copyV2Fixture(t *testing.T) (path, want string) {
	t.Helper()
	return copyFixture(t, v2Fixture)
}

// copyV3Fixture is copyV2Fixture for the version-3 fixture.
func copyV3Fixture(t *testing.T) (path, want string) {
	t.Helper()
	return copyFixture(t, v3Fixture)
}

// copyFixture copies the fixture file of dir into a new directory and
// returns its path and the answers of v2Fixture.
func copyFixture(t *testing.T, dir string) (path, want string) {
	t.Helper()
	gz, err := os.Open(filepath.Join(dir, FileName+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	db, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	answers, err := os.ReadFile(filepath.Join(v2Fixture, "answers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, string(answers)
}

// CopyV2Fixture and CopyV3Fixture are for the external tests.
var (
	CopyV2Fixture = copyV2Fixture
	CopyV3Fixture = copyV3Fixture
)

// layout returns the file's version, whether it carries the migrating
// mark, and how many blocks entries are whole records (version 2's
// 40-byte keys) and how many are chunks.
func layout(t *testing.T, path string) (version uint32, mark bool, whole, chunks int) {
	t.Helper()
	viewFile(t, path, func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(bucketMeta))
		version = binary.BigEndian.Uint32(meta.Get([]byte(keyVersion)))
		mark = meta.Get([]byte(keyMigrating)) != nil
		return tx.Bucket([]byte(bucketBlocks)).ForEach(func(k, _ []byte) error {
			switch len(k) {
			case blockKeySize:
				whole++
			case chunkKeySize:
				chunks++
			default:
				return fmt.Errorf("blocks key of %d bytes", len(k))
			}
			return nil
		})
	})
	return version, mark, whole, chunks
}

// viewFile runs fn in a read transaction of the closed store at path.
func viewFile(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateResumes: a conversion cut short after any of its
// transactions leaves a file that a version-2 build refuses and that the
// next Open finishes, with every query answering as the version-2 build
// did. The budget is cut to a few records a transaction so the fixture
// takes many.
func TestMigrateResumes(t *testing.T) {
	defer func(b int) { migrateBudget = b }(migrateBudget)
	migrateBudget = 2 * recordChunk
	for _, batches := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("after %d batches", batches), func(t *testing.T) {
			path, want := copyV2Fixture(t)
			if v, _, whole, _ := layout(t, path); v != 2 || whole == 0 {
				t.Fatalf("fixture: version %d with %d whole records, want version 2 and some", v, whole)
			}
			// The first steps of migrateV2, then a stop, as a crash would.
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				meta := tx.Bucket([]byte(bucketMeta))
				if err := meta.Put([]byte(keyMigrating), []byte{2}); err != nil {
					return err
				}
				return meta.Put([]byte(keyVersion), binary.BigEndian.AppendUint32(nil, SchemaVersion))
			})
			if err != nil {
				t.Fatal(err)
			}
			var from []byte
			for range batches {
				err := db.Update(func(tx *bolt.Tx) error {
					var err error
					from, _, err = migrateBatch(tx, from)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			v, mark, whole, chunks := layout(t, path)
			if v != SchemaVersion || !mark || whole == 0 || (batches > 0) != (chunks > 0) {
				t.Fatalf("cut short: version %d, mark %t, %d whole records, %d chunks", v, mark, whole, chunks)
			}

			if got := dumpFile(t, path); got != want {
				t.Fatalf("answers after the conversion differ from version 2's:\n%s", firstDiff(got, want))
			}
			if v, mark, whole, chunks := layout(t, path); v != SchemaVersion || mark || whole != 0 || chunks == 0 {
				t.Fatalf("converted: version %d, mark %t, %d whole records, %d chunks", v, mark, whole, chunks)
			}
		})
	}
}

// dumpFile opens the store at path, converting it if it is version 2,
// and returns its dump, having checked the file's page structure.
func dumpFile(t *testing.T, path string) string {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := dump(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	return got
}

// DumpFile is dumpFile for the external tests.
var DumpFile = dumpFile

// firstDiff returns the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, gl, wl)
		}
	}
	return "no line differs"
}

// FirstDiff is firstDiff for the external tests.
var FirstDiff = firstDiff
