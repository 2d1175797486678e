package p2p

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/internal/fsutil"
)

// Peer memory: the peers this node has been connected to, kept in
// dataDir/peers.json so that a restarted node finds its network again
// without mDNS or bootstrap flags. The file is a hint, never a source of
// truth: a damaged one is logged and ignored, and is overwritten by the
// next write.

// PeersFile is the name of the peer memory inside the data directory.
const PeersFile = "peers.json"

// peersFileVersion is the format of peers.json.
const peersFileVersion = 1

// peersFileJSON is the file's format.
type peersFileJSON struct {
	Version int              `json:"version"`
	Peers   []rememberedPeer `json:"peers"`
}

type rememberedPeer struct {
	ID       string    `json:"id"`
	Addrs    []string  `json:"addrs"`
	LastSeen time.Time `json:"last_seen"`
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
	addrs    []multiaddr.Multiaddr
	lastSeen time.Time
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
	if err == nil && file.Version != peersFileVersion {
		err = fmt.Errorf("version %d, want %d", file.Version, peersFileVersion)
	}
	if err != nil {
		m.log.Warn("peer memory corrupt, ignoring it", "path", m.path, "reason", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
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
		if addrs = usableAddrs(addrs); len(addrs) > 0 {
			m.peers[id] = &memEntry{addrs: addrs, lastSeen: rp.LastSeen}
		}
	}
	m.trimLocked()
}

// addrInfos returns the remembered peers, most recently seen first.
func (m *peerMemory) addrInfos() []peer.AddrInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]peer.AddrInfo, 0, len(m.peers))
	for id, e := range m.peers {
		out = append(out, peer.AddrInfo{ID: id, Addrs: slices.Clone(e.addrs)})
	}
	slices.SortFunc(out, func(a, b peer.AddrInfo) int {
		return m.peers[b.ID].lastSeen.Compare(m.peers[a.ID].lastSeen)
	})
	return out
}

// seen records that p is (or just was) connected and schedules a write.
func (m *peerMemory) seen(p peer.ID) {
	m.mu.Lock()
	e, ok := m.peers[p]
	if !ok {
		e = &memEntry{}
		m.peers[p] = e
	}
	e.lastSeen = time.Now()
	if addrs := usableAddrs(m.ps.Addrs(p)); len(addrs) > 0 {
		e.addrs = addrs
	}
	m.trimLocked()
	m.dirty = true
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// trimLocked drops the least recently seen peers beyond the bound.
func (m *peerMemory) trimLocked() {
	for len(m.peers) > maxRememberedPeers {
		var oldest peer.ID
		var at time.Time
		for id, e := range m.peers {
			if oldest == "" || e.lastSeen.Before(at) {
				oldest, at = id, e.lastSeen
			}
		}
		delete(m.peers, oldest)
	}
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
		if addrs := usableAddrs(m.ps.Addrs(id)); len(addrs) > 0 {
			e.addrs = addrs
		}
		if len(e.addrs) == 0 {
			continue
		}
		rp := rememberedPeer{ID: id.String(), LastSeen: e.lastSeen.UTC()}
		for _, a := range e.addrs {
			rp.Addrs = append(rp.Addrs, a.String())
		}
		file.Peers = append(file.Peers, rp)
	}
	m.dirty = false
	m.mu.Unlock()

	// Newest first, so the file reads like the dial order.
	slices.SortFunc(file.Peers, func(a, b rememberedPeer) int { return b.LastSeen.Compare(a.LastSeen) })
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
