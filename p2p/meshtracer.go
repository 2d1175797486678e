package p2p

import (
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MeshTracer follows one node's GossipSub mesh: the peers it has grafted
// on each topic. GossipSub forwards only along the mesh, and a message
// that reaches a node before its mesh forms goes no further
// (docs/architecture.md, pitfalls), so tests and the testnet harness wait
// for the meshes instead of sleeping. Give it to GossipSub with
// WithPubSubOptions(pubsub.WithRawTracer(t)).
type MeshTracer struct {
	NopRawTracer
	mu     sync.Mutex
	mesh   map[string]map[peer.ID]bool      // topic → grafted peers
	pruned map[string]map[peer.ID]time.Time // topic → peer → when last pruned
}

// NewMeshTracer returns a tracer with empty meshes.
func NewMeshTracer() *MeshTracer {
	return &MeshTracer{mesh: make(map[string]map[peer.ID]bool), pruned: make(map[string]map[peer.ID]time.Time)}
}

var _ pubsub.RawTracer = (*MeshTracer)(nil)

func (m *MeshTracer) Graft(p peer.ID, topic string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mesh[topic] == nil {
		m.mesh[topic] = make(map[peer.ID]bool)
	}
	m.mesh[topic][p] = true
}

func (m *MeshTracer) Prune(p peer.ID, topic string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.mesh[topic], p)
	if m.pruned[topic] == nil {
		m.pruned[topic] = make(map[peer.ID]time.Time)
	}
	m.pruned[topic][p] = time.Now()
}

// PrunedAt returns when p was last pruned from the mesh of topic, by
// either side (zero if never): GossipSub will not graft it again for the
// prune backoff.
func (m *MeshTracer) PrunedAt(topic string, p peer.ID) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pruned[topic][p]
}

// OnClosedOutboundStream is how GossipSub v0.19 reports a peer gone:
// it drops the peer from every mesh without a Prune.
func (m *MeshTracer) OnClosedOutboundStream(p peer.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, peers := range m.mesh {
		delete(peers, p)
	}
}

// Has reports whether p is in the mesh of topic.
func (m *MeshTracer) Has(topic string, p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mesh[topic][p]
}

// Size counts the peers in the mesh of topic.
func (m *MeshTracer) Size(topic string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mesh[topic])
}

// Peers lists the peers in the mesh of topic.
func (m *MeshTracer) Peers(topic string) []peer.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]peer.ID, 0, len(m.mesh[topic]))
	for p := range m.mesh[topic] {
		out = append(out, p)
	}
	return out
}
