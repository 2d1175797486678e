package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testbin"
)

// needMount skips a test that mounts file systems unless it runs as root,
// and fails it instead in CI, which runs as root: there a skip would hide
// that the test never ran.
func needMount(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs gossipchain processes")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to mount a tmpfs; CI runs as root")
		}
		t.Skip("needs root to mount a tmpfs")
	}
}

// mountTmpfs mounts a tmpfs of size (mount's syntax: "2m") on a new
// directory and unmounts it when the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	mount(t, "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			// A process of a failed test may still hold a file:
			// detach now, freed when it lets go.
			t.Logf("umount %s: %v %s; detaching it", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

func mount(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount %s: %v: %s", strings.Join(args, " "), err, out)
		}
		t.Skipf("cannot mount here (mount %s: %v: %s)", strings.Join(args, " "), err, out)
	}
}

// nodeArgs are the flags of a regtest node on loopback in dir.
func nodeArgs(dir string, extra ...string) []string {
	return append([]string{"node", "--network", "regtest", "--data-dir", dir, "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0",
		"-p", "0", "--log-format", "json", "--miner-threads", "1"}, extra...)
}

// checkStore opens the store in dir, runs bbolt's check, and returns the
// tip's height after checking that every main-chain block up to it is
// there.
func checkStore(t *testing.T, dir string) uint64 {
	t.Helper()
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	tipHash, err := st.Tip()
	if err != nil {
		t.Fatal(err)
	}
	tip, err := st.Meta(tipHash)
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(0); h <= tip.Height(); h++ {
		hash, err := st.MainHash(h)
		if err != nil {
			t.Fatalf("main chain at height %d: %v", h, err)
		}
		if _, err := st.Block(hash); err != nil {
			t.Fatalf("block %s at height %d: %v", hash.Short(), h, err)
		}
	}
	return tip.Height()
}

// onlyError returns the process's one ERROR line, failing the test if
// there are none or more, or output that is not JSON (a panic's trace).
func onlyError(t *testing.T, p *proc) *logLine {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []*logLine
	for _, l := range p.lines {
		if l.Level == "ERROR" {
			errs = append(errs, l)
		}
	}
	if len(p.notJSON) > 0 {
		t.Errorf("output that is not a JSON log line: %q", p.notJSON)
	}
	if len(errs) != 1 {
		for _, l := range errs {
			t.Logf("ERROR: %+v", l)
		}
		t.Fatalf("%d ERROR lines, want one", len(errs))
	}
	return errs[0]
}

// TestDiskFull runs a mining node whose data directory is a 2 MiB tmpfs,
// connected to a peer: the disk fills up within a second. The node must
// log one ERROR line naming the store's path and "no space left on
// device", stop, and exit with status 1; the store it leaves must pass
// bbolt's check with every block up to the last one it logged as mined.
// Remounted larger, the same directory starts again and the node mines
// on from where it stopped.
func TestDiskFull(t *testing.T) {
	needMount(t)
	bin := testbin.Build(t)
	mnt := mountTmpfs(t, "2m")
	dir := filepath.Join(mnt, "data")
	peer := startNodeProc(t, bin, "regtest")

	start := time.Now()
	full := startProc(t, bin, nodeArgs(dir, "--mine", "--bootstrap", peer.p2p)...)
	full.waitExit(t, 60*time.Second, 1)
	t.Logf("disk full after %v", time.Since(start).Round(time.Millisecond))
	l := onlyError(t, full)
	dbPath := filepath.Join(dir, store.FileName)
	lastMined := full.last(msgIs("block mined"))
	if l.Msg != "store write failed, node stopping" || l.Path != dbPath || !strings.Contains(l.Reason, syscall.ENOSPC.Error()) {
		t.Errorf("ERROR line %+v: want the store's path %s and %q", l, dbPath, syscall.ENOSPC.Error())
	}
	if lastMined == nil {
		t.Fatal("no block mined before the disk filled up")
	}
	t.Logf("the one ERROR line: %s: %s", l.Msg, l.Reason)

	// More room, as an operator would make it: the store opens, passes
	// bbolt's check, and holds every block the node reported.
	mount(t, "-o", "remount,size=16m", mnt)
	height := checkStore(t, dir)
	if height < *lastMined.Height {
		t.Fatalf("store at height %d after the disk filled up; the node had logged height %d as mined", height, *lastMined.Height)
	}
	again := startProc(t, bin, nodeArgs(dir, "--mine")...)
	started := again.waitFor(t, 30*time.Second, `"node started"`, msgIs("node started"))
	if *started.Height != height {
		t.Errorf("started again at height %d, the store's tip is %d", *started.Height, height)
	}
	again.waitFor(t, 30*time.Second, `"block mined" above the old tip`, func(l *logLine) bool {
		return l.Msg == "block mined" && *l.Height > height
	})
	again.stop(t, syscall.SIGINT, 15*time.Second)
	again.checkClean(t)
	t.Logf("last logged as mined: height %d; store tip at %d; started again and mined on", *lastMined.Height, height)
}

// TestReadOnlyDataDir: a node whose data directory is on a file system
// mounted read-only does not start: it exits with status 1 at once, with
// one ERROR line saying the data directory is not writable. The store it
// leaves alone is intact, and the node starts on it once the file system
// is writable again. A fresh data directory on a read-only file system
// fails the same way.
func TestReadOnlyDataDir(t *testing.T) {
	needMount(t)
	bin := testbin.Build(t)
	mnt := mountTmpfs(t, "16m")
	dir := filepath.Join(mnt, "data")

	first := startProc(t, bin, nodeArgs(dir, "--mine")...)
	first.waitFor(t, 30*time.Second, `"block mined" at height 20`, func(l *logLine) bool {
		return l.Msg == "block mined" && *l.Height >= 20
	})
	first.stop(t, syscall.SIGINT, 15*time.Second)
	stopped := first.last(msgIs("node stopped"))

	mount(t, "-o", "remount,ro", mnt)
	for _, d := range []string{dir, filepath.Join(mnt, "fresh")} {
		start := time.Now()
		ro := startProc(t, bin, nodeArgs(d, "--mine")...)
		ro.waitExit(t, 15*time.Second, 1)
		l := onlyError(t, ro)
		if l.Msg != "node failed" || !strings.Contains(l.Reason, "data directory "+d+" is not writable") ||
			!strings.Contains(l.Reason, syscall.EROFS.Error()) {
			t.Errorf("%s: ERROR line %+v: want it to say the data directory is not writable and why", d, l)
		}
		if s := ro.last(msgIs("node started")); s != nil {
			t.Errorf("%s: node started on a read-only data directory", d)
		}
		t.Logf("%s: exit 1 after %v: %s", d, time.Since(start).Round(time.Millisecond), l.Reason)
	}

	mount(t, "-o", "remount,rw", mnt)
	if h := checkStore(t, dir); h != *stopped.Height {
		t.Errorf("store at height %d, the node stopped at %d", h, *stopped.Height)
	}
	again := startProc(t, bin, nodeArgs(dir)...)
	started := again.waitFor(t, 30*time.Second, `"node started"`, msgIs("node started"))
	again.stop(t, syscall.SIGINT, 15*time.Second)
	again.checkClean(t)
	if *started.Height != *stopped.Height || started.Hash != stopped.Hash {
		t.Errorf("started at %d %s, stopped at %d %s", *started.Height, started.Hash, *stopped.Height, stopped.Hash)
	}
	if _, err := os.Stat(filepath.Join(mnt, "fresh")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the fresh data directory exists after a failed start: %v", err)
	}
}
