package store_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// copyStore copies the store file at path and its write-ahead log as
// they are, the store still open, as a crash would leave them, and
// returns the copy's path.
func copyStore(t *testing.T, path string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), store.FileName)
	for _, suffix := range []string{"", store.WALSuffix, store.RecordsSuffix} {
		src, err := os.Open(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(to + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		_ = src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// openCopy opens the store at path, closed when the test ends.
func openCopy(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// checkChain fails unless st's tip is the last of blocks and every block
// of blocks is on its main chain with its transactions, and the accounts
// are g's.
func checkChain(t *testing.T, st *store.Store, blocks []connected, g *gen) {
	t.Helper()
	top := blocks[len(blocks)-1]
	if tip, err := st.Tip(); err != nil || tip != top.hash {
		t.Fatalf("tip %s, %v; want %s at height %d", tip.Short(), err, top.hash.Short(), top.height)
	}
	for _, c := range blocks {
		if h, err := st.MainHash(c.height); err != nil || h != c.hash {
			t.Fatalf("main chain at %d: %s, %v; want %s", c.height, h.Short(), err, c.hash.Short())
		}
		if _, err := st.Block(c.hash); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Undo(c.hash); err != nil {
			t.Fatal(err)
		}
	}
	checkLookups(t, st, blocks)
	if g != nil {
		for _, a := range g.addrs {
			if got, err := st.Account(a); err != nil || got != g.ledger[a] {
				t.Fatalf("account %s: %v, %v; want %v", a, got, err, g.ledger[a])
			}
		}
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestWALReplay: the batches Apply returned, waiting in the memtable,
// are in a copy of the files taken without Close, once it is opened.
func TestWALReplay(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(51, 16)
	blocks := connectN(t, st, g, 9, 5)
	if n := store.PendingBatches(st); n != 8 {
		t.Fatalf("%d batches pending, want 8", n)
	}
	cp := openCopy(t, copyStore(t, path))
	if n := store.PendingBatches(cp); n != 0 {
		t.Fatalf("%d batches pending after Open", n)
	}
	checkChain(t, cp, blocks, g)
	checkOnDisk(t, cp, blocks)
}

// TestWALTornTail: a log whose last record is cut short or damaged (a
// crash while it was written) opens with every record before it.
func TestWALTornTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, wal string, lastStart, end int64)
	}{
		{"cut mid-record", func(t *testing.T, wal string, lastStart, end int64) {
			if err := os.Truncate(wal, (lastStart+end)/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut in the record's head", func(t *testing.T, wal string, lastStart, _ int64) {
			if err := os.Truncate(wal, lastStart+5); err != nil {
				t.Fatal(err)
			}
		}},
		{"a byte flipped", func(t *testing.T, wal string, lastStart, end int64) {
			f, err := os.OpenFile(wal, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			at := (lastStart + end) / 2
			var b [1]byte
			if _, err := f.ReadAt(b[:], at); err != nil {
				t.Fatal(err)
			}
			b[0] ^= 0x10
			if _, err := f.WriteAt(b[:], at); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, path := openTemp(t, store.WithNoSync(true))
			g := newGen(53, 16)
			blocks := connectN(t, st, g, 6, 3)
			lastStart := fileSize(t, path+store.WALSuffix)
			blocks = append(blocks, connectN(t, st, g, 1, 3)...)
			cp := copyStore(t, path)
			tt.damage(t, cp+store.WALSuffix, lastStart, fileSize(t, path+store.WALSuffix))
			got := openCopy(t, cp)
			checkChain(t, got, blocks[:len(blocks)-1], nil)
			last := blocks[len(blocks)-1]
			if _, err := got.Meta(last.hash); !errors.Is(err, chain.ErrNotFound) {
				t.Fatalf("the torn record's block: %v, want not found", err)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestWALReplayIdempotent: a crash after a group commit reached the file
// and before the log was reset replays batches the file holds already,
// over the index entries held back for the blocks before them: every
// block and lookup is there, and the chain goes on.
func TestWALReplayIdempotent(t *testing.T) {
	store.SetPendingBounds(t, 1000, 100)
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(57, 16)
	blocks := connectN(t, st, g, 4, 3) // entries held back, not flushed
	store.SetGroupBound(t, 64)
	blocks = append(blocks, connectN(t, st, g, 5, 3)...)
	store.SetWALResetFault(t, errors.New("disk gone"))
	if err := store.CommitPending(st); err == nil {
		t.Fatal("the group commit reported no failed reset")
	}
	if err := store.CloseWithoutFlush(st); err != nil {
		t.Fatal(err)
	}
	store.SetWALResetFault(t, nil)
	st, err := store.Open(path, store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	checkChain(t, st, blocks, g)
	checkOnDisk(t, st, blocks)
	blocks = append(blocks, connectN(t, st, g, 3, 3)...)
	st = reopen(t, st, path)
	checkChain(t, st, blocks, g)
}

// TestWALHeaderUnreadable: a log whose header does not check is refused
// with ErrCorrupt, saying what to do, rather than ignored: its batches
// were acknowledged. So is a log far larger than a log grows (a sparse
// file of 256 MiB here), without being read: Open had read any log
// whole, whatever its size.
func TestWALHeaderUnreadable(t *testing.T) {
	tests := []struct {
		name  string
		write func(path string) error
	}{
		{"not a log", func(path string) error {
			return os.WriteFile(path, []byte("not a log at all, but long enough"), 0o600)
		}},
		{"too large", func(path string) error { return os.Truncate(path, 256<<20) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, path := openTemp(t, store.WithNoSync(true))
			connectN(t, st, newGen(59, 4), 2, 1)
			cp := copyStore(t, path)
			if err := tt.write(cp + store.WALSuffix); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := store.Open(cp, store.WithNoSync(true))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "operator.md") {
				t.Fatalf("Open = %v, want ErrCorrupt pointing to operator.md", err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 32<<20 {
				t.Fatalf("Open allocated %d bytes to refuse the log", got)
			}
		})
	}
}

// TestWALOfStaleFile: a log whose file moved on since (a newer copy of
// chain.db put back beside the log a crash left) is refused: replayed, it
// would take the tip and the balances back to the log's blocks.
func TestWALOfStaleFile(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(67, 8)
	connectN(t, st, g, 6, 0) // the first committed, five in the log
	if n := store.PendingBatches(st); n != 5 {
		t.Fatalf("%d pending, want 5", n)
	}
	crashed := copyStore(t, path)
	connectN(t, st, g, 10, 0)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	newer, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(crashed, store.WithNoSync(true))
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "another state") {
		t.Fatalf("Open = %v, want ErrCorrupt: the log belongs to another state of chain.db", err)
	}
}

// TestWALOfAnotherFile: a log left behind by a store file that was
// deleted is refused, rather than hanging its blocks over a chain that
// lacks their ancestors.
func TestWALOfAnotherFile(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	connectN(t, st, newGen(61, 4), 4, 1)
	cp := copyStore(t, path)
	if err := os.Remove(cp); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(cp, store.WithNoSync(true))
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "another chain.db") {
		t.Fatalf("Open = %v, want ErrCorrupt naming another chain.db", err)
	}
}
