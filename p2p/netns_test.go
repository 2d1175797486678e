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
	"github.com/gossipchain/gossipchain/internal/netnstest"
)

// mDNS across processes, for real. mDNS multicasts on every interface, so
// it never runs in the root namespace: this test builds a private network
// out of namespaces that exist only for the test,
//
//	gc<pid>-br:  br0 (bridge), v1 v2 v3 (veth ends, enslaved to br0)
//	gc<pid>-n1 … n3:  lo, eth0 198.18.0.1 … 3/24
//
// (package internal/netnstest). Each n<i> runs this test binary as a child (TestNetnsMDNSChild) with a Host
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
	netnstest.Require(t)
	hosts := netnstest.New(t, fmt.Sprintf("gc%d", os.Getpid()), netnsSubnet, netnsChildren)
	children := make([]*netnsChild, len(hosts))
	for i, h := range hosts {
		children[i] = startNetnsChild(t, h.NS, h.IP)
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

func mustDecodeID(t *testing.T, s string) peer.ID {
	t.Helper()
	id, err := peer.Decode(s)
	if err != nil {
		t.Fatalf("child reported peer ID %q: %v", s, err)
	}
	return id
}
