//go:build linux

package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/netnstest"
	"github.com/gossipchain/gossipchain/internal/testbin"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
)

// Beyond the LAN: real gossipchain processes in a small internet of
// namespaces (netnstest.NewNATLab):
//
//	public segment 100.64.0.0/24 (shared address space, --public-cidr)
//	  pub  100.64.0.10   the only --bootstrap anyone gets; DHT server
//	  r1   100.64.0.1    NAT router of LAN A (10.0.1.0/24): a1, a2
//	  r2   100.64.0.2    NAT router of LAN B (10.0.2.0/24): b1, b2
//
// mDNS is off everywhere, so the LAN nodes can meet only through the DHT
// the public node serves. Each listens on a port of its own (9311 to
// 9314), so the routers keep every node's port as its public one. The
// test reads connections from each node's API (reached from inside its
// namespace) and discoveries from its JSON log, and checks:
//
//   - every pair of LAN nodes met, and one of the two found the other
//     through the DHT (source dht);
//   - every A–B pair is connected, directly (after hole punching) or
//     relayed through the public node; which one is reported, and since
//     these routers keep ports (endpoint-independent mapping, as most
//     home routers), every pair must then become direct;
//   - a transfer submitted in LAN B is mined in LAN A, and all five
//     nodes agree on the tip and the balances;
//   - with the public node stopped, the A–B pairs stay connected, and a
//     second transfer is mined and agreed on by the four.
const (
	natPublicNet = "100.64.0."
	natMeet      = 4 * time.Minute
	natAgree     = time.Minute
)

type natNode struct {
	name string
	ns   string
	lan  int // 0 for the public node, 1 for A, 2 for B
	proc *e2eProc
	api  *api.Client
	id   string
}

func TestNetnsNATDHT(t *testing.T) {
	netnstest.RequireNFT(t)
	if testing.Short() {
		t.Skip("builds the binary and runs five nodes for minutes")
	}
	bin := testbin.Build(t) // before any namespace exists
	lab := netnstest.NewNATLab(t, fmt.Sprintf("gcx%d", os.Getpid()), natPublicNet, 2, 2)
	changed := make(chan struct{}, 1)
	miner := testwallet.Random(t)

	start := func(name string, h netnstest.Host, lan, port int, extra ...string) *natNode {
		args := append([]string{"netns", "exec", h.NS, bin, "node", "--network", "regtest", "--data-dir", t.TempDir(),
			"--listen", fmt.Sprintf("/ip4/%s/tcp/%d", h.IP, port), "--listen", fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", h.IP, port),
			"--no-mdns", "--public-cidr", natPublicNet + "0/24", "-p", "5000", "--log-format", "json"}, extra...)
		n := &natNode{name: name, ns: h.NS, lan: lan, proc: startE2EProc(t, name, changed, "ip", args...)}
		c, err := api.NewClient("http://127.0.0.1:5000", api.WithHTTPClient(nsHTTPClient(h.NS)))
		if err != nil {
			t.Fatal(err)
		}
		n.api = c
		return n
	}
	pub := start("pub", lab.Public, 0, 9310, "--dht", "server", "--reachability", "public")
	pub.id = waitStarted(t, pub)
	boot := fmt.Sprintf("/ip4/%s/tcp/9310/p2p/%s", lab.Public.IP, pub.id) // TCP only: QUIC is tried too
	var lanNodes []*natNode
	began := time.Now()
	for l, hosts := range lab.LANs {
		for i, h := range hosts {
			name := fmt.Sprintf("%c%d", 'a'+l, i+1)
			extra := []string{"--bootstrap", boot}
			if name == "a1" {
				extra = append(extra, "--miner-address", miner.Addr)
			}
			lanNodes = append(lanNodes, start(name, h, l+1, 9311+len(lanNodes), extra...))
		}
	}
	for _, n := range lanNodes {
		n.id = waitStarted(t, n)
	}
	all := append([]*natNode{pub}, lanNodes...)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range all {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				st, err := n.api.Status(ctx)
				cancel()
				t.Logf("%s: reachability %s, announced %v (%v)", n.name, st.Reachability, st.Announced, err)
				t.Logf("%s: hole punching metrics:\n%s", n.name, metricsMatching(n, "holepunch"))
				t.Logf("%s log (connections and discovery):\n%s", n.name, n.proc.output(func(s string) bool {
					return !strings.Contains(s, "giving up") && (strings.Contains(s, "peer") || strings.Contains(s, "reachab") || strings.Contains(s, "DHT"))
				}))
			}
		}
	})

	// 1. They meet through the DHT.
	testutil.EventuallyErr(t, natMeet, "every LAN node met every other through the DHT", func() error {
		return metAll(t, lanNodes)
	})
	met := time.Since(began)
	kinds := abKinds(t, lanNodes)
	t.Logf("all LAN nodes met %v after they started; A–B connections: %v", met.Round(time.Millisecond), kinds)

	// 2. A transfer submitted in LAN B, mined in LAN A.
	a1, b1, b2 := lanNodes[0], lanNodes[2], lanNodes[3]
	mineOn(t, a1, 2)
	transferAndAgree(t, miner, a1, b1, b2, all, 1)

	// These routers keep a host's port for every destination, so hole
	// punching can make every A–B pair direct; a pair still relayed would
	// lose its connection with the relay.
	testutil.EventuallyErr(t, natAgree, "every A–B pair direct after hole punching", func() error {
		for pair, kind := range abKinds(t, lanNodes) {
			if kind != p2p.ConnDirect {
				return fmt.Errorf("%s %s", pair, kind)
			}
		}
		return nil
	})
	t.Logf("every A–B pair direct %v after the LAN nodes started", time.Since(began).Round(time.Millisecond))

	// 3. The public node goes; the LANs stay connected and agree.
	pub.proc.stop(t, syscall.SIGINT, e2eStopWait)
	testutil.EventuallyErr(t, 10*time.Second, "the public node gone from every peer list", func() error {
		for _, n := range lanNodes {
			if slices.ContainsFunc(peersOf(t, n), func(p api.Peer) bool { return p.ID == pub.id }) {
				return fmt.Errorf("%s still lists the public node", n.name)
			}
		}
		return nil
	})
	if after := abKinds(t, lanNodes); len(after) != 4 {
		t.Errorf("A–B connections after the public node stopped: %v, want all four pairs", after)
	}
	transferAndAgree(t, miner, a1, b2, b1, lanNodes, 2)

	var wg sync.WaitGroup
	for _, n := range lanNodes {
		wg.Go(func() { n.proc.stop(t, syscall.SIGINT, e2eStopWait) })
	}
	wg.Wait()
}

// waitStarted returns the peer ID of the node's "node started" line.
func waitStarted(t *testing.T, n *natNode) string {
	t.Helper()
	var id string
	testutil.EventuallyErr(t, 30*time.Second, n.name+" started", func() error {
		if n.proc.exited() {
			t.Fatalf("%s exited: %v\n%s", n.name, n.proc.waitErr(), n.proc.output(func(string) bool { return true }))
		}
		for _, l := range n.proc.linesFrom(0) {
			if l.Msg == "node started" {
				id = l.PeerID
				return nil
			}
		}
		return errors.New("no \"node started\" yet")
	})
	return id
}

// metAll is nil once every pair of LAN nodes is connected and one of
// the two logged finding the other through the DHT.
func metAll(t *testing.T, nodes []*natNode) error {
	for i, x := range nodes {
		for _, y := range nodes[i+1:] {
			if !foundByDHT(x, y) && !foundByDHT(y, x) {
				return fmt.Errorf("neither %s nor %s found the other through the DHT", x.name, y.name)
			}
			if _, ok := connKind(t, x, y); !ok {
				return fmt.Errorf("%s and %s not connected", x.name, y.name)
			}
		}
	}
	return nil
}

func foundByDHT(x, y *natNode) bool {
	return slices.ContainsFunc(x.proc.linesFrom(0), func(l *e2eLine) bool {
		return l.Msg == "peer found" && l.Source == p2p.SourceDHT && l.Peer == y.id
	})
}

// connKind is how x and y are connected, as either lists the other.
func connKind(t *testing.T, x, y *natNode) (string, bool) {
	for _, pair := range [][2]*natNode{{x, y}, {y, x}} {
		for _, p := range peersOf(t, pair[0]) {
			if p.ID == pair[1].id {
				return p.Conn, true
			}
		}
	}
	return "", false
}

// abKinds maps each connected A–B pair to its connection's kind.
func abKinds(t *testing.T, nodes []*natNode) map[string]string {
	out := map[string]string{}
	for _, x := range nodes {
		for _, y := range nodes {
			if x.lan == 1 && y.lan == 2 {
				if k, ok := connKind(t, x, y); ok {
					out[x.name+"-"+y.name] = k
				}
			}
		}
	}
	return out
}

func peersOf(t *testing.T, n *natNode) []api.Peer {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ps, err := n.api.Peers(ctx)
	if err != nil {
		t.Logf("%s: /peers: %v", n.name, err)
	}
	return ps
}

// mineOn mines k blocks on n through its API.
func mineOn(t *testing.T, n *natNode, k int) {
	t.Helper()
	for range k {
		if _, err := n.api.Mine(t.Context()); err != nil {
			t.Fatalf("%s: mine: %v", n.name, err)
		}
	}
}

// transferAndAgree sends amount coins from the miner's wallet to to,
// submitted at via (in LAN B); mines it at miner (LAN A) once its
// mempool holds it; and waits for every node of group to agree on the
// tip and on both balances.
func transferAndAgree(t *testing.T, w *testwallet.Wallet, miner, via, to *natNode, group []*natNode, amount uint64) {
	t.Helper()
	ctx := t.Context()
	bal, err := miner.api.Balance(ctx, w.Addr)
	if err != nil {
		t.Fatal(err)
	}
	st, err := to.api.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx := w.Tx(chain.RegTest(), st.Wallet, amount, 10, bal.Nonce)
	if _, err := via.api.SubmitTx(ctx, tx); err != nil {
		t.Fatalf("submit at %s: %v", via.name, err)
	}
	sent := time.Now()
	testutil.EventuallyErr(t, natAgree, "the transfer in "+miner.name+"'s mempool", func() error {
		txs, err := miner.api.Mempool(ctx)
		if err != nil || !slices.ContainsFunc(txs, func(m *chain.Transaction) bool { return m.ID() == tx.ID() }) {
			return fmt.Errorf("not in %s's mempool (%v)", miner.name, err)
		}
		return nil
	})
	t.Logf("transfer submitted at %s reached the miner %s in %v", via.name, miner.name, time.Since(sent).Round(time.Millisecond))
	mineOn(t, miner, 1)
	mined := time.Now()
	testutil.EventuallyErr(t, natAgree, "every node on the miner's tip with the same balances", func() error {
		want, err := miner.api.Status(ctx)
		if err != nil {
			return err
		}
		wantFrom, _ := miner.api.Balance(ctx, w.Addr)
		wantTo, _ := miner.api.Balance(ctx, st.Wallet)
		for _, n := range group {
			got, err := n.api.Status(ctx)
			if err != nil {
				return err
			}
			from, err1 := n.api.Balance(ctx, w.Addr)
			to, err2 := n.api.Balance(ctx, st.Wallet)
			switch {
			case err1 != nil || err2 != nil:
				return errors.Join(err1, err2)
			case got.Tip != want.Tip:
				return fmt.Errorf("%s at %d %s, miner at %d %s", n.name, got.Height, got.Tip, want.Height, want.Tip)
			case from != wantFrom || to != wantTo:
				return fmt.Errorf("%s: balances %+v %+v, miner has %+v %+v", n.name, from, to, wantFrom, wantTo)
			}
		}
		if wantTo.Balance < int64(amount) {
			return fmt.Errorf("recipient's balance %d: transfer not mined", wantTo.Balance)
		}
		return nil
	})
	t.Logf("block with the transfer on all %d nodes %v after it was mined", len(group), time.Since(mined).Round(time.Millisecond))
}

// metricsMatching returns the lines of the node's /metrics that contain
// what, for failure reports.
func metricsMatching(n *natNode, what string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:5000/metrics", nil)
	resp, err := nsHTTPClient(n.ns).Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.Contains(l, what) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// nsHTTPClient reaches the API of the node in namespace ns: its
// connections are made from inside ns, where the node's 127.0.0.1 is.
func nsHTTPClient(ns string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialInNetns(ctx, ns, network, addr)
		},
	}}
}

// dialInNetns dials from a thread moved into namespace ns. The thread is
// never unlocked, so Go ends it with the goroutine instead of reusing a
// thread that is in another namespace; the socket stays in ns.
func dialInNetns(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
