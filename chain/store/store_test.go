package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// TestRoundTrip writes every kind of record, reads each back, then deletes
// one kind at a time and checks that only that kind went.
func TestRoundTrip(t *testing.T) {
	st, _ := openTemp(t)
	g := newGen(1, 8)
	full := chain.NewBatch()
	for _, nTx := range []int{3, 0, 5, 2} {
		g.connect(full, nTx)
	}
	mustApply(t, st, full)

	kinds := recordKinds()
	for _, k := range kinds {
		t.Run("put/"+k.name, func(t *testing.T) { k.has(t, st, full) })
	}
	if tip, err := st.Tip(); err != nil || tip != full.Tip {
		t.Fatalf("Tip = %s, %v; want %s", tip.Short(), err, full.Tip.Short())
	}

	for i, k := range kinds {
		del := chain.NewBatch()
		k.del(full, del)
		mustApply(t, st, del)
		t.Run("delete/"+k.name, func(t *testing.T) {
			k.gone(t, st, full)
			for _, other := range kinds[i+1:] {
				other.has(t, st, full)
			}
		})
	}
	// A batch without a tip leaves the tip alone.
	if tip, err := st.Tip(); err != nil || tip != full.Tip {
		t.Fatalf("Tip after deletions = %s, %v; want %s", tip.Short(), err, full.Tip.Short())
	}
}

func TestEmptyStore(t *testing.T) {
	st, _ := openTemp(t)
	var h chain.Hash
	h[0] = 1
	checks := map[string]error{}
	_, checks["Tip"] = st.Tip()
	_, checks["Meta"] = st.Meta(h)
	_, checks["Block"] = st.Block(h)
	_, checks["MainHash"] = st.MainHash(0)
	_, checks["Undo"] = st.Undo(h)
	_, checks["TxLocation"] = st.TxLocation(h)
	for name, err := range checks {
		if !errors.Is(err, chain.ErrNotFound) {
			t.Errorf("%s on an empty store: %v, want chain.ErrNotFound", name, err)
		}
	}
	for _, addr := range []string{"", "nobody", strings.Repeat("x", 40000)} {
		if a, err := st.Account(addr); err != nil || !a.IsZero() {
			t.Errorf("Account(%.10q) = %+v, %v; want zero, nil", addr, a, err)
		}
	}
	if err := st.Apply(nil); err != nil {
		t.Errorf("Apply(nil) = %v", err)
	}
	if err := st.Apply(chain.NewBatch()); err != nil {
		t.Errorf("Apply(empty) = %v", err)
	}
}

// TestBadBatch: a batch holding one record the store cannot keep fails
// whole, and leaves nothing of itself behind.
func TestBadBatch(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(b *chain.Batch, blk *chain.Block)
	}{
		{"block under another hash", func(b *chain.Batch, blk *chain.Block) { b.Blocks[chain.Hash{1}] = blk }},
		{"meta hash not its key", func(b *chain.Batch, blk *chain.Block) {
			m := *b.Metas[blk.Hash()]
			b.Metas[chain.Hash{2}] = &m
		}},
		{"meta header not its hash", func(b *chain.Batch, blk *chain.Block) {
			m := *b.Metas[blk.Hash()]
			m.Header.Nonce++
			b.Metas[blk.Hash()] = &m
		}},
		{"meta without work", func(b *chain.Batch, blk *chain.Block) { b.Metas[blk.Hash()].Work = nil }},
		{"meta negative work", func(b *chain.Batch, blk *chain.Block) { b.Metas[blk.Hash()].Work.SetInt64(-1) }},
		{"meta work over 256 bits", func(b *chain.Batch, blk *chain.Block) { b.Metas[blk.Hash()].Work.Lsh(b.Metas[blk.Hash()].Work, 300) }},
		{"undo entry without address", func(b *chain.Batch, blk *chain.Block) {
			b.Undos[blk.Hash()].Entries = append(b.Undos[blk.Hash()].Entries, chain.UndoEntry{})
		}},
		{"undo with too many entries", func(b *chain.Batch, blk *chain.Block) {
			u := b.Undos[blk.Hash()]
			for len(u.Entries) <= 2*chain.MaxBlockTxs {
				u.Entries = append(u.Entries, chain.UndoEntry{Address: "a"})
			}
		}},
		{"block without its meta", func(b *chain.Batch, blk *chain.Block) { delete(b.Metas, blk.Hash()) }},
		{"meta without its block, not stored", func(b *chain.Batch, blk *chain.Block) { delete(b.Blocks, blk.Hash()) }},
		{"block deleted without its meta", func(b *chain.Batch, _ *chain.Block) { b.Blocks[chain.Hash{3}] = nil }},
		{"meta deleted without its block", func(b *chain.Batch, _ *chain.Block) { b.Metas[chain.Hash{3}] = nil }},
		{"meta size not the block's", func(b *chain.Batch, blk *chain.Block) { b.Metas[blk.Hash()].Size++ }},
		{"meta tx count not the block's", func(b *chain.Batch, blk *chain.Block) { b.Metas[blk.Hash()].TxCount-- }},
		{"undo of a block not stored", func(b *chain.Batch, _ *chain.Block) { b.Undos[chain.Hash{4}] = &chain.Undo{} }},
		{"tx indexed to a block not stored", func(b *chain.Batch, _ *chain.Block) { b.TxIndex[chain.Hash{5}] = chain.Hash{4} }},
		{"tx indexed to a block off the main chain", func(b *chain.Batch, blk *chain.Block) { delete(b.Main, blk.Header.Height) }},
		{"account without address", func(b *chain.Batch, _ *chain.Block) { b.Accounts[""] = chain.Account{Balance: 1} }},
		{"account address too long", func(b *chain.Batch, _ *chain.Block) {
			b.Accounts[strings.Repeat("a", chain.MaxNameLen+1)] = chain.Account{Balance: 1}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := openTemp(t)
			b := chain.NewBatch()
			blk := newGen(2, 4).connect(b, 2)
			tt.spoil(b, blk)
			if err := st.Apply(b); !errors.Is(err, store.ErrBadBatch) {
				t.Fatalf("Apply = %v, want ErrBadBatch", err)
			}
			if _, err := st.Tip(); !errors.Is(err, chain.ErrNotFound) {
				t.Errorf("Tip after a failed batch: %v, want chain.ErrNotFound", err)
			}
			if _, err := st.Block(blk.Hash()); !errors.Is(err, chain.ErrNotFound) {
				t.Errorf("Block after a failed batch: %v, want chain.ErrNotFound", err)
			}
		})
	}
}

// TestReopen: what was applied before Close is what Open finds.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	st, err := store.OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(3, 32)
	batches := g.batches(100, 7, 3)
	for _, b := range batches {
		mustApply(t, st, b)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := st.Tip(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Tip after Close: %v, want ErrClosed", err)
	}
	if err := st.Apply(batches[0]); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Apply after Close: %v, want ErrClosed", err)
	}

	st, err = store.Open(filepath.Join(path, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if tip, err := st.Tip(); err != nil || tip != g.prev {
		t.Fatalf("Tip after reopen = %s, %v; want %s", tip.Short(), err, g.prev.Short())
	}
	kinds := recordKinds()
	for _, b := range batches {
		for _, k := range kinds {
			if k.name == "accounts" {
				continue // later batches overwrite them; checked below
			}
			k.has(t, st, b)
		}
	}
	for addr, want := range g.ledger {
		if got, err := st.Account(addr); err != nil || got != want {
			t.Errorf("Account(%s) = %+v, %v; want %+v", addr, got, err, want)
		}
	}
}

// TestLocked: a second Open of a file in use fails with ErrLocked after
// the lock timeout instead of hanging, and succeeds once the file is free.
func TestLocked(t *testing.T) {
	st, path := openTemp(t)
	for _, timeout := range []time.Duration{0, 300 * time.Millisecond} {
		start := time.Now()
		second, err := store.Open(path, store.WithLockTimeout(timeout))
		elapsed := time.Since(start)
		if !errors.Is(err, store.ErrLocked) {
			if second != nil {
				second.Close()
			}
			t.Fatalf("second Open (timeout %s) = %v, want ErrLocked", timeout, err)
		}
		// bbolt retries every 50ms and gives up one retry early.
		if elapsed < timeout/2 || elapsed > timeout+2*time.Second {
			t.Errorf("second Open (timeout %s) failed after %s", timeout, elapsed)
		}
		t.Logf("timeout %s: %v after %s", timeout, err, elapsed.Round(time.Millisecond))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := store.Open(path, store.WithLockTimeout(0))
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

// TestConcurrentReads reads the tip chain from several goroutines while
// batches are applied. Run with -race.
func TestConcurrentReads(t *testing.T) {
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(4, 16)
	mustApply(t, st, g.batches(1, 1, 1)[0])
	batches := g.batches(200, 2, 3)

	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		readUntil(&wg, done, errs, func() error {
			tip, err := st.Tip()
			if err == nil {
				_, err = st.Meta(tip)
			}
			if err == nil {
				_, err = st.Block(tip)
			}
			return err
		})
	}
	for _, b := range batches {
		mustApply(t, st, b)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// readUntil runs read in a goroutine of wg, again and again until done
// is closed or it fails, its failure sent to errs.
func readUntil(wg *sync.WaitGroup, done <-chan struct{}, errs chan<- error, read func() error) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := read(); err != nil {
				errs <- err
				return
			}
		}
	}()
}

func TestOpenDirCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if want := filepath.Join(dir, store.FileName); st.Path() != want {
		t.Errorf("Path = %q, want %q", st.Path(), want)
	}
	fi, err := os.Stat(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestMetaAlone: a meta put without its block changes the status of the
// stored block and keeps its body, so does an undo record put or deleted
// alone; deleting the pair with its undo record
// (found through the pair's height before the pair goes) leaves none.
func TestMetaAlone(t *testing.T) {
	st, _ := openTemp(t)
	b := chain.NewBatch()
	blk := newGen(4, 4).connect(b, 2)
	h := blk.Hash()
	mustApply(t, st, b)

	m := *b.Metas[h]
	m.Status = chain.StatusInvalid
	upd := chain.NewBatch()
	upd.Metas[h] = &m
	mustApply(t, st, upd)
	if got, err := st.Meta(h); err != nil || got.Status != chain.StatusInvalid || got.Header != blk.Header {
		t.Fatalf("Meta after a status update = %+v, %v; want status %d, the same header", got, err, chain.StatusInvalid)
	}
	if got, err := st.Block(h); err != nil || got.Hash() != h {
		t.Fatalf("Block after a status update = %v, %v", got, err)
	}

	// An undo record put and deleted alone rewrites the block's record
	// and keeps the block.
	for _, u := range []*chain.Undo{{Entries: []chain.UndoEntry{{Address: "gc01", Prev: chain.Account{Balance: 7}}}}, nil} {
		ub := chain.NewBatch()
		ub.Undos[h] = u
		mustApply(t, st, ub)
		got, err := st.Undo(h)
		if u == nil && !errors.Is(err, chain.ErrNotFound) || u != nil && (err != nil || !reflect.DeepEqual(got, u)) {
			t.Errorf("Undo after putting %+v alone = %+v, %v", u, got, err)
		}
		if got, err := st.Block(h); err != nil || got.Hash() != h {
			t.Errorf("Block after an undo record alone = %v, %v", got, err)
		}
	}

	del := chain.NewBatch()
	del.Blocks[h], del.Metas[h], del.Undos[h] = nil, nil, nil
	mustApply(t, st, del)
	for name, err := range map[string]error{
		"Meta":  func() error { _, err := st.Meta(h); return err }(),
		"Block": func() error { _, err := st.Block(h); return err }(),
		"Undo":  func() error { _, err := st.Undo(h); return err }(),
	} {
		if !errors.Is(err, chain.ErrNotFound) {
			t.Errorf("%s after the pair was deleted: %v, want chain.ErrNotFound", name, err)
		}
	}
}

// TestAddressForms: every kind of name comes back as it went in, from the
// accounts and from an undo record, whichever form the store files it in
// (a gc address compact, anything else as it is).
func TestAddressForms(t *testing.T) {
	st, _ := openTemp(t)
	g := newGen(5, 1)
	gcAddr := g.addrs[0]
	names := []string{
		gcAddr,
		strings.ToUpper(gcAddr[:2]) + gcAddr[2:],                                  // not the gc prefix
		gcAddr[:2] + strings.ToUpper(gcAddr[2:]),                                  // uppercase digits
		gcAddr[:len(gcAddr)-1],                                                    // one digit short
		gcAddr + "0",                                                              // one digit long
		gcAddr[:len(gcAddr)-1] + "g",                                              // not hex
		"alice", "0", string([]byte{0xff}), strings.Repeat("z", chain.MaxNameLen), // open-network names
	}
	b := chain.NewBatch()
	h := g.connect(b, 0).Hash()
	u := &chain.Undo{}
	for i, name := range names {
		b.Accounts[name] = chain.Account{Balance: int64(i + 1), Nonce: uint64(i)}
		u.Entries = append(u.Entries, chain.UndoEntry{Address: name, Prev: chain.Account{Balance: -int64(i)}})
	}
	b.Undos[h] = u
	mustApply(t, st, b)
	for i, name := range names {
		if got, err := st.Account(name); err != nil || got != (chain.Account{Balance: int64(i + 1), Nonce: uint64(i)}) {
			t.Errorf("Account(%q) = %+v, %v", name, got, err)
		}
	}
	if got, err := st.Undo(h); err != nil || !reflect.DeepEqual(got, u) {
		t.Errorf("Undo = %+v, %v; want %+v", got, err, u)
	}
	// A view reads them all in one transaction, reusing one key buffer
	// whatever the form: each must still find its own record.
	err := st.View(func(v chain.StoreView) error {
		for i, name := range append(names, "never seen", "") {
			want := chain.Account{}
			if i < len(names) {
				want = chain.Account{Balance: int64(i + 1), Nonce: uint64(i)}
			}
			if got, err := v.Account(name); err != nil || got != want {
				t.Errorf("view: Account(%q) = %+v, %v; want %+v", name, got, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
