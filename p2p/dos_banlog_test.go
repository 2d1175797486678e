package p2p_test

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/p2p"
)

// banLog stands between the victim's syncer and its host in
// TestDoSCostProcesses, to tell what a ban costs after it is decided: how
// long closing the connection takes, how soon the peer is disconnected,
// what GossipSub still handled and validated of the peer's messages once
// it was banned. It is also the victim's GossipSub tracer.
type banLog struct {
	p2p.NopRawTracer
	h *p2p.Host
	g *p2p.Gossip // set once gossip runs

	mu   sync.Mutex
	recs map[peer.ID]*banRec
	ids  []peer.ID
	// rpcsAfter counts the RPCs GossipSub's event loop handled from peers
	// already banned.
	rpcsAfter atomic.Int64
}

type banRec struct {
	at                time.Time
	closeTook         time.Duration
	validatedAtBan    uint64
	disconnectedAfter time.Duration
}

func newBanLog(h *p2p.Host) *banLog {
	b := &banLog{h: h, recs: make(map[peer.ID]*banRec)}
	h.Network().Notify(&network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if r, ok := b.recs[c.RemotePeer()]; ok && r.disconnectedAfter == 0 {
			r.disconnectedAfter = time.Since(r.at)
		}
	}})
	return b
}

func (b *banLog) Ban(p peer.ID, d time.Duration) {
	r := &banRec{at: time.Now()}
	if b.g != nil {
		r.validatedAtBan = b.g.PeerGossip(p).Received
	}
	b.mu.Lock()
	if _, ok := b.recs[p]; !ok {
		b.recs[p] = r
		b.ids = append(b.ids, p)
	} else {
		r = nil
	}
	b.mu.Unlock()
	start := time.Now()
	b.h.Ban(p, d)
	if r != nil {
		b.mu.Lock()
		r.closeTook = time.Since(start)
		b.mu.Unlock()
	}
}

func (b *banLog) Banned(p peer.ID) bool { return b.h.Banned(p) }

func (b *banLog) RecvRPC(rpc *pubsub.RPC) {
	if b.h.Banned(rpc.From()) {
		b.rpcsAfter.Add(1)
	}
}

// summary describes every ban; call it once validations have drained.
func (b *banLog) summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var before, after []uint64
	var took, disc []time.Duration
	for _, p := range b.ids {
		r := b.recs[p]
		before = append(before, r.validatedAtBan)
		after = append(after, b.g.PeerGossip(p).Received-r.validatedAtBan)
		took = append(took, r.closeTook.Round(time.Microsecond))
		disc = append(disc, r.disconnectedAfter.Round(time.Microsecond))
	}
	const show = 8
	if len(before) > show {
		before, after, took, disc = before[:show], after[:show], took[:show], disc[:show]
	}
	dropped := "n/a"
	if f := reflect.ValueOf(b.g.Stats()).FieldByName("FromBanned"); f.IsValid() {
		dropped = fmt.Sprint(f.Uint())
	}
	return fmt.Sprintf("BANS %d identities (first %d): validated before the ban %v, after it %v; ban call took %v; disconnected after %v; RPCs handled from banned peers %d; dropped unread %s",
		len(b.ids), len(before), before, after, took, disc, b.rpcsAfter.Load(), dropped)
}
