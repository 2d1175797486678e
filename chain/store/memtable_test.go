package store_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// readCase is one read method, its answers about blocks and addrs as text.
type readCase struct {
	name string
	read func(st *store.Store, blocks []connected, addrs []string) string
}

// readCases covers every read of chain.Store and of a View.
func readCases() []readCase {
	each := func(blocks []connected, fn func(c connected) string) string {
		var sb strings.Builder
		for _, c := range blocks {
			sb.WriteString(fn(c) + "\n")
		}
		return sb.String()
	}
	return []readCase{
		{"Tip", func(st *store.Store, _ []connected, _ []string) string {
			h, err := st.Tip()
			return fmt.Sprint(h, err)
		}},
		{"Meta", func(st *store.Store, blocks []connected, _ []string) string {
			return each(blocks, func(c connected) string { return metaText(st.Meta(c.hash)) })
		}},
		{"Block", func(st *store.Store, blocks []connected, _ []string) string {
			return each(blocks, func(c connected) string {
				b, err := st.Block(c.hash)
				if err != nil {
					return err.Error()
				}
				return fmt.Sprintf("%x", sha256.Sum256(b.Encode()))
			})
		}},
		{"BlockBytes", func(st *store.Store, blocks []connected, _ []string) string {
			return each(blocks, func(c connected) string {
				b, err := st.BlockBytes(c.hash)
				return fmt.Sprintf("%x %v", sha256.Sum256(b), err)
			})
		}},
		{"MainHash", func(st *store.Store, blocks []connected, _ []string) string {
			return each(blocks, func(c connected) string {
				h, err := st.MainHash(c.height)
				return fmt.Sprint(h, err)
			})
		}},
		{"Account", func(st *store.Store, _ []connected, addrs []string) string {
			var sb strings.Builder
			for _, a := range addrs {
				acct, err := st.Account(a)
				fmt.Fprintln(&sb, a, acct, err)
			}
			return sb.String()
		}},
		{"Undo", func(st *store.Store, blocks []connected, _ []string) string {
			return each(blocks, func(c connected) string {
				u, err := st.Undo(c.hash)
				if err != nil {
					return err.Error()
				}
				return fmt.Sprint(u.Entries)
			})
		}},
		{"TxLocation", func(st *store.Store, blocks []connected, _ []string) string {
			return each(blocks, func(c connected) string {
				var sb strings.Builder
				for _, id := range c.ids {
					h, err := st.TxLocation(id)
					fmt.Fprint(&sb, h, err, " ")
				}
				return sb.String()
			})
		}},
		{"SideMetas", func(st *store.Store, _ []connected, _ []string) string {
			ms, err := st.SideMetas()
			var out []string
			for _, m := range ms {
				out = append(out, metaText(m, nil))
			}
			slices.Sort(out)
			return fmt.Sprint(out, err)
		}},
		{"View", func(st *store.Store, blocks []connected, addrs []string) string {
			var sb strings.Builder
			err := st.View(func(v chain.StoreView) error {
				hs, err := v.MainHashes(0, len(blocks)+5)
				fmt.Fprintln(&sb, "main", hs, err)
				for _, c := range blocks {
					h, err := v.MainHash(c.height)
					fmt.Fprintln(&sb, metaText(v.Meta(c.hash)), h, err)
				}
				for _, a := range addrs {
					acct, err := v.Account(a)
					fmt.Fprintln(&sb, a, acct, err)
				}
				return nil
			})
			return fmt.Sprint(sb.String(), err)
		}},
	}
}

func metaText(m *chain.BlockMeta, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s h=%d st=%d w=%s size=%d txs=%d hdr=%s", m.Hash.Short(), m.Height(), m.Status, m.Work,
		m.Size, m.TxCount, m.Header.Hash().Short())
}

// TestPendingReads: every read answers the batches waiting in the
// memtable as it answers them once committed, and once reopened. A side
// block stored before them that one of them puts on the main chain is
// not a side block any more.
func TestPendingReads(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(31, 12)
	blocks := connectN(t, st, g, 2, 3) // genesis is committed at once

	// A block stored off the main chain, then connected.
	b := chain.NewBatch()
	blk := g.connect(b, 2)
	h := blk.Hash()
	side := chain.NewBatch()
	side.Blocks[h] = blk
	m := *b.Metas[h]
	m.Status = 0
	side.Metas[h] = &m
	mustApply(t, st, side)
	if ms, err := st.SideMetas(); err != nil || len(ms) != 1 {
		t.Fatalf("side metas before the connect: %d, %v", len(ms), err)
	}
	mustApply(t, st, b)
	blocks = append(blocks, connectedOf(blk))
	blocks = append(blocks, connectN(t, st, g, 5, 4)...)
	if n := store.PendingBatches(st); n != 6 {
		t.Fatalf("%d batches pending, want 6", n)
	}

	cases := readCases()
	pending := make([]string, len(cases))
	for i, c := range cases {
		pending[i] = c.read(st, blocks, g.addrs)
	}
	// What the pending reads must say, from the batches themselves.
	want := map[string]func(string) bool{
		"Tip":       func(s string) bool { return strings.HasPrefix(s, blocks[len(blocks)-1].hash.String()) },
		"SideMetas": func(s string) bool { return s == "[] <nil>" },
		"Account": func(s string) bool {
			for _, a := range g.addrs {
				if !strings.Contains(s, fmt.Sprintln(a, g.ledger[a], nil)) {
					return false
				}
			}
			return true
		},
	}
	for i, c := range cases {
		if ok := want[c.name]; ok != nil && !ok(pending[i]) {
			t.Errorf("%s while pending:\n%s", c.name, pending[i])
		}
		if strings.Contains(pending[i], "not found") || strings.Contains(pending[i], "corrupt") {
			t.Errorf("%s while pending:\n%s", c.name, pending[i])
		}
	}
	if err := store.CommitPending(st); err != nil {
		t.Fatal(err)
	}
	if n := store.PendingBatches(st); n != 0 {
		t.Fatalf("%d batches pending after the group commit", n)
	}
	for _, round := range []string{"committed", "reopened"} {
		for i, c := range cases {
			if got := c.read(st, blocks, g.addrs); got != pending[i] {
				t.Errorf("%s %s:\n%s\nwhile pending:\n%s", c.name, round, got, pending[i])
			}
		}
		st = reopen(t, st, path)
	}
}

// TestViewConsistentUnderGroupCommit: a view sees one instant while group
// commits run: the main chain it walks ends at the height the "counter"
// account, written with every block, holds.
func TestViewConsistentUnderGroupCommit(t *testing.T) {
	store.SetGroupBound(t, 3)
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(37, 8)
	const n = 300
	const counter = "counter"
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for range n {
			b := chain.NewBatch()
			blk := g.connect(b, 1)
			b.Accounts[counter] = chain.Account{Balance: int64(blk.Header.Height) + 1}
			if err := st.Apply(b); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range 3 {
		readUntil(&wg, done, errs, func() error {
			return st.View(func(v chain.StoreView) error {
				hs, err := v.MainHashes(0, n+1)
				if err != nil {
					return err
				}
				a, err := v.Account(counter)
				if err != nil {
					return err
				}
				if int64(len(hs)) != a.Balance {
					return fmt.Errorf("a view walks %d main-chain blocks and its counter says %d", len(hs), a.Balance)
				}
				if len(hs) > 0 {
					if _, err := v.Meta(hs[len(hs)-1]); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestNotDeferredCommitsPending: a batch that does not only extend the
// tip (a disconnect, a side block, a meta alone) commits the pending
// batches first and then itself, and reads answer both.
func TestNotDeferredCommitsPending(t *testing.T) {
	tests := []struct {
		name  string
		batch func(t *testing.T, g *gen, blocks []connected, st *store.Store) *chain.Batch
		check func(t *testing.T, st *store.Store, blocks []connected)
	}{
		{"disconnect the tip", disconnectTip, func(t *testing.T, st *store.Store, blocks []connected) {
			top, below := blocks[len(blocks)-1], blocks[len(blocks)-2]
			if tip, err := st.Tip(); err != nil || tip != below.hash {
				t.Fatalf("tip %s, %v; want %s", tip.Short(), err, below.hash.Short())
			}
			if _, err := st.MainHash(top.height); !errors.Is(err, chain.ErrNotFound) {
				t.Fatalf("main chain at the old tip's height: %v", err)
			}
			if _, err := st.Undo(top.hash); !errors.Is(err, chain.ErrNotFound) {
				t.Fatalf("undo of the disconnected block: %v", err)
			}
			for _, id := range top.ids {
				if _, err := st.TxLocation(id); !errors.Is(err, chain.ErrNotFound) {
					t.Fatalf("TxLocation of a disconnected transaction: %v", err)
				}
			}
			checkLookups(t, st, blocks[:len(blocks)-1])
		}},
		{"side block", func(t *testing.T, _ *gen, _ []connected, _ *store.Store) *chain.Batch {
			b := chain.NewBatch()
			newGen(99, 4).connect(b, 1) // another genesis: a side block
			b.Main, b.Undos, b.TxIndex, b.Accounts, b.Tip = map[uint64]chain.Hash{}, map[chain.Hash]*chain.Undo{}, map[chain.Hash]chain.Hash{}, map[string]chain.Account{}, chain.Hash{}
			return b
		}, func(t *testing.T, st *store.Store, blocks []connected) {
			if ms, err := st.SideMetas(); err != nil || len(ms) != 1 {
				t.Fatalf("side metas: %d, %v", len(ms), err)
			}
			checkLookups(t, st, blocks)
		}},
		{"meta alone", func(t *testing.T, _ *gen, blocks []connected, st *store.Store) *chain.Batch {
			m, err := st.Meta(blocks[len(blocks)-1].hash)
			if err != nil {
				t.Fatal(err)
			}
			m.Status |= chain.StatusInvalid
			b := chain.NewBatch()
			b.Metas[m.Hash] = m
			return b
		}, func(t *testing.T, st *store.Store, blocks []connected) {
			if m, err := st.Meta(blocks[len(blocks)-1].hash); err != nil || m.Status&chain.StatusInvalid == 0 {
				t.Fatalf("meta after the status change: %v, %v", m, err)
			}
			checkLookups(t, st, blocks)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, path := openTemp(t, store.WithNoSync(true))
			g := newGen(41, 8)
			blocks := connectN(t, st, g, 5, 3)
			if n := store.PendingBatches(st); n != 4 {
				t.Fatalf("%d batches pending, want 4", n)
			}
			mustApply(t, st, tt.batch(t, g, blocks, st))
			if n := store.PendingBatches(st); n != 0 {
				t.Fatalf("%d batches pending after a batch that is not deferred", n)
			}
			tt.check(t, st, blocks)
			st = reopen(t, st, path)
			tt.check(t, st, blocks)
			if err := st.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// disconnectTip returns the batch that takes the top block of blocks off
// the main chain, as the chain's disconnect writes it.
func disconnectTip(t *testing.T, g *gen, blocks []connected, st *store.Store) *chain.Batch {
	top, below := blocks[len(blocks)-1], blocks[len(blocks)-2]
	u, err := st.Undo(top.hash)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Meta(top.hash)
	if err != nil {
		t.Fatal(err)
	}
	b := chain.NewBatch()
	for _, e := range u.Entries {
		b.Accounts[e.Address] = e.Prev
		g.ledger[e.Address] = e.Prev
	}
	b.Undos[top.hash] = nil
	b.Main[top.height] = chain.ZeroHash
	for _, id := range top.ids {
		b.TxIndex[id] = chain.ZeroHash
	}
	m.Status &^= chain.StatusConnected
	b.Metas[top.hash] = m
	b.Tip = below.hash
	return b
}

// TestGroupCommitBounds: the memtable commits its batches in the Apply
// that takes it to 64 blocks, and a batch of several blocks is committed
// at once, after those pending, without a log record.
func TestGroupCommitBounds(t *testing.T) {
	tests := []struct {
		name        string
		perBatch    []int // blocks of each batch after genesis; 0: an account only
		wantPending []int // batches pending after each
	}{
		{"64 single blocks", append(slices.Repeat([]int{1}, 63), 1), append(seq(1, 63), 0)},
		{"a batch of 2", []int{1, 1, 2, 1}, []int{1, 2, 0, 1}},
		{"a batch of 64", []int{1, 64, 1}, []int{1, 0, 1}},
		{"64 batches of accounts only", slices.Repeat([]int{0}, 64), append(seq(1, 63), 0)},
	}
	store.SetGroupCommitInline(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, path := openTemp(t, store.WithNoSync(true))
			g := newGen(43, 8)
			connectN(t, st, g, 1, 0)
			for i, n := range tt.perBatch {
				walBefore := fileSize(t, path+store.WALSuffix)
				b := chain.NewBatch()
				for range n {
					g.connect(b, 0)
				}
				if n == 0 {
					b.Accounts[g.addrs[0]] = chain.Account{Balance: int64(i)}
				}
				mustApply(t, st, b)
				if got := store.PendingBatches(st); got != tt.wantPending[i] {
					t.Fatalf("after batch %d of %d blocks: %d pending, want %d", i, n, got, tt.wantPending[i])
				}
				if n > 1 && fileSize(t, path+store.WALSuffix) != walBefore {
					t.Fatalf("a batch of %d blocks was written to the log", n)
				}
			}
		})
	}
}

// TestGroupCommitBytes: the memtable also commits its batches once their
// blocks' encodings reach its byte bound, and a batch whose blocks reach
// it alone is not logged.
func TestGroupCommitBytes(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(47, 8)
	connectN(t, st, g, 1, 0)
	probe := chain.NewBatch()
	size := newGen(47, 8).connect(probe, 0).EncodedSize() // coinbase-only blocks: about the same size each
	store.SetGroupBytes(t, 3*size)
	for i, want := range []int{1, 2, 0} {
		connectN(t, st, g, 1, 0)
		if got := store.PendingBatches(st); got != want {
			t.Fatalf("after block %d: %d pending, want %d", i, got, want)
		}
	}
	// Four blocks: logged, their record would be longer than the three
	// before it and grow the file.
	walBefore := fileSize(t, path+store.WALSuffix)
	b := chain.NewBatch()
	for range 4 {
		g.connect(b, 0)
	}
	mustApply(t, st, b)
	if n := store.PendingBatches(st); n != 0 || fileSize(t, path+store.WALSuffix) != walBefore {
		t.Fatalf("a batch reaching the byte bound alone: %d pending, log %d bytes (was %d)", n, fileSize(t, path+store.WALSuffix), walBefore)
	}
}

// TestGroupCommitQueued: the Apply that takes the memtable to its bound
// returns before the group's commit, which follows on its own; Applies
// that come first keep deferring up to twice the bound, where one commits
// inline; a Close meanwhile commits what is pending, and the queued commit
// then does nothing. Every block reads the same throughout and after a
// reopen.
func TestGroupCommitQueued(t *testing.T) {
	tests := []struct {
		name   string
		blocks int
		close  bool // close right after the last Apply
	}{
		{"the bound, then waited for", 64, false},
		{"twice the bound at once", 128, false},
		{"closed while queued", 64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, path := openTemp(t, store.WithNoSync(true))
			g := newGen(71, 8)
			connectN(t, st, g, 1, 0)
			var started <-chan struct{}
			var release func()
			if tt.close {
				started, release = store.HoldQueuedCommits(t, st)
			}
			var hashes []chain.Hash
			for range tt.blocks {
				b := chain.NewBatch()
				hashes = append(hashes, g.connect(b, 0).Hash())
				mustApply(t, st, b)
				if n := store.PendingBatches(st); n > 2*64 {
					t.Fatalf("%d batches pending, past twice the bound", n)
				}
			}
			if tt.close {
				select { // the 64th Apply returned and queued the commit
				case <-started:
				case <-time.After(10 * time.Second):
					t.Fatal("no group commit was queued: the 64th Apply committed inline")
				}
				if n := store.PendingBatches(st); n != 64 {
					t.Fatalf("%d batches pending once the Apply returned, want 64: the group was committed inline", n)
				}
				if err := st.Close(); err != nil { // while the commit is queued
					t.Fatal(err)
				}
				release()
			} else {
				testutil.Eventually(t, 10*time.Second, "the queued group commit", func() bool {
					return store.PendingBatches(st) < 64
				})
				for _, h := range hashes {
					if _, err := st.Meta(h); err != nil {
						t.Fatalf("block %s after the group commit: %v", h.Short(), err)
					}
				}
			}
			st = reopen(t, st, path)
			for _, h := range hashes {
				if _, err := st.Meta(h); err != nil {
					t.Fatalf("block %s after reopening: %v", h.Short(), err)
				}
			}
			if n := store.PendingBatches(st); n != 0 {
				t.Fatalf("%d batches pending after reopening", n)
			}
		})
	}
}

// TestLargeBatchNotDeferred: a block that takes more than the defer
// limit is committed at once, after the batches pending before it, and
// never reaches the log; one within the limit waits in the memtable.
func TestLargeBatchNotDeferred(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(53, 8)
	connectN(t, st, g, 1, 0)
	size := newGen(53, 8).connect(chain.NewBatch(), 0).EncodedSize() // coinbase-only blocks: about the same size each
	store.SetDeferMax(t, 2*size)
	connectN(t, st, g, 1, 0)
	if n := store.PendingBatches(st); n != 1 {
		t.Fatalf("a block within the limit: %d pending, want 1", n)
	}
	walBefore := fileSize(t, path+store.WALSuffix)
	store.SetDeferMax(t, size/2)
	b := chain.NewBatch()
	g.connect(b, 0)
	mustApply(t, st, b)
	if n := store.PendingBatches(st); n != 0 || fileSize(t, path+store.WALSuffix) != walBefore {
		t.Fatalf("a block over the defer limit: %d pending, log %d bytes (was %d)", n, fileSize(t, path+store.WALSuffix), walBefore)
	}
}

// seq returns from, from+1, ..., to.
func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}
