package p2p

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	"github.com/multiformats/go-multiaddr"
)

// TestMemoryReconnectsAfterRestart: A connects to B, stops, and comes back
// from the same data directory with no bootstrap and no mDNS: it must find
// B again from peers.json alone.
func TestMemoryReconnectsAfterRestart(t *testing.T) {
	b := startHost(t, testConfig(t, t.TempDir()))
	dirA := t.TempDir()

	a1 := startHost(t, testConfig(t, dirA))
	if err := a1.Dial(t.Context(), addrInfo(b), SourceRegister); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "b to see a", connected(b, a1.ID()))
	if err := a1.Close(); err != nil {
		t.Fatal(err)
	}
	file := readPeersFile(t, dirA)
	if len(file.Peers) != 1 || file.Peers[0].ID != b.ID().String() || len(file.Peers[0].Addrs) == 0 {
		t.Fatalf("peers.json after close = %+v, want b with its addresses", file)
	}
	fi, err := os.Stat(filepath.Join(dirA, PeersFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("peers.json mode: %v, %v", fi.Mode(), err)
	}

	a2 := startHost(t, testConfig(t, dirA))
	if a2.ID() != a1.ID() {
		t.Fatal("identity changed across restart")
	}
	testutil.Eventually(t, 10*time.Second, "a to redial b from memory", connected(a2, b.ID()))
	if got := a2.PeerSource(b.ID()); got != SourceRemembered {
		t.Errorf("source = %q, want %q", got, SourceRemembered)
	}
}

// TestMemoryWritesOnDebounce: the file appears while the host runs, not
// only at Close, so a crash loses at most the last few seconds.
func TestMemoryWritesOnDebounce(t *testing.T) {
	b := startHost(t, testConfig(t, ""))
	dir := t.TempDir()
	a := startHost(t, testConfig(t, dir))
	if err := a.Dial(t.Context(), addrInfo(b), SourceRegister); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "peers.json to name b", func() bool {
		raw, err := os.ReadFile(filepath.Join(dir, PeersFile))
		if err != nil {
			return false
		}
		var f peersFileJSON
		return json.Unmarshal(raw, &f) == nil && len(f.Peers) == 1 && f.Peers[0].ID == b.ID().String()
	})
}

func TestMemoryCorruptFileIgnored(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      "{\"version\": 1, \"peers\": [",
		"wrong version": `{"version": 99, "peers": []}`,
		"bad entries":   `{"version": 1, "peers": [{"id": "nope", "addrs": ["/ip4/127.0.0.1/tcp/1"]}, {"id": "12D3KooWGzh5HHrGq8bGkXoXGiBCRuk4iW8ShnuzjHp1hnGCQK4C", "addrs": ["garbage"]}]}`,
		"binary":        "\x00\x01\x02\xff",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, PeersFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			b := startHost(t, testConfig(t, ""))
			a := startHost(t, testConfig(t, dir)) // must not fail
			if len(a.remembered) != 0 {
				t.Errorf("remembered %v from a corrupt file", a.remembered)
			}
			if err := a.Dial(t.Context(), addrInfo(b), SourceRegister); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			// The next write replaces the damaged file with a good one.
			if f := readPeersFile(t, dir); len(f.Peers) != 1 || f.Peers[0].ID != b.ID().String() {
				t.Errorf("peers.json after close = %+v, want b", f)
			}
		})
	}
}

// newID returns a fresh peer ID.
func newID(t testing.TB) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// memConn is one connection a test shows the peer memory.
type memConn struct {
	remote   string // the connection's remote address
	outbound bool
}

// TestMemoryTables: what the two tables keep as peers connect (protocol.md
// §15.2): inbound peers never fill tried nor push a tried peer out; each
// group holds at most maxPeersPerGroup entries of a table; the tables are
// bounded; a restart dials every tried peer first, then a few new ones.
func TestMemoryTables(t *testing.T) {
	outbound := func(n int, addr func(i int) string) []memConn {
		var out []memConn
		for i := range n {
			out = append(out, memConn{remote: addr(i), outbound: true})
		}
		return out
	}
	inbound := func(n int, addr func(i int) string) []memConn {
		var out []memConn
		for i := range n {
			out = append(out, memConn{remote: addr(i)})
		}
		return out
	}
	publicGroups := func(i int) string { return fmt.Sprintf("/ip4/%d.%d.1.1/tcp/9310", 20+i/200, i%200) }
	oneGroup := func(i int) string { return fmt.Sprintf("/ip4/66.6.%d.%d/tcp/%d", i/200, i%200, 40000+i) }
	tests := []struct {
		name        string
		honest      []memConn // connect first
		attack      []memConn // connect after, each a new identity
		tried, news int       // table sizes at the end
		honestKept  int       // how many honest peers are still tried
		dials       int       // the length of the restart's dial list
	}{
		{"inbound from one group", outbound(10, publicGroups), inbound(500, oneGroup), 10, maxPeersPerGroup, 10, 10 + restartNewDials},
		{"inbound from many groups", outbound(10, publicGroups), inbound(500, publicGroups), 10, maxNewPeers, 10, 10 + restartNewDials},
		{"inbound on loopback", outbound(5, func(i int) string { return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 30000+i) }),
			inbound(100, func(i int) string { return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 50000+i) }), 5, maxPeersPerGroup, 5, 5 + restartNewDials},
		{"outbound from one group", nil, outbound(50, oneGroup), maxPeersPerGroup, 0, 0, maxPeersPerGroup},
		{"outbound from many groups", nil, outbound(100, publicGroups), maxTriedPeers, 0, 0, maxTriedPeers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := pstoremem.NewPeerstore()
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Close()
			dir := t.TempDir()
			m := newPeerMemory(dir, ps, testLogger(t))
			connect := func(c memConn) peer.ID {
				id := newID(t)
				a := multiaddr.StringCast(c.remote)
				ps.AddAddr(id, a, peerstore.PermanentAddrTTL)
				m.connected(id, a, c.outbound)
				time.Sleep(time.Microsecond) // distinct last-seen times
				return id
			}
			var honest []peer.ID
			for _, c := range tc.honest {
				honest = append(honest, connect(c))
			}
			for _, c := range tc.attack {
				connect(c)
			}
			check := func(m *peerMemory, when string) {
				t.Helper()
				tried, news, kept := 0, 0, 0
				for id, e := range m.peers {
					if e.tried {
						tried++
					} else {
						news++
					}
					if e.tried && slices.Contains(honest, id) {
						kept++
					}
				}
				if tried != tc.tried || news != tc.news || kept != tc.honestKept {
					t.Errorf("%s: %d tried, %d new, %d honest tried; want %d, %d, %d", when, tried, news, kept, tc.tried, tc.news, tc.honestKept)
				}
				dials := m.addrInfos()
				if len(dials) != tc.dials {
					t.Errorf("%s: restart dials %d peers, want %d", when, len(dials), tc.dials)
				}
				for i, id := range honest {
					if i >= len(dials) || !slices.ContainsFunc(dials[:len(honest)], func(ai peer.AddrInfo) bool { return ai.ID == id }) {
						t.Errorf("%s: honest peer %d is not among the first %d dials", when, i, len(honest))
					}
				}
			}
			check(m, "running")
			if err := m.flush(); err != nil {
				t.Fatal(err)
			}
			reloaded := newPeerMemory(dir, ps, testLogger(t))
			reloaded.load()
			check(reloaded, "reloaded")
		})
	}
}

// TestMemoryReadsVersion1: a peers.json of the old format is read, every
// entry as new (it mixed inbound and outbound peers), and the next write
// is version 2.
func TestMemoryReadsVersion1(t *testing.T) {
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	dir := t.TempDir()
	var ids []peer.ID
	var entries []string
	for i := range 12 {
		id := newID(t)
		ids = append(ids, id)
		entries = append(entries, fmt.Sprintf(`{"id": %q, "addrs": ["/ip4/%d.1.2.3/tcp/9310"], "last_seen": "2026-12-01T10:00:%02dZ"}`, id, 30+i, i))
	}
	raw := `{"version": 1, "peers": [` + strings.Join(entries, ",") + `]}`
	if err := os.WriteFile(filepath.Join(dir, PeersFile), []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newPeerMemory(dir, ps, testLogger(t))
	m.load()
	dials := m.addrInfos()
	if len(dials) != restartNewDials {
		t.Fatalf("restart dials %d peers of an old file, want %d (all new)", len(dials), restartNewDials)
	}
	if dials[0].ID != ids[len(ids)-1] {
		t.Errorf("first dial %s, want the most recent %s", dials[0].ID, ids[len(ids)-1])
	}
	m.dirty = true
	if err := m.flush(); err != nil {
		t.Fatal(err)
	}
	if f := readPeersFile(t, dir); f.Version != peersFileVersion || len(f.Peers) != len(ids) || f.Peers[0].Tried {
		t.Fatalf("rewritten file: version %d, %d peers, first tried %v", f.Version, len(f.Peers), f.Peers[0].Tried)
	}
}

// TestAddrGroup: the network groups of §15.2.
func TestAddrGroup(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"/ip4/203.0.113.7/tcp/9310", "ip4:203.0.0.0"},
		{"/ip4/203.0.200.1/udp/9310/quic-v1", "ip4:203.0.0.0"},
		{"/ip4/127.0.0.1/tcp/1", "local:127.0.0.1"},
		{"/ip4/192.168.1.10/tcp/9310", "local:192.168.1.10"},
		{"/ip4/10.1.2.3/tcp/9310", "local:10.1.2.3"},
		{"/ip6/2001:db8:1:2::1/tcp/9310", "ip6:2001:db8::"},
		{"/ip6/::1/tcp/9310", "local:::1"},
		{"/ip6/fe80::1/tcp/9310", "local:fe80::1"},
		{"/dns4/Node.Example.org/tcp/9310", "dns:node.example.org"},
	} {
		if got := addrGroup(multiaddr.StringCast(tc.addr)); got != tc.want {
			t.Errorf("addrGroup(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func readPeersFile(t *testing.T, dir string) peersFileJSON {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, PeersFile))
	if err != nil {
		t.Fatal(err)
	}
	var f peersFileJSON
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("peers.json: %v\n%s", err, raw)
	}
	return f
}

// TestMemoryEclipseByInbound: the attack of issue 12 on real hosts. A node
// dials three honest peers; then forty identities on one machine connect
// to it in turn and hang up. After a restart from the same data directory
// the node dials the honest peers first, and the attackers are no more
// than restartNewDials of its dials.
func TestMemoryEclipseByInbound(t *testing.T) {
	dir := t.TempDir()
	a := startHost(t, testConfig(t, dir))
	var honest []peer.ID
	for range 3 {
		h := startHost(t, testConfig(t, ""))
		if err := a.Dial(t.Context(), addrInfo(h), SourceRegister); err != nil {
			t.Fatal(err)
		}
		honest = append(honest, h.ID())
	}
	for range 40 {
		evil, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		if err := evil.Connect(t.Context(), peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "the node to log the attacker", func() bool { return a.PeerSource(evil.ID()) == SourceInbound })
		if err := evil.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	restarted, err := NewHost(t.Context(), testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	dials := restarted.remembered
	if len(dials) > len(honest)+restartNewDials {
		t.Errorf("restart dials %d peers, want at most %d", len(dials), len(honest)+restartNewDials)
	}
	for i, id := range honest {
		if !slices.ContainsFunc(dials[:min(len(dials), len(honest))], func(ai peer.AddrInfo) bool { return ai.ID == id }) {
			t.Errorf("honest peer %d is not among the first dials", i)
		}
	}
	if f := readPeersFile(t, dir); len(f.Peers) > len(honest)+maxPeersPerGroup {
		t.Errorf("peers.json holds %d peers, want at most %d", len(f.Peers), len(honest)+maxPeersPerGroup)
	}
}
