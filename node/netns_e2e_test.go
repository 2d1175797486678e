package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/netnstest"
	"github.com/gossipchain/gossipchain/internal/testbin"
)

// mDNS across hosts: separate gossipchain processes in separate network
// namespaces joined by a bridge, no bootstrap, find each other and
// converge on one chain. mDNS multicasts on every interface, so it never
// runs in the root namespace; the test builds a private network out of
// namespaces that exist only while it runs:
//
//	gce<pid>-br:  lo, br0 (bridge), v1 v2 v3 (veth ends enslaved to br0)
//	gce<pid>-n1:  lo, eth0 198.18.1.1/24 (peer of v1)   node 1, mining
//	gce<pid>-n2:  lo, eth0 198.18.1.2/24 (peer of v2)   node 2
//	gce<pid>-n3:  lo, eth0 198.18.1.3/24 (peer of v3)   node 3
//
// 198.18.0.0/15 is set aside for network tests (RFC 2544) and routed
// nowhere; no interface of the root namespace is touched. The setup is
// the one of p2p's TestNetnsMDNS, with the real binary instead of a bare
// host. Everything the test knows it reads from the nodes' JSON logs:
//
//   - "node started": each node's peer ID;
//   - "peer connected": who found whom, and how (source mdns when this
//     node dialled on discovery, inbound when the other one did);
//   - "block mined" (node 1): the chain, height by height;
//   - "block received" and "sync finished" (nodes 2 and 3): the blocks
//     they took and the tips they reached, which must be node 1's.
//
// Converged means everyone connected to everyone through mDNS and nodes 2
// and 3 holding node 1's block at height e2eMinHeight or above. Node 1
// goes on mining, and nodes 2 and 3 must then follow it e2eKeepUp blocks
// further (regtest mines hundreds of blocks a second, so this is a burst
// of gossip with out-of-order arrivals and syncs). Last, every node must
// stop with status 0 on SIGINT and have logged no error.

const (
	e2eNodes     = 3
	e2eSubnet    = "198.18.1."
	e2eMinHeight = 5   // nodes 2 and 3 must hold node 1's block at this height or above
	e2eKeepUp    = 500 // blocks mined after convergence that nodes 2 and 3 must follow
	e2eDeadline  = 60 * time.Second
	e2eStopWait  = 15 * time.Second
)

func TestNetnsE2EMDNS(t *testing.T) {
	netnstest.Require(t)
	bin := testbin.Build(t) // before any namespace exists
	hosts := netnstest.New(t, fmt.Sprintf("gce%d", os.Getpid()), e2eSubnet, e2eNodes)

	changed := make(chan struct{}, 1)
	nodes := make([]*e2eProc, e2eNodes)
	for i, h := range hosts {
		ns, ip := h.NS, h.IP
		args := []string{"netns", "exec", ns, bin, "node", "--network", "regtest", "--data-dir", t.TempDir(),
			"--listen", "/ip4/" + ip + "/tcp/9310", "--log-format", "json"}
		if i == 0 {
			args = append(args, "--mine", "--miner-threads", "1")
		}
		nodes[i] = startE2EProc(t, fmt.Sprintf("node %d (%s)", i+1, ns), changed, "ip", args...)
	}
	start := time.Now()

	w := newE2EWatch(nodes)
	timeout := time.After(e2eDeadline)
	w.waitUntil(t, changed, timeout, w.update, func() string {
		return fmt.Sprintf("not converged after %v:\n  %s", e2eDeadline, strings.Join(w.missing(), "\n  "))
	})
	t.Logf("converged %v after the nodes were started", time.Since(start).Round(time.Millisecond))
	w.report(t)

	// Then they keep up: node 1 goes on mining, and nodes 2 and 3 must
	// follow it e2eKeepUp blocks further, connected as they are now.
	target := w.minedTop + e2eKeepUp
	w.waitUntil(t, changed, timeout, func() bool { return w.keptUp(target) }, func() string {
		return fmt.Sprintf("converged, then nodes 2 and 3 did not reach node 1's height %d before %v: they hold %v",
			target, e2eDeadline, w.matched[1:])
	})
	t.Logf("nodes 2 and 3 reached height %d, %d past node 1's when they had converged, %v after the start",
		target, e2eKeepUp, time.Since(start).Round(time.Millisecond))
	w.counts(t)
	for _, err := range w.errs {
		t.Error(err)
	}

	// A clean stop with mDNS on, in parallel: a node that hangs on
	// shutdown shows up here, not as a leaked process.
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { n.stop(t, syscall.SIGINT, e2eStopWait) })
	}
	wg.Wait()
	for _, n := range nodes {
		n.checkClean(t)
	}
}

// e2eWatch folds the nodes' log lines into what the test checks. Only
// the test goroutine uses it.
type e2eWatch struct {
	nodes  []*e2eProc
	cursor []int

	ids       []string            // peer ID by node index, from "node started"
	started   []time.Time         // "node started" time by node index
	connected []map[string]string // per node: peer ID -> source of "peer connected"
	connAt    []map[string]time.Time
	msgs      []map[string]int  // per node: how many lines of each message
	mined     map[uint64]string // node 1's "block mined": height -> hash prefix
	minedTop  uint64
	// Per follower (nodes 2 and 3): blocks and tips it logged, not yet
	// compared with node 1's chain (node 1's line may still be in flight).
	pending []map[uint64]string
	matched []uint64    // highest height at which a follower holds node 1's block
	matchAt []time.Time // when it first held one at e2eMinHeight or above
	errs    []string
}

// waitUntil waits, on changed, until done holds; a node that exits or
// the timeout fails the test, with every node's log and why().
func (w *e2eWatch) waitUntil(t *testing.T, changed <-chan struct{}, timeout <-chan time.Time, done func() bool, why func() string) {
	t.Helper()
	for !done() {
		if n := w.firstExited(); n != nil {
			w.dump(t)
			t.Fatalf("%s exited early: %v", n.name, n.waitErr())
		}
		select {
		case <-changed:
		case <-timeout:
			w.dump(t)
			t.Fatal(why())
		}
	}
}

func newE2EWatch(nodes []*e2eProc) *e2eWatch {
	w := &e2eWatch{
		nodes:     nodes,
		cursor:    make([]int, len(nodes)),
		ids:       make([]string, len(nodes)),
		started:   make([]time.Time, len(nodes)),
		connected: make([]map[string]string, len(nodes)),
		connAt:    make([]map[string]time.Time, len(nodes)),
		msgs:      make([]map[string]int, len(nodes)),
		mined:     make(map[uint64]string),
		pending:   make([]map[uint64]string, len(nodes)),
		matched:   make([]uint64, len(nodes)),
		matchAt:   make([]time.Time, len(nodes)),
	}
	for i := range nodes {
		w.connected[i] = make(map[string]string)
		w.connAt[i] = make(map[string]time.Time)
		w.msgs[i] = make(map[string]int)
		w.pending[i] = make(map[uint64]string)
	}
	return w
}

// update reads the lines that arrived since the last call and reports
// whether the nodes have converged: everyone connected to everyone
// through mDNS, and nodes 2 and 3 holding node 1's block at a height of
// at least e2eMinHeight.
func (w *e2eWatch) update() bool {
	for i, n := range w.nodes {
		lines := n.linesFrom(w.cursor[i])
		w.cursor[i] += len(lines)
		for _, l := range lines {
			w.fold(i, l)
		}
	}
	for i := 1; i < len(w.nodes); i++ {
		for h, hash := range w.pending[i] {
			want, ok := w.mined[h]
			if !ok {
				continue
			}
			delete(w.pending[i], h)
			if hash != want {
				w.errs = append(w.errs, fmt.Sprintf("%s has %s at height %d, node 1 mined %s there (one miner: no fork possible)",
					w.nodes[i].name, hash, h, want))
				continue
			}
			if h > w.matched[i] {
				w.matched[i] = h
				if h >= e2eMinHeight && w.matchAt[i].IsZero() {
					w.matchAt[i] = time.Now()
				}
			}
		}
	}
	return len(w.missing()) == 0
}

func (w *e2eWatch) fold(i int, l *e2eLine) {
	w.msgs[i][l.Level+" "+l.Msg]++
	switch l.Msg {
	case "node started":
		w.ids[i], w.started[i] = l.PeerID, l.Time
	case "peer connected":
		if _, ok := w.connected[i][l.Peer]; !ok {
			w.connected[i][l.Peer] = l.Source
			w.connAt[i][l.Peer] = l.Time
		}
		if l.Source != "mdns" && l.Source != "inbound" {
			w.errs = append(w.errs, fmt.Sprintf("%s: peer %s connected with source %q, want mdns or inbound (no bootstrap, fresh data dirs)",
				w.nodes[i].name, l.Peer, l.Source))
		}
	case "block mined":
		if i != 0 {
			w.errs = append(w.errs, fmt.Sprintf("%s mined a block without --mine: %+v", w.nodes[i].name, l))
		} else if l.Height != nil {
			w.mined[*l.Height] = l.Hash
			w.minedTop = max(w.minedTop, *l.Height)
		}
	case "block received", "sync finished":
		if i != 0 && l.Height != nil {
			w.pending[i][*l.Height] = l.Hash
		}
	}
}

// keptUp reads new lines and reports whether nodes 2 and 3 hold node 1's
// block at height h or above.
func (w *e2eWatch) keptUp(h uint64) bool {
	w.update()
	for i := 1; i < len(w.nodes); i++ {
		if w.matched[i] < h {
			return false
		}
	}
	return true
}

func (w *e2eWatch) firstExited() *e2eProc {
	for _, n := range w.nodes {
		if n.exited() {
			return n
		}
	}
	return nil
}

// missing says what convergence still waits for.
func (w *e2eWatch) missing() []string {
	var m []string
	for i, n := range w.nodes {
		if w.ids[i] == "" {
			m = append(m, n.name+` has not logged "node started"`)
			continue
		}
		for j, other := range w.nodes {
			if j != i && (w.ids[j] == "" || w.connected[i][w.ids[j]] == "") {
				m = append(m, fmt.Sprintf(`%s has not logged "peer connected" for %s`, n.name, other.name))
			}
		}
	}
	for i := 1; i < len(w.nodes); i++ {
		if w.matched[i] < e2eMinHeight {
			m = append(m, fmt.Sprintf("%s holds node 1's chain only up to height %d of %d mined, want %d",
				w.nodes[i].name, w.matched[i], w.minedTop, e2eMinHeight))
		}
	}
	return m
}

// report logs who found whom and how fast: the figures to watch when
// discovery or sync gets slower.
func (w *e2eWatch) report(t *testing.T) {
	for i, n := range w.nodes {
		for j := range w.nodes {
			if j == i {
				continue
			}
			at := w.connAt[i][w.ids[j]]
			t.Logf("%s: node %d connected (source %s) %v after its start", n.name, j+1,
				w.connected[i][w.ids[j]], at.Sub(w.started[i]).Round(time.Millisecond))
		}
	}
	for i := 1; i < len(w.nodes); i++ {
		t.Logf("%s: holds node 1's block at height %d (node 1 had mined %d when checked), first match at or above %d %v after node 1 started",
			w.nodes[i].name, w.matched[i], w.minedTop, e2eMinHeight, w.matchAt[i].Sub(w.started[0]).Round(time.Millisecond))
	}
}

// counts logs how many lines of each kind every node wrote: how much
// syncing, orphan fetching and ignoring it took.
func (w *e2eWatch) counts(t *testing.T) {
	for i, n := range w.nodes {
		keys := slices.Sorted(maps.Keys(w.msgs[i]))
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "\n    %6d %s", w.msgs[i][k], k)
		}
		t.Logf("%s log lines:%s", n.name, b.String())
	}
}

// dump logs what a failing run's nodes said, leaving out the per-block
// lines that would bury the rest.
func (w *e2eWatch) dump(t *testing.T) {
	for _, n := range w.nodes {
		t.Logf("%s output (block lines left out):\n%s", n.name, n.output(func(s string) bool {
			return !strings.Contains(s, `"msg":"block mined"`) && !strings.Contains(s, `"msg":"block received"`)
		}))
	}
}

// e2eLine is the part of a JSON log line the test reads.
type e2eLine struct {
	Time   time.Time `json:"time"`
	Level  string    `json:"level"`
	Msg    string    `json:"msg"`
	Height *uint64   `json:"height"`
	Hash   string    `json:"hash"`
	PeerID string    `json:"peer_id"`
	Peer   string    `json:"peer"`
	Source string    `json:"source"`
}

// e2eProc is one node process. Its output is parsed line by line as it
// arrives, so the child never blocks on a full pipe and the test never
// sleeps: each line puts a token in the shared changed channel.
type e2eProc struct {
	name    string
	cmd     *exec.Cmd
	changed chan<- struct{}
	done    chan struct{} // closed when the process has exited
	err     error         // cmd.Wait's, valid after done

	mu      sync.Mutex
	partial []byte
	raw     []string // every line, for failures
	lines   []*e2eLine
	notJSON []string
}

func startE2EProc(t *testing.T, name string, changed chan<- struct{}, prog string, args ...string) *e2eProc {
	t.Helper()
	p := &e2eProc{name: name, changed: changed, done: make(chan struct{})}
	p.cmd = exec.Command(prog, args...)
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
		p.notify()
	}()
	// Runs before the namespaces are deleted (cleanups run last first).
	// "ip netns exec" execs the node, so the process is the node itself.
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *e2eProc) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *e2eProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		p.raw = append(p.raw, line)
		l := new(e2eLine)
		if err := json.Unmarshal([]byte(line), l); err != nil {
			p.notJSON = append(p.notJSON, line)
			continue
		}
		p.lines = append(p.lines, l)
	}
	p.mu.Unlock()
	p.notify()
	return len(b), nil
}

func (p *e2eProc) linesFrom(i int) []*e2eLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines[i:])
}

func (p *e2eProc) output(keep func(string) bool) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, s := range p.raw {
		if keep(s) {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func (p *e2eProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *e2eProc) waitErr() error {
	<-p.done
	return p.err
}

// stop sends sig and expects exit status 0 within d.
func (p *e2eProc) stop(t *testing.T, sig os.Signal, d time.Duration) {
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Errorf("%s: signal %v: %v", p.name, sig, err)
		return
	}
	select {
	case <-p.done:
	case <-time.After(d):
		t.Errorf("%s: still running %v after %v", p.name, d, sig)
		return
	}
	if p.err != nil {
		t.Errorf("%s: after %v: %v, want exit status 0", p.name, sig, p.err)
		return
	}
	t.Logf("%s: %v: exited 0 in %v", p.name, sig, time.Since(start).Round(time.Millisecond))
}

// checkClean fails the test on error-level lines and on output that is
// not JSON: --log-format json promises one object per line.
func (p *e2eProc) checkClean(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l.Level == "ERROR" {
			t.Errorf("%s logged an error: %+v", p.name, l)
		}
	}
	for _, s := range p.notJSON {
		t.Errorf("%s: not a JSON log line: %q", p.name, s)
	}
}
