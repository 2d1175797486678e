package p2p

import (
	"sync"

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
	mu   sync.Mutex
	mesh map[string]map[peer.ID]bool // topic → grafted peers
}

// NewMeshTracer returns a tracer with empty meshes.
func NewMeshTracer() *MeshTracer { return &MeshTracer{mesh: make(map[string]map[peer.ID]bool)} }

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
