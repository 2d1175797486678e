package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// faultyStore fails every Apply with the error in fail, once one is set:
// a disk that filled up or went read-only under a running node.
type faultyStore struct {
	chain.Store
	fail atomic.Pointer[error]
}

func (s *faultyStore) Apply(b *chain.Batch) error {
	if err := s.fail.Load(); err != nil {
		return fmt.Errorf("apply: %w", *err)
	}
	return s.Store.Apply(b)
}

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) lines(t *testing.T) []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(w.b.Bytes()), []byte("\n")) {
		m := map[string]any{}
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestStoreFailureStopsNode: a mining node whose store stops taking
// commits (EIO here) stops itself: one ERROR line with the store's path
// and the reason, the miner and the network cancelled, Failed closed and
// Err saying why; Close then closes the store. Started again on the same
// directory, the node has every block up to the last committed one and
// bbolt's own check passes.
func TestStoreFailureStopsNode(t *testing.T) {
	dir := t.TempDir()
	var logs lockedBuffer
	fs := new(faultyStore)
	n, err := newNode(Config{Params: chain.RegTest(), DataDir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Mine: true,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, func(st chain.Store) chain.Store {
		fs.Store = st
		return fs
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			n.Close()
		}
	})
	waitTip(t, n.Chain(), 5)
	eio := error(syscall.EIO)
	fs.fail.Store(&eio)

	select {
	case <-n.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("node still running 10 s after its store failed")
	}
	if err := n.Err(); !errors.Is(err, chain.ErrStoreFailed) || !errors.Is(err, syscall.EIO) {
		t.Errorf("Err() = %v, want ErrStoreFailed wrapping EIO", err)
	}
	committed := n.Chain().Tip()
	if err := n.Close(); err != nil {
		t.Errorf("Close after a store failure: %v", err)
	}
	closed = true
	if n.Chain().Tip() != committed {
		t.Errorf("tip moved from %d after the failure", committed.Height())
	}

	var errLines []map[string]any
	for _, l := range logs.lines(t) {
		if l["level"] == "ERROR" {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("%d ERROR lines, want exactly one: %v", len(errLines), errLines)
	}
	wantPath := filepath.Join(dir, store.FileName)
	if l := errLines[0]; l["path"] != wantPath || !bytes.Contains([]byte(fmt.Sprint(l["reason"])), []byte(syscall.EIO.Error())) {
		t.Errorf("ERROR line %v: want path %s and the reason %q", l, wantPath, syscall.EIO.Error())
	}

	// Started again with a working disk.
	n2, err := New(Config{Params: chain.RegTest(), DataDir: dir})
	if err != nil {
		t.Fatalf("reopen after the failure: %v", err)
	}
	defer n2.Close()
	if got := n2.Chain().Tip(); got.Hash != committed.Hash {
		t.Errorf("reopened at height %d %s, last commit was height %d %s", got.Height(), got.Hash.Short(),
			committed.Height(), committed.Hash.Short())
	}
	for h := uint64(0); h <= committed.Height(); h++ {
		if _, err := n2.Chain().BlockAt(h); err != nil {
			t.Fatalf("block %d after reopening: %v", h, err)
		}
	}
	if err := n2.store.Check(); err != nil {
		t.Errorf("bbolt check after reopening: %v", err)
	}
	t.Logf("stopped at height %d; %s", committed.Height(), errLines[0]["reason"])
}

// TestNotWritableDataDir: a store that cannot be opened for writing is
// reported as a data directory that is not writable.
func TestNotWritableDataDir(t *testing.T) {
	err := notWritable("/data", &os.PathError{Op: "open", Path: "/data/chain.db", Err: syscall.EROFS})
	if !errors.Is(err, syscall.EROFS) || err.Error() != "data directory /data is not writable: open /data/chain.db: read-only file system" {
		t.Errorf("got %q", err)
	}
	other := errors.New("store is locked")
	if got := notWritable("/data", other); got != other {
		t.Errorf("a locked store reported as %q", got)
	}
}

func waitTip(t *testing.T, c *chain.Chain, height uint64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		changed := c.TipChanged()
		if c.Tip().Height() >= height {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("tip at height %d after 10 s, want %d", c.Tip().Height(), height)
		}
	}
}

// TestStoreFailureDuringSync: a node whose disk fails while it syncs
// from a peer stops the same way, with its one ERROR line, and does not
// blame the peer: its own disk is not the peer's fault.
func TestStoreFailureDuringSync(t *testing.T) {
	src, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for range 50 {
		if _, err := src.MineOne(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	var logs lockedBuffer
	fs := new(faultyStore)
	n, err := newNode(Config{Params: chain.RegTest(), DataDir: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap: []string{src.Host().FullAddrs()[0].String()}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))},
		func(st chain.Store) chain.Store {
			fs.Store = st
			return fs
		})
	if err != nil {
		t.Fatal(err)
	}
	enospc := error(syscall.ENOSPC)
	fs.fail.Store(&enospc)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	select {
	case <-n.Failed():
	case <-time.After(20 * time.Second):
		t.Fatal("node still running 20 s after its store failed during sync")
	}
	if err := n.Err(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Err() = %v, want ENOSPC", err)
	}
	if h := n.Chain().Tip().Height(); h != 0 {
		t.Errorf("tip at height %d, nothing could be committed", h)
	}
	var errLines int
	for _, l := range logs.lines(t) {
		if l["level"] == "ERROR" {
			errLines++
		}
		if l["msg"] == "peer dropped" {
			t.Errorf("the peer was blamed for our disk: %v", l)
		}
	}
	if errLines != 1 {
		t.Errorf("%d ERROR lines, want one", errLines)
	}
}

// TestNoMempoolFileAfterFailedCommit: a block's transactions leave the
// mempool before its commit (intake's processCheckedLocked), so when that
// commit fails the mempool lacks them; Close must not save that mempool
// over mempool.dat, even on a node never started, whose store watch
// never ran.
func TestNoMempoolFileAfterFailedCommit(t *testing.T) {
	dir := t.TempDir()
	fs := new(faultyStore)
	n, err := newNode(Config{Params: chain.RegTest(), DataDir: dir}, func(st chain.Store) chain.Store {
		fs.Store = st
		return fs
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(ctx, n.WalletAddress(), 1, 0); err != nil {
		t.Fatal(err)
	}
	eio := error(syscall.EIO)
	fs.fail.Store(&eio)
	if _, err := n.MineOne(ctx); !errors.Is(err, chain.ErrStoreFailed) {
		t.Fatalf("mining on a failing store: %v, want ErrStoreFailed", err)
	}
	if k := n.Mempool().Len(); k != 0 {
		t.Fatalf("%d transactions pending after the failed block, want its one dropped before the commit", k)
	}
	n.Close()
	if _, err := os.Stat(filepath.Join(dir, mempoolFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("mempool.dat after a failed commit: %v, want none written", err)
	}
}

// TestEventsAfterFailedCommit: a block whose commit fails gives up its
// place in the event stream (intake's processCheckedLocked), so what is
// published after still goes out at once: a peer's event here, as the
// node's peers come and go while it stops.
func TestEventsAfterFailedCommit(t *testing.T) {
	fs := new(faultyStore)
	n, err := newNode(Config{Params: chain.RegTest(), DataDir: t.TempDir()}, func(st chain.Store) chain.Store {
		fs.Store = st
		return fs
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	sub := n.Subscribe(4)
	defer sub.Close()
	eio := error(syscall.EIO)
	fs.fail.Store(&eio)
	if _, err := n.MineOne(context.Background()); !errors.Is(err, chain.ErrStoreFailed) {
		t.Fatalf("mining on a failing store: %v, want ErrStoreFailed", err)
	}
	n.events.publish(EventPeer, PeerEventData{Peer: "p", State: "disconnected"})
	select {
	case ev := <-sub.C:
		if ev.Kind != EventPeer {
			t.Fatalf("got a %s event, want the peer's (the failed block has none)", ev.Kind)
		}
	default:
		t.Fatal("an event published after a failed commit was held back")
	}
}
