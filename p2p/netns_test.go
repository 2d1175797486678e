package p2p

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// mDNS across processes, for real. mDNS multicasts on every interface, so
// it never runs in the root namespace: this test builds a private network
// out of namespaces that exist only for the test,
//
//	gc<pid>-br:  br0 (bridge), v0 v1 v2 (veth ends, enslaved to br0)
//	gc<pid>-n0:  lo, eth0 198.18.0.1/24 (peer of v0)
//	gc<pid>-n1:  lo, eth0 198.18.0.2/24 (peer of v1)
//	gc<pid>-n2:  lo, eth0 198.18.0.3/24 (peer of v2)
//
// 198.18.0.0/15 is the range set aside for network tests (RFC 2544) and
// is routed nowhere: no interface of the root namespace is touched. Each
// n<i> runs this test binary as a child (TestNetnsMDNSChild) with a Host
// with mDNS on; the children print the peers they connect to and the
// parent waits until everyone has everyone.

const (
	netnsChildEnv   = "GOSSIPCHAIN_NETNS_CHILD_IP"
	netnsDataEnv    = "GOSSIPCHAIN_NETNS_CHILD_DATA"
	netnsChildren   = 3
	netnsSubnet     = "198.18.0."
	netnsDeadline   = 60 * time.Second
	netnsLinePrefix = "NETNS "
)

// netnsNetworkID is an arbitrary network id: the children only need to
// agree on the mDNS service name.
var netnsNetworkID = chain.Hash{0x6e, 0x65, 0x74, 0x6e, 0x73}

func TestNetnsMDNS(t *testing.T) {
	requireNetns(t)
	prefix := fmt.Sprintf("gc%d", os.Getpid())
	bridgeNS := prefix + "-br"
	addNetns(t, bridgeNS)
	ipOrSkip(t, "-n", bridgeNS, "link", "set", "lo", "up")
	ipOrSkip(t, "-n", bridgeNS, "link", "add", "br0", "type", "bridge")
	ipOrSkip(t, "-n", bridgeNS, "link", "set", "br0", "up")

	children := make([]*netnsChild, netnsChildren)
	for i := range children {
		ns := fmt.Sprintf("%s-n%d", prefix, i)
		veth := fmt.Sprintf("v%d", i)
		ip := fmt.Sprintf("%s%d", netnsSubnet, i+1)
		addNetns(t, ns)
		ipOrSkip(t, "-n", bridgeNS, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipOrSkip(t, "-n", bridgeNS, "link", "set", veth, "master", "br0")
		ipOrSkip(t, "-n", bridgeNS, "link", "set", veth, "up")
		// lo has no MULTICAST flag by default (DESIGN.md, "Known pitfalls").
		ipOrSkip(t, "-n", ns, "link", "set", "lo", "up", "multicast", "on")
		ipOrSkip(t, "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
		ipOrSkip(t, "-n", ns, "link", "set", "eth0", "up", "multicast", "on")
		children[i] = startNetnsChild(t, ns, ip)
	}

	deadline := time.Now().Add(netnsDeadline)
	for {
		missing := netnsMissing(children)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, c := range children {
				t.Logf("child %s output:\n%s", c.ns, c.output())
			}
			t.Fatalf("after %v: %s", netnsDeadline, strings.Join(missing, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range children {
		self, peers := c.state()
		t.Logf("%s is %s, connected to %v", c.ns, self, peers)
		t.Logf("%s output:\n%s", c.ns, c.output())
	}
	// Only the smaller peer ID dials on discovery; the larger waits to be
	// dialled (go-libp2p issue 2925). Its source says which side dialled.
	for _, a := range children {
		self, peers := a.state()
		for _, b := range children {
			if a == b {
				continue
			}
			other, _ := b.state()
			want := SourceInbound
			if mustDecodeID(t, self) < mustDecodeID(t, other) {
				want = SourceMDNS
			}
			if got := peers[other]; got != want {
				t.Errorf("%s sees %s with source %q, want %q", a.ns, b.ns, got, want)
			}
		}
	}
}

// TestNetnsMDNSChild is the child side of TestNetnsMDNS; it only runs
// when that test starts it inside a namespace.
func TestNetnsMDNSChild(t *testing.T) {
	ip := os.Getenv(netnsChildEnv)
	if ip == "" {
		t.Skip("helper process of TestNetnsMDNS; runs only inside its network namespace")
	}
	cfg := HostConfig{
		DataDir:   os.Getenv(netnsDataEnv),
		Listen:    []string{"/ip4/" + ip + "/tcp/9310", "/ip4/" + ip + "/udp/9310/quic-v1"},
		MDNS:      true,
		NetworkID: netnsNetworkID,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	h, err := NewHost(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%sself %s\n", netnsLinePrefix, h.ID())

	// The parent closes stdin when it is done (or dies).
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	printed := make(map[string]bool)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(2 * netnsDeadline)
	for {
		select {
		case <-done:
			return
		case <-timeout:
			t.Fatal("parent never closed stdin")
		case <-tick.C:
		}
		for _, p := range h.Network().Peers() {
			if src := h.PeerSource(p); !printed[p.String()] && src != "" {
				printed[p.String()] = true
				fmt.Printf("%speer %s %s\n", netnsLinePrefix, p, src)
			}
		}
	}
}

// netnsChild is one child process and what it has reported.
type netnsChild struct {
	ns  string
	cmd *exec.Cmd

	mu    sync.Mutex
	self  string
	peers map[string]string // peer id -> source
	out   bytes.Buffer      // everything the child wrote, for failures
}

func (c *netnsChild) state() (string, map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	peers := make(map[string]string, len(c.peers))
	for k, v := range c.peers {
		peers[k] = v
	}
	return c.self, peers
}

func (c *netnsChild) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *netnsChild) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func startNetnsChild(t *testing.T, ns, ip string) *netnsChild {
	c := &netnsChild{ns: ns, peers: make(map[string]string)}
	c.cmd = exec.Command("ip", "netns", "exec", ns, os.Args[0],
		"-test.run=^TestNetnsMDNSChild$", "-test.v", "-test.timeout=5m")
	c.cmd.Env = append(os.Environ(), netnsChildEnv+"="+ip, netnsDataEnv+"="+t.TempDir())
	c.cmd.Stderr = c
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start child in %s: %v", ns, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			c.Write([]byte(line + "\n"))
			f := strings.Fields(strings.TrimPrefix(line, netnsLinePrefix))
			if !strings.HasPrefix(line, netnsLinePrefix) || len(f) < 2 {
				continue
			}
			c.mu.Lock()
			switch {
			case f[0] == "self":
				c.self = f[1]
			case f[0] == "peer" && len(f) == 3:
				c.peers[f[1]] = f[2]
			}
			c.mu.Unlock()
		}
	}()
	// Runs before the namespaces are deleted (cleanups run last first).
	t.Cleanup(func() {
		stdin.Close()
		exited := make(chan struct{})
		go func() {
			<-scanned
			c.cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-exited
		}
	})
	return c
}

// netnsMissing lists who has not yet reported whom.
func netnsMissing(children []*netnsChild) []string {
	var missing []string
	for _, a := range children {
		self, peers := a.state()
		if self == "" {
			missing = append(missing, a.ns+" has not started")
			continue
		}
		for _, b := range children {
			other, _ := b.state()
			if b != a && (other == "" || peers[other] == "") {
				missing = append(missing, a.ns+" is not connected to "+b.ns)
			}
		}
	}
	return missing
}

// requireNetns skips the test where namespaces cannot be made, unless
// CI=true: there a skip would hide that the test never ran.
func requireNetns(t *testing.T) {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = "needs root to create network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs the ip command (iproute2)"
	}
	if why != "" {
		netnsSkip(t, why)
	}
}

func netnsSkip(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("mDNS namespace test cannot run, and CI=true: %s", why)
	}
	t.Skipf("mDNS namespace test skipped: %s (set CI=true to make this a failure)", why)
}

// addNetns creates a namespace that is deleted when the test ends.
func addNetns(t *testing.T, name string) {
	t.Helper()
	ipOrSkip(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
}

// ipOrSkip runs ip. A failure means this machine cannot build the test
// network (no CAP_NET_ADMIN, no veth or bridge module): skip, or fail on CI.
func ipOrSkip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		netnsSkip(t, fmt.Sprintf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out)))
	}
}

func mustDecodeID(t *testing.T, s string) peer.ID {
	t.Helper()
	id, err := peer.Decode(s)
	if err != nil {
		t.Fatalf("child reported peer ID %q: %v", s, err)
	}
	return id
}
