package p2p

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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
	waitFor(t, 5*time.Second, "b to see a", connected(b, a1.ID()))
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
	waitFor(t, 10*time.Second, "a to redial b from memory", connected(a2, b.ID()))
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
	waitFor(t, 5*time.Second, "peers.json to name b", func() bool {
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

// TestMemoryBounded: however many peers come and go, the file keeps the
// most recently seen maxRememberedPeers, each with at most
// maxRememberedAddrs addresses.
func TestMemoryBounded(t *testing.T) {
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	dir := t.TempDir()
	m := newPeerMemory(dir, ps, testLogger(t))
	var ids []peer.ID
	for i := range maxRememberedPeers + 20 {
		_, pub, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		for port := range maxRememberedAddrs + 4 {
			a := multiaddr.StringCast("/ip4/127.0.0.1/tcp/" + strconv.Itoa(10000+i*100+port))
			ps.AddAddr(id, a, peerstore.PermanentAddrTTL)
		}
		m.seen(id)
		ids = append(ids, id)
		time.Sleep(time.Microsecond) // distinct last-seen times
	}
	if err := m.flush(); err != nil {
		t.Fatal(err)
	}
	f := readPeersFile(t, dir)
	if len(f.Peers) != maxRememberedPeers {
		t.Fatalf("file has %d peers, want %d", len(f.Peers), maxRememberedPeers)
	}
	if f.Peers[0].ID != ids[len(ids)-1].String() {
		t.Errorf("first entry %s, want the most recent peer %s", f.Peers[0].ID, ids[len(ids)-1])
	}
	kept := make(map[string]bool)
	for _, p := range f.Peers {
		kept[p.ID] = true
		if len(p.Addrs) > maxRememberedAddrs {
			t.Errorf("peer %s has %d addresses, want at most %d", p.ID, len(p.Addrs), maxRememberedAddrs)
		}
	}
	for _, id := range ids[:20] {
		if kept[id.String()] {
			t.Errorf("oldest peer %s kept", id)
		}
	}
	// And it reads back.
	m2 := newPeerMemory(dir, ps, testLogger(t))
	m2.load()
	if got := len(m2.addrInfos()); got != maxRememberedPeers {
		t.Errorf("reloaded %d peers, want %d", got, maxRememberedPeers)
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory holds %d files, want only %s", len(entries), PeersFile)
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
