package p2p

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/gossipchain/gossipchain/internal/fsutil"
)

// Peer memory: the peers this node has been connected to, kept in
// dataDir/peers.json so that a restarted node finds its network again
// without mDNS or bootstrap flags. The file is a hint, never a source of
// truth: a damaged one is logged and ignored, and is overwritten by the
// next write.
//
// It must also resist eclipse: peers that connect to us are whoever chose
// to, and an attacker with many identities connecting in turn must not
// become the whole list a restarted node dials. So, after Bitcoin Core's
// address manager, the memory has two tables (protocol.md §15.2):
//
//   - tried: peers we dialled and connected to. Only an outbound
//     connection puts a peer here; inbound ones never do.
//   - new: peers heard of: those that dialled us, with the addresses they
//     claim, and entries of an old file.
//
// Both count entries by network group (addrGroup) and hold at most
// maxPeersPerGroup of one group, so one /16 of the internet (or one
// machine) fills at most that many slots of either table, and a new entry
// only ever pushes out an entry of its own group, or of the largest group
// when the table is full. A restart dials every tried peer, most recent
// first, then at most restartNewDials new ones.

// PeersFile is the name of the peer memory inside the data directory.
const PeersFile = "peers.json"

// peersFileVersion is the format of peers.json: 2 has the tables. A file of
// version 1 (one list, no tables) is still read, every entry as new: it
// mixed inbound and outbound peers, so none of them is known to be tried.
const (
	peersFileVersion   = 2
	peersFileVersionV1 = 1
)

// peersFileJSON is the file's format.
type peersFileJSON struct {
	Version int              `json:"version"`
	Peers   []rememberedPeer `json:"peers"`
}

type rememberedPeer struct {
	ID       string    `json:"id"`
	Addrs    []string  `json:"addrs"`
	LastSeen time.Time `json:"last_seen"`
	// Tried and Group are version 2's: the table, and the network group
	// the entry counts against (of the address we dialled for a tried
	// peer, of the connection's source for a new one).
	Tried bool   `json:"tried,omitempty"`
	Group string `json:"group,omitempty"`
}

// peerMemory is safe for concurrent use: mu guards peers and dirty;
// writeMu serialises writers (the debounce loop and Close's final flush).
type peerMemory struct {
	path string
	ps   peerstore.Peerstore
	log  *slog.Logger
	kick chan struct{} // capacity 1: "something changed"

	writeMu sync.Mutex

	mu    sync.Mutex
	peers map[peer.ID]*memEntry
	dirty bool
}

type memEntry struct {
	// addrs: for a tried peer the address we dialled comes first.
	addrs    []multiaddr.Multiaddr
	lastSeen time.Time
	tried    bool
	group    string
}

func newPeerMemory(dataDir string, ps peerstore.Peerstore, log *slog.Logger) *peerMemory {
	return &peerMemory{
		path:  filepath.Join(dataDir, PeersFile),
		ps:    ps,
		log:   log,
		kick:  make(chan struct{}, 1),
		peers: make(map[peer.ID]*memEntry),
	}
}

// load reads the file. Any problem is logged and leaves the memory empty
// (or with the entries that parsed): it never stops the node.
func (m *peerMemory) load() {
	f, err := os.Open(m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		m.log.Warn("peer memory unreadable, starting without it", "path", m.path, "reason", err)
		return
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxPeersFileSize+1))
	if err == nil && len(raw) > maxPeersFileSize {
		err = fmt.Errorf("larger than %d bytes", maxPeersFileSize)
	}
	var file peersFileJSON
	if err == nil {
		err = json.Unmarshal(raw, &file)
	}
	if err == nil && file.Version != peersFileVersion && file.Version != peersFileVersionV1 {
		err = fmt.Errorf("version %d, want %d or %d", file.Version, peersFileVersion, peersFileVersionV1)
	}
	if err != nil {
		m.log.Warn("peer memory corrupt, ignoring it", "path", m.path, "reason", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Oldest first, so that where a group or a table overflows the most
	// recent entries are the ones kept, as when they were added.
	slices.SortStableFunc(file.Peers, func(a, b rememberedPeer) int { return a.LastSeen.Compare(b.LastSeen) })
	for _, rp := range file.Peers {
		id, err := peer.Decode(rp.ID)
		if err != nil {
			continue
		}
		var addrs []multiaddr.Multiaddr
		for _, s := range rp.Addrs {
			if a, err := multiaddr.NewMultiaddr(s); err == nil {
				addrs = append(addrs, a)
			}
		}
		if addrs = usableAddrs(addrs); len(addrs) == 0 {
			continue
		}
		e := &memEntry{addrs: addrs, lastSeen: rp.LastSeen, group: rp.Group}
		if file.Version == peersFileVersion {
			e.tried = rp.Tried
		}
		if e.group == "" {
			e.group = addrGroup(addrs[0])
		}
		m.insertLocked(id, e)
	}
}

// addrInfos returns the peers a restarted node dials: every tried peer,
// most recently seen first, then the restartNewDials most recent new ones.
func (m *peerMemory) addrInfos() []peer.AddrInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var tried, fresh []peer.ID
	for id, e := range m.peers {
		if e.tried {
			tried = append(tried, id)
		} else {
			fresh = append(fresh, id)
		}
	}
	newest := func(a, b peer.ID) int { return m.peers[b].lastSeen.Compare(m.peers[a].lastSeen) }
	slices.SortFunc(tried, newest)
	slices.SortFunc(fresh, newest)
	out := make([]peer.AddrInfo, 0, len(tried)+restartNewDials)
	for _, id := range append(tried, fresh[:min(len(fresh), restartNewDials)]...) {
		out = append(out, peer.AddrInfo{ID: id, Addrs: slices.Clone(m.peers[id].addrs)})
	}
	return out
}

// connected records a connection to p: remote is the connection's remote
// address, outbound whether we dialled it. A peer we dialled is tried,
// remembered at the address we reached it on; one that dialled us is new
// (unless tried already), with the addresses it claims, and counts against
// the group of the address it came from.
func (m *peerMemory) connected(p peer.ID, remote multiaddr.Multiaddr, outbound bool) {
	claimed := usableAddrs(m.ps.Addrs(p))
	m.mu.Lock()
	old, ok := m.peers[p]
	switch {
	case outbound && remote != nil:
		m.insertLocked(p, &memEntry{addrs: dialledFirst(remote, claimed), lastSeen: time.Now(), tried: true, group: addrGroup(remote)})
	case ok:
		old.lastSeen = time.Now() // tried stays tried; new keeps its group
		if !old.tried && len(claimed) > 0 {
			old.addrs = claimed
		}
	case remote != nil:
		// Its claimed addresses may come a moment later (identify): the
		// entry waits for them in flush.
		m.insertLocked(p, &memEntry{addrs: claimed, lastSeen: time.Now(), group: addrGroup(remote)})
	}
	m.dirty = true
	m.mu.Unlock()
	m.wake()
}

// seen records that p, if remembered, is (or just was) connected.
func (m *peerMemory) seen(p peer.ID) {
	m.mu.Lock()
	e, ok := m.peers[p]
	if ok {
		e.lastSeen = time.Now()
		m.dirty = true
	}
	m.mu.Unlock()
	if ok {
		m.wake()
	}
}

func (m *peerMemory) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// insertLocked puts e in its table under p, replacing p's entry if any,
// and makes room: first within e's group (at most maxPeersPerGroup of one
// group per table), then in the table (the oldest entry of its largest
// group goes). Nothing here ever moves an entry between tables, so no
// number of new entries can push out a tried one.
func (m *peerMemory) insertLocked(p peer.ID, e *memEntry) {
	delete(m.peers, p)
	limit := maxNewPeers
	if e.tried {
		limit = maxTriedPeers
	}
	groups := make(map[string][]peer.ID)
	size := 0
	for id, o := range m.peers {
		if o.tried == e.tried {
			groups[o.group] = append(groups[o.group], id)
			size++
		}
	}
	if len(groups[e.group]) >= maxPeersPerGroup {
		m.evictOldestLocked(groups[e.group])
	} else if size >= limit {
		var largest []peer.ID
		for _, ids := range groups {
			if len(ids) > len(largest) {
				largest = ids
			}
		}
		m.evictOldestLocked(largest)
	}
	m.peers[p] = e
}

func (m *peerMemory) evictOldestLocked(ids []peer.ID) {
	var oldest peer.ID
	for _, id := range ids {
		if oldest == "" || m.peers[id].lastSeen.Before(m.peers[oldest].lastSeen) {
			oldest = id
		}
	}
	delete(m.peers, oldest)
}

// run writes the file at most once per delay while changes come in. The
// last changes are written by Close's flush, not here.
func (m *peerMemory) run(ctx context.Context, delay time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		}
		if !sleep(ctx, delay) {
			return
		}
		if err := m.flush(); err != nil {
			m.log.Warn("peer memory not saved", "path", m.path, "reason", err)
		}
	}
}

// flush writes the file if anything changed, refreshing the addresses of
// every remembered peer from the peerstore first: identify fills them in
// after the connect that made us remember the peer.
func (m *peerMemory) flush() error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()

	m.mu.Lock()
	if !m.dirty {
		m.mu.Unlock()
		return nil
	}
	file := peersFileJSON{Version: peersFileVersion}
	for id, e := range m.peers {
		if addrs := usableAddrs(m.ps.Addrs(id)); len(addrs) > 0 && e.tried {
			e.addrs = dialledFirst(e.addrs[0], addrs)
		} else if len(addrs) > 0 {
			e.addrs = addrs
		}
		if len(e.addrs) == 0 {
			continue
		}
		rp := rememberedPeer{ID: id.String(), LastSeen: e.lastSeen.UTC(), Tried: e.tried, Group: e.group}
		for _, a := range e.addrs {
			rp.Addrs = append(rp.Addrs, a.String())
		}
		file.Peers = append(file.Peers, rp)
	}
	m.dirty = false
	m.mu.Unlock()

	// Tried first, then new, newest first in each: the file reads like
	// the dial order.
	slices.SortFunc(file.Peers, func(a, b rememberedPeer) int {
		if a.Tried != b.Tried {
			if a.Tried {
				return -1
			}
			return 1
		}
		return b.LastSeen.Compare(a.LastSeen)
	})
	raw, err := json.MarshalIndent(file, "", "  ")
	if err == nil {
		err = fsutil.WriteFileAtomic(m.path, append(raw, '\n'))
	}
	if err != nil {
		m.mu.Lock()
		m.dirty = true
		m.mu.Unlock()
		return fmt.Errorf("write peer memory: %w", err)
	}
	return nil
}

// usableAddrs keeps the addresses worth redialling after a restart:
// direct ones (no relay circuit), at most maxRememberedAddrs.
func usableAddrs(addrs []multiaddr.Multiaddr) []multiaddr.Multiaddr {
	var out []multiaddr.Multiaddr
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(multiaddr.P_CIRCUIT); err == nil {
			continue
		}
		if len(out) == maxRememberedAddrs {
			break
		}
		out = append(out, a)
	}
	return out
}

// dialledFirst returns the address we reached a peer on, then the others
// it claims, at most maxRememberedAddrs in all.
func dialledFirst(dialled multiaddr.Multiaddr, claimed []multiaddr.Multiaddr) []multiaddr.Multiaddr {
	out := []multiaddr.Multiaddr{dialled}
	for _, a := range claimed {
		if len(out) < maxRememberedAddrs && !a.Equal(dialled) {
			out = append(out, a)
		}
	}
	return out
}

// addrGroup is the network group an address counts against in the peer
// memory: one operator can hold many addresses of one network, rarely
// addresses of many.
//
//   - a public IPv4 address: its /16 ("ip4:203.0");
//   - a public IPv6 address: its /32 ("ip6:2001:db8::");
//   - a loopback, private or link-local address: the whole IP
//     ("local:127.0.0.1"). A LAN is one /16, so its /16 would cap a LAN
//     node's memory at maxPeersPerGroup peers; per machine, each LAN
//     machine is a group of its own, and all the nodes of one machine
//     (tests on 127.0.0.1) share one;
//   - a DNS name: the name; anything else: "other".
func addrGroup(a multiaddr.Multiaddr) string {
	ip, err := manet.ToIP(a)
	if err != nil {
		for _, code := range []int{multiaddr.P_DNS, multiaddr.P_DNS4, multiaddr.P_DNS6, multiaddr.P_DNSADDR} {
			if name, err := a.ValueForProtocol(code); err == nil {
				return "dns:" + strings.ToLower(name)
			}
		}
		return "other"
	}
	switch {
	case ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsUnspecified():
		return "local:" + ip.String()
	case ip.To4() != nil:
		return "ip4:" + ip.Mask(net.CIDRMask(16, 32)).String()
	default:
		return "ip6:" + ip.Mask(net.CIDRMask(32, 128)).String()
	}
}
