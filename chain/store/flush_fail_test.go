package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// checkFileMark fails unless the closed store file at path holds its
// mark at block c, as the last write before a crash or a failure left it.
func checkFileMark(t testing.TB, path string, c connected) {
	t.Helper()
	if h, m := store.FileMark(t, path); h != c.height || m != c.hash {
		t.Fatalf("mark in the file %d %s, want block %d %s", h, m.Short(), c.height, c.hash.Short())
	}
}

// reopenCaughtUp opens the store at path, fails unless Open indexed the
// blocks from height from again, and checks every lookup of blocks and
// the store.
func reopenCaughtUp(t testing.TB, path string, from uint64, blocks []connected) *store.Store {
	t.Helper()
	var logged bytes.Buffer
	st, err := store.Open(path, store.WithNoSync(true), store.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if want := fmt.Sprintf("from=%d ", from); !strings.Contains(logged.String(), want) {
		t.Fatalf("Open logged %q, want the catch-up %s", logged.String(), want)
	}
	checkMark(t, st, blocks[len(blocks)-1])
	checkOnDisk(t, st, blocks)
	checkLookups(t, st, blocks)
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestFlushFails: a background flush that fails is logged when it fails
// and reported by whichever of Apply and Close collects it; from then on
// the store writes nothing more, Close's flush of the rest of the set
// included, and the next Open indexes the blocks above the flush's mark
// again. The fault strikes after the flush committed, as a failed sync
// would: its mark is in the file.
func TestFlushFails(t *testing.T) {
	fault := errors.New("sync failed")
	for _, collector := range []string{"Close", "Apply"} {
		t.Run(collector, func(t *testing.T) {
			store.SetPendingBounds(t, 1000, 4)
			store.SetFlushFault(t, fault)
			store.HoldFlushes(t)
			var logged bytes.Buffer
			st, path := openTemp(t, store.WithNoSync(true), store.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
			g := newGen(37, 16)
			blocks := connectN(t, st, g, 7, 3) // a flush held at the fifth, two held back
			flushed := blocks[4]
			var err error
			if collector == "Apply" {
				store.AwaitFlushEnd(st)
				b := chain.NewBatch()
				g.connect(b, 3)
				err = st.Apply(b)
				if err == nil || !strings.Contains(err.Error(), "background flush") {
					t.Fatalf("Apply after a failed flush = %v, want the flush's failure", err)
				}
				if cerr := st.Close(); cerr != nil {
					t.Fatalf("Close after Apply reported the failure: %v", cerr)
				}
			} else {
				err = st.Close()
			}
			if !errors.Is(err, fault) {
				t.Fatalf("%s after a failed flush = %v, want %v", collector, err, fault)
			}
			if !strings.Contains(logged.String(), "background flush") || !strings.Contains(logged.String(), fault.Error()) {
				t.Fatalf("the failed flush logged %q", logged.String())
			}
			checkFileMark(t, path, flushed)
			reopenCaughtUp(t, path, flushed.height+1, blocks)
		})
	}
}
