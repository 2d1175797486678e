package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testbin"
	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	testPeer  = "12D3KooWM5ZxSiLQ9BLTjFgP6TxbA2PdYGNDwn1YEAEQfkaX5mUF"
	testPeer2 = "12D3KooWAZEUY7iXFYBoxWabRoitctK9cDfTKBjWyQXWmJ4LngFB"
)

func TestParseNodeFlags(t *testing.T) {
	dir := t.TempDir()
	boot1 := "/ip4/192.0.2.1/tcp/9310/p2p/" + testPeer
	boot2 := "/ip4/192.0.2.2/udp/9310/quic-v1/p2p/" + testPeer2
	tests := []struct {
		name      string
		args      []string
		check     func(t *testing.T, cfg node.Config)
		checkOpts func(t *testing.T, o nodeOptions)
		wantErr   string // substring of the error; "" means success
		errIs     error
	}{
		{
			name: "defaults",
			args: []string{"--data-dir", dir},
			check: func(t *testing.T, cfg node.Config) {
				if cfg.Params.Name != "devnet" || cfg.DataDir != dir || !cfg.MDNS || cfg.Mine || cfg.MinerThreads != 1 {
					t.Errorf("network %s, data dir %s, mdns %v, mine %v, threads %d: want devnet, %s, true, false, 1",
						cfg.Params.Name, cfg.DataDir, cfg.MDNS, cfg.Mine, cfg.MinerThreads, dir)
				}
				if !slices.Equal(cfg.Listen, p2p.DefaultListenAddrs()) {
					t.Errorf("listen %q, want the default %q", cfg.Listen, p2p.DefaultListenAddrs())
				}
				if len(cfg.Bootstrap) != 0 {
					t.Errorf("bootstrap %q, want none", cfg.Bootstrap)
				}
				if cfg.DHT != p2p.DHTAuto {
					t.Errorf("dht %q, want auto", cfg.DHT)
				}
				if cfg.Logger == nil {
					t.Error("no logger")
				}
			},
		},
		{
			name: "listen repeated replaces the default",
			args: []string{"--data-dir", dir, "--listen", "/ip4/127.0.0.1/tcp/0", "-listen=/ip4/127.0.0.1/udp/0/quic-v1"},
			check: func(t *testing.T, cfg node.Config) {
				want := []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
				if !slices.Equal(cfg.Listen, want) {
					t.Errorf("listen %q, want %q", cfg.Listen, want)
				}
			},
		},
		{
			name: "bootstrap repeated, mdns off, regtest mining",
			args: []string{"--network", "regtest", "--data-dir", dir, "--bootstrap", boot1, "--bootstrap=" + boot2,
				"--no-mdns", "--mine", "--miner-threads", "2", "--log-format", "json", "--log-level", "debug"},
			check: func(t *testing.T, cfg node.Config) {
				if want := []string{boot1, boot2}; !slices.Equal(cfg.Bootstrap, want) {
					t.Errorf("bootstrap %q, want %q", cfg.Bootstrap, want)
				}
				if cfg.MDNS {
					t.Error("--no-mdns left mDNS on")
				}
				if cfg.Params.Name != "regtest" || !cfg.Mine || cfg.MinerThreads != 2 {
					t.Errorf("network %s, mine %v, threads %d: want regtest, true, 2", cfg.Params.Name, cfg.Mine, cfg.MinerThreads)
				}
			},
		},
		{
			name: "min relay fee defaults to the policy's",
			args: []string{"--data-dir", dir},
			check: func(t *testing.T, cfg node.Config) {
				if cfg.MinRelayFee == nil || *cfg.MinRelayFee != chain.DefaultMinRelayFee {
					t.Errorf("min relay fee %v, want %d", cfg.MinRelayFee, chain.DefaultMinRelayFee)
				}
			},
		},
		{
			name: "min relay fee 0 is free relay",
			args: []string{"--data-dir", dir, "--min-relay-fee", "0"},
			check: func(t *testing.T, cfg node.Config) {
				if cfg.MinRelayFee == nil || *cfg.MinRelayFee != 0 {
					t.Errorf("min relay fee %v, want 0", cfg.MinRelayFee)
				}
			},
		},
		{
			name: "default data dir is per network",
			args: []string{"--network", "open"},
			check: func(t *testing.T, cfg node.Config) {
				if !strings.HasSuffix(cfg.DataDir, filepath.Join(".gossipchain", "open")) {
					t.Errorf("data dir %s, want ~/.gossipchain/open", cfg.DataDir)
				}
			},
		},
		{
			name: "api on another interface with a token",
			args: []string{"-H", "0.0.0.0", "-p", "5001", "--api-token", "s3cret"},
			checkOpts: func(t *testing.T, o nodeOptions) {
				if o.APIAddr != "0.0.0.0:5001" || o.APIToken != "s3cret" {
					t.Errorf("api %s token %q", o.APIAddr, o.APIToken)
				}
			},
		},
		{
			name: "api defaults to loopback port 5000",
			args: []string{"--data-dir", dir},
			checkOpts: func(t *testing.T, o nodeOptions) {
				if o.APIAddr != "127.0.0.1:5000" || o.APIToken != "" {
					t.Errorf("api %s token %q", o.APIAddr, o.APIToken)
				}
			},
		},
		{
			name: "api hosts and origins, repeatable; a -H name is admitted",
			args: []string{"-H", "localhost", "--api-allow-host", "node.lan", "--api-allow-host=node.lan:5000", "--api-allow-host", "*",
				"--api-cors-origin", "https://wallet.example", "--api-cors-origin", "http://192.168.1.5:8080"},
			checkOpts: func(t *testing.T, o nodeOptions) {
				if want := []string{"localhost", "node.lan", "node.lan:5000", "*"}; !slices.Equal(o.APIHosts, want) {
					t.Errorf("hosts %q, want %q", o.APIHosts, want)
				}
				if want := []string{"https://wallet.example", "http://192.168.1.5:8080"}; !slices.Equal(o.APIOrigins, want) {
					t.Errorf("origins %q, want %q", o.APIOrigins, want)
				}
			},
		},
		{
			name: "an IP -H is not a host name to admit",
			args: []string{"-H", "127.0.0.1"},
			checkOpts: func(t *testing.T, o nodeOptions) {
				if len(o.APIHosts) != 0 {
					t.Errorf("hosts %q, want none", o.APIHosts)
				}
			},
		},
		{name: "allow-host with a path", args: []string{"--api-allow-host", "node.lan/x"}, wantErr: "flag --api-allow-host"},
		{name: "allow-host with a bad port", args: []string{"--api-allow-host", "node.lan:99999"}, wantErr: "flag --api-allow-host"},
		{name: "cors origin without a scheme", args: []string{"--api-cors-origin", "wallet.example"}, wantErr: "flag --api-cors-origin"},
		{name: "cors origin with a path", args: []string{"--api-cors-origin", "https://wallet.example/app"}, wantErr: "flag --api-cors-origin"},
		{
			name: "pprof on loopback",
			args: []string{"--pprof", "127.0.0.1:6060"},
			checkOpts: func(t *testing.T, o nodeOptions) {
				if o.Pprof != "127.0.0.1:6060" {
					t.Errorf("pprof %q", o.Pprof)
				}
			},
		},
		{name: "pprof off loopback", args: []string{"--pprof", "0.0.0.0:6060"}, wantErr: "--pprof"},
		{name: "pprof not host:port", args: []string{"--pprof", "6060"}, wantErr: "--pprof"},
		{name: "listen not a multiaddr", args: []string{"--listen", "127.0.0.1:9310"}, wantErr: `invalid value "127.0.0.1:9310" for flag --listen`},
		{name: "listen bad address", args: []string{"--listen", "/ip4/300.0.0.1/tcp/1"}, wantErr: "flag --listen"},
		{name: "bootstrap not a multiaddr", args: []string{"--bootstrap", "localhost:9310"}, wantErr: "flag --bootstrap"},
		{name: "bootstrap without peer id", args: []string{"--bootstrap", "/ip4/192.0.2.1/tcp/9310"}, wantErr: "ending in /p2p/<peer id>"},
		{name: "bootstrap with a bad peer id", args: []string{"--bootstrap", "/ip4/192.0.2.1/tcp/9310/p2p/nope"}, wantErr: "flag --bootstrap"},
		{
			name: "nat traversal",
			args: []string{"--announce", "/ip4/198.51.100.7/tcp/9310", "--announce", "/ip4/198.51.100.7/udp/9310/quic-v1",
				"--nat-portmap", "--public-cidr", "100.64.0.0/10", "--public-cidr", "198.51.100.9/24"},
			checkOpts: func(t *testing.T, o nodeOptions) {
				if want := []string{"/ip4/198.51.100.7/tcp/9310", "/ip4/198.51.100.7/udp/9310/quic-v1"}; !slices.Equal(o.Announce, want) {
					t.Errorf("announce %q, want %q", o.Announce, want)
				}
				if !o.PortMap {
					t.Error("--nat-portmap left port mapping off")
				}
				want := []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("198.51.100.0/24")}
				if !slices.Equal(o.PublicCIDRs, want) {
					t.Errorf("public cidrs %v, want %v", o.PublicCIDRs, want)
				}
			},
		},
		{name: "port mapping off by default", args: nil, checkOpts: func(t *testing.T, o nodeOptions) {
			if o.PortMap || len(o.Announce) != 0 || len(o.PublicCIDRs) != 0 {
				t.Errorf("port map %v, announce %q, public %v: want off, none, none", o.PortMap, o.Announce, o.PublicCIDRs)
			}
		}},
		{name: "reachability public", args: []string{"--reachability", "public"}, checkOpts: func(t *testing.T, o nodeOptions) {
			if o.Reachability != p2p.ReachPublic {
				t.Errorf("reachability %q", o.Reachability)
			}
		}},
		{name: "bad reachability", args: []string{"--reachability", "open"}, wantErr: "--reachability"},
		{name: "bad public cidr", args: []string{"--public-cidr", "100.64.0.0"}, wantErr: "flag --public-cidr"},
		{name: "bad announce", args: []string{"--announce", "198.51.100.7:9310"}, wantErr: "flag --announce"},
		{name: "bad dht mode", args: []string{"--dht", "public"}, wantErr: "--dht"},
		{name: "unknown network", args: []string{"--network", "mainnet"}, errIs: chain.ErrUnknownNetwork, wantErr: "--network"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "--log-format"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "--log-level"},
		{name: "no miner threads", args: []string{"--miner-threads", "0"}, wantErr: "--miner-threads"},
		{name: "min relay fee too large", args: []string{"--min-relay-fee", "9007199254740992"}, wantErr: "--min-relay-fee"},
		{name: "min relay fee negative", args: []string{"--min-relay-fee", "-1"}, wantErr: "--min-relay-fee"},
		{name: "unknown flag", args: []string{"--colour", "red"}, wantErr: "-colour"},
		{name: "api on another interface without a token", args: []string{"-H", "0.0.0.0"}, wantErr: "--api-token"},
		{name: "api port out of range", args: []string{"-p", "70000"}, wantErr: "--port"},
		{name: "stray argument", args: []string{"--mine", "yes"}, wantErr: "unexpected arguments"},
		{name: "help", args: []string{"--help"}, errIs: flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cfg, err := parseNodeFlags(tt.args, &stdout, &stderr)
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Fatalf("error %v, want %v", err, tt.errIs)
			}
			if tt.wantErr == "" && tt.errIs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tt.check != nil {
					tt.check(t, cfg.Config)
				}
				if tt.checkOpts != nil {
					tt.checkOpts(t, cfg)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if tt.errIs != flag.ErrHelp && !errors.As(err, new(usageError)) {
				t.Errorf("error %v is not a usage error (exit status 2)", err)
			}
		})
	}
}

func TestNodeHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"node", "--help"}, &stdout, &stderr); err != nil {
		t.Fatalf("node --help: %v", err)
	}
	help := stdout.String()
	for _, f := range []string{"network", "data-dir", "listen", "bootstrap", "no-mdns", "dht", "announce", "nat-portmap", "reachability", "public-cidr", "mine", "miner-threads",
		"miner-address", "min-relay-fee", "log-format", "log-level", "host", "port", "api-token", "api-allow-host", "api-cors-origin", "pprof"} {
		if !strings.Contains(help, "  --"+f) {
			t.Errorf("help does not explain --%s", f)
		}
	}
	for _, want := range []string{"5353", "/p2p/<peer id>", "repeatable", "9310", "SIGINT"} {
		if !strings.Contains(help, want) {
			t.Errorf("help does not mention %q", want)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("help wrote to stderr: %s", stderr.String())
	}
	t.Logf("gossipchain node --help:\n%s", help)
}

// TestNodeProcess runs the real binary: it mines on loopback (mDNS off),
// stops cleanly on SIGINT, and a restart on the same data directory has
// the chain it left and the same peer ID.
func TestNodeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gossipchain binary")
	}
	bin := testbin.Build(t)
	dir := t.TempDir()
	args := []string{"node", "--network", "regtest", "--data-dir", dir, "--no-mdns",
		"--listen", "/ip4/127.0.0.1/tcp/0", "-p", "0", "--log-format", "json"}

	first := startProc(t, bin, append(args, "--mine", "--pprof", "127.0.0.1:0")...)
	started := first.waitFor(t, 30*time.Second, `"node started"`, msgIs("node started"))
	mined := first.waitFor(t, 30*time.Second, `"block mined" at height 3`, func(l *logLine) bool {
		return l.Msg == "block mined" && l.Height != nil && *l.Height >= 3
	})
	first.waitFor(t, 30*time.Second, `"listening"`, msgIs("listening"))
	if started.PeerID == "" || mined.Height == nil || *mined.Height < 1 {
		t.Fatalf("node started %+v, block mined %+v: want a peer id and a height", started, mined)
	}
	// The classic API answers on the address the node logged.
	apiLine := first.waitFor(t, 30*time.Second, `"http api listening"`, msgIs("http api listening"))
	resp, err := http.Get(apiLine.Addr + "/chain?limit=2")
	if err != nil {
		t.Fatal(err)
	}
	var chainResp struct {
		Chain  []json.RawMessage `json:"chain"`
		Length uint64            `json:"length"`
	}
	err = json.NewDecoder(resp.Body).Decode(&chainResp)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || chainResp.Length < 2 || len(chainResp.Chain) != 2 {
		t.Fatalf("GET /chain: status %d, %d blocks of %d, %v", resp.StatusCode, len(chainResp.Chain), chainResp.Length, err)
	}

	// /healthz answers; the profiler is on the loopback port it logged.
	if resp, err := http.Get(apiLine.Addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	pprofLine := first.waitFor(t, 30*time.Second, `"pprof listening"`, msgIs("pprof listening"))
	resp, err = http.Get(pprofLine.Addr + "goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	profile, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(profile), "goroutine profile") {
		t.Fatalf("pprof goroutine profile: %d %.200s", resp.StatusCode, profile)
	}

	// A second node on the same data directory fails at once (status
	// 1, the reason as a JSON line); a typo fails before that (status 2).
	locked := startProc(t, bin, args...)
	locked.waitExit(t, 15*time.Second, 1)
	if l := locked.last(msgIs("node failed")); l == nil || l.Level != "ERROR" || !strings.Contains(l.Reason, "locked") {
		t.Errorf(`second node on the same data dir: "node failed" line %+v, want an ERROR saying the store is locked`, l)
	}
	typo := startProc(t, bin, "node", "--listen", "127.0.0.1:9310")
	typo.waitExit(t, 15*time.Second, 2)

	first.stop(t, syscall.SIGINT, 15*time.Second)
	stopped := first.last(msgIs("node stopped"))
	lastMined := first.last(msgIs("block mined"))
	if stopped == nil || stopped.Height == nil || *stopped.Height < *lastMined.Height {
		t.Fatalf(`"node stopped" %+v after mining height %d`, stopped, *lastMined.Height)
	}
	first.checkClean(t)

	second := startProc(t, bin, args...)
	restarted := second.waitFor(t, 30*time.Second, `"node started"`, msgIs("node started"))
	second.stop(t, syscall.SIGTERM, 15*time.Second)
	second.checkClean(t)
	if restarted.PeerID != started.PeerID {
		t.Errorf("peer id %s after restart, was %s: the node key is not kept", restarted.PeerID, started.PeerID)
	}
	if restarted.Height == nil || *restarted.Height != *stopped.Height || restarted.Hash != stopped.Hash {
		t.Errorf("restart at %+v, stopped at height %d hash %s", restarted, *stopped.Height, stopped.Hash)
	}
	t.Logf("mined to height %d (last logged %d), restarted at %d, peer %s",
		*stopped.Height, *lastMined.Height, *restarted.Height, restarted.PeerID)
}

// logLine is the part of a JSON log line the tests read.
type logLine struct {
	Level  string  `json:"level"`
	Msg    string  `json:"msg"`
	Height *uint64 `json:"height"`
	Hash   string  `json:"hash"`
	PeerID string  `json:"peer_id"`
	Reason string  `json:"reason"`
	Addr   string  `json:"addr"`
	Path   string  `json:"path"`
}

func msgIs(msg string) func(*logLine) bool {
	return func(l *logLine) bool { return l.Msg == msg }
}

// proc is a running gossipchain process whose stderr is read line by
// line as it comes, so waits never sleep and the child never blocks on
// a full pipe.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's, valid after done

	mu      sync.Mutex
	partial []byte
	lines   []*logLine
	notJSON []string
	tail    [tailLines]string // the last raw lines, a ring, for a failed test's output
	nlines  int
	changed chan struct{} // gets a token when a line arrives
}

// tailLines is how many of a process's last lines a failed test prints
// (only of the processes still running when it failed: those whose
// state the failure is about), so that a rare failure in CI can be read
// from its output alone.
const tailLines = 40

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(bin), done: make(chan struct{}), changed: make(chan struct{}, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = p
	p.cmd.Stdout = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		running := true
		select {
		case <-p.done:
			running = false
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s %s: %d log lines; not JSON: %q", p.name, strings.Join(args, " "), len(p.lines), p.notJSON)
			if running {
				t.Logf("its last lines:\n%s", p.lastLines())
			}
		}
	})
	return p
}

// Write splits the child's output into lines and parses each.
func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := p.partial[:i]
		p.tail[p.nlines%tailLines] = string(line)
		p.nlines++
		l := new(logLine)
		if err := json.Unmarshal(line, l); err != nil {
			p.notJSON = append(p.notJSON, string(line))
		} else {
			p.lines = append(p.lines, l)
		}
		p.partial = p.partial[i+1:]
	}
	select {
	case p.changed <- struct{}{}:
	default:
	}
	return len(b), nil
}

// lastLines returns the process's last lines, oldest first.
func (p *proc) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for i := max(0, p.nlines-tailLines); i < p.nlines; i++ {
		b.WriteString(p.tail[i%tailLines])
		b.WriteByte('\n')
	}
	return b.String()
}

// waitFor returns the first line that matches, failing the test after d.
func (p *proc) waitFor(t *testing.T, d time.Duration, what string, match func(*logLine) bool) *logLine {
	t.Helper()
	timeout := time.After(d)
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if match(p.lines[i]) {
				l := p.lines[i]
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.changed:
		case <-p.done:
			p.mu.Lock()
			n := len(p.lines)
			p.mu.Unlock()
			if i == n {
				t.Fatalf("%s exited (%v) without logging %s", p.name, p.err, what)
			}
		case <-timeout:
			t.Fatalf("no %s line after %v", what, d)
		}
	}
}

// last returns the last line that matches, or nil.
func (p *proc) last(match func(*logLine) bool) *logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.lines) - 1; i >= 0; i-- {
		if match(p.lines[i]) {
			return p.lines[i]
		}
	}
	return nil
}

// stop sends sig and expects exit status 0 within d.
func (p *proc) stop(t *testing.T, sig os.Signal, d time.Duration) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("still running %v after %v", d, sig)
	}
	if p.err != nil {
		t.Fatalf("after %v: %v, want exit status 0", sig, p.err)
	}
	t.Logf("%v: exited 0 in %v", sig, time.Since(start).Round(time.Millisecond))
}

// waitExit expects the process to exit by itself with status code
// within d.
func (p *proc) waitExit(t *testing.T, d time.Duration, code int) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("still running after %v, want exit status %d", d, code)
	}
	if got := p.cmd.ProcessState.ExitCode(); got != code {
		t.Errorf("exit status %d (%v), want %d", got, p.err, code)
	}
}

// checkClean fails the test on error-level lines and on output that is
// not JSON: --log-format json promises one object per line.
func (p *proc) checkClean(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l.Level == "ERROR" {
			t.Errorf("error logged: %+v", l)
		}
	}
	for _, s := range p.notJSON {
		t.Errorf("not a JSON log line: %q", s)
	}
	if len(p.partial) > 0 {
		t.Errorf("unterminated last line: %q", p.partial)
	}
}

// TestLoggerPeerIDs: text logs print a peer short, JSON logs in full.
func TestLoggerPeerIDs(t *testing.T) {
	const full = "12D3KooWSJAAF2GSMkdEMaGHhZ8VjXNyVXYjqW9J9AJ2Xw9MRDBL"
	id, err := peer.Decode(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		format, want, not string
	}{
		{"text", "peer=12*9MRDBL", full},
		{"json", `"peer":"` + full + `"`, "12*9MRDBL"},
	} {
		var buf bytes.Buffer
		log, err := newLogger(&buf, c.format, "info")
		if err != nil {
			t.Fatal(err)
		}
		log.Info("block received", "peer", id, "height", 3)
		log.Info("tx received", "peer", full)
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if !strings.Contains(line, c.want) || strings.Contains(line, c.not) {
				t.Errorf("%s: %q, want %q and not %q", c.format, line, c.want, c.not)
			}
		}
	}
}
