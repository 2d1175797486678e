package testnet

import (
	"sync"

	"github.com/gossipchain/gossipchain/p2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// meshTracer follows one node's GossipSub mesh: the peers it has grafted
// on each topic. GossipSub forwards only along the mesh, and a message
// published before it forms is lost (docs/architecture.md, pitfalls), so the
// Net waits for the meshes to join every node up instead of sleeping.
type meshTracer struct {
	p2p.NopRawTracer
	mu   sync.Mutex
	mesh map[string]map[peer.ID]bool // topic → grafted peers
}

func newMeshTracer() *meshTracer { return &meshTracer{mesh: make(map[string]map[peer.ID]bool)} }

var _ pubsub.RawTracer = (*meshTracer)(nil)

func (m *meshTracer) Graft(p peer.ID, topic string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mesh[topic] == nil {
		m.mesh[topic] = make(map[peer.ID]bool)
	}
	m.mesh[topic][p] = true
}

func (m *meshTracer) Prune(p peer.ID, topic string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.mesh[topic], p)
}

// OnClosedOutboundStream is how GossipSub v0.19 reports a peer gone:
// it drops the peer from every mesh without a Prune.
func (m *meshTracer) OnClosedOutboundStream(p peer.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, peers := range m.mesh {
		delete(peers, p)
	}
}

// has reports whether p is in the mesh of topic.
func (m *meshTracer) has(topic string, p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mesh[topic][p]
}
