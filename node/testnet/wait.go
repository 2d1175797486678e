package testnet

import (
	"context"
	"fmt"
	"reflect"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// pollInterval is how often a wait rechecks its condition when no tip
// has changed: mempools, connections and meshes change without one.
const pollInterval = 20 * time.Millisecond

// Await waits until cond holds. It checks cond at once, then again at
// every tip change of a running node and at least every pollInterval,
// until ctx ends; it returns ctx's cause then.
func (nt *Net) Await(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		// The channels are taken before cond is checked, so a change
		// between the check and the wait still wakes us.
		cases := []reflect.SelectCase{
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(tick.C)},
		}
		for _, n := range nt.Nodes() {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(n.Chain().TipChanged())})
		}
		if cond() {
			return nil
		}
		if chosen, _, _ := reflect.Select(cases); chosen == 0 {
			return context.Cause(ctx)
		}
	}
}

// WaitError is the error of a wait that timed out: what was awaited,
// for how long, and what the wait saw then (Net.Summary: the tips and
// how many nodes sit on each, peers and mesh sizes), short at any size.
type WaitError struct {
	What  string
	After time.Duration
	Saw   string
	Err   error // the context's cause: context.DeadlineExceeded on timeout
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("testnet: %s: no result after %s (%v); saw %s", e.What, e.After.Round(time.Millisecond), e.Err, e.Saw)
}

func (e *WaitError) Unwrap() error { return e.Err }

// Wait is Await with a timeout, saying what was awaited in its error, a
// *WaitError. It returns how long the wait took.
func (nt *Net) Wait(ctx context.Context, timeout time.Duration, what string, cond func() bool) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := nt.Await(ctx, cond); err != nil {
		return time.Since(start), &WaitError{What: what, After: time.Since(start), Saw: nt.Summary(), Err: err}
	}
	return time.Since(start), nil
}

// Converged reports whether the given nodes (all running nodes when none
// are given) are running and share one tip.
func (nt *Net) Converged(nodes ...int) bool {
	if len(nodes) == 0 {
		nodes = nt.Running()
	}
	var tip chain.Hash
	for k, i := range nodes {
		n := nt.Node(i)
		if n == nil {
			return false
		}
		h := n.Chain().Tip().Hash
		if k > 0 && h != tip {
			return false
		}
		tip = h
	}
	return true
}

// WaitConverged waits until the given nodes (all running nodes when none
// are given) share one tip, and returns how long that took. On timeout
// its *WaitError has every node's height and tip.
func (nt *Net) WaitConverged(ctx context.Context, timeout time.Duration, nodes ...int) (time.Duration, error) {
	for _, i := range nodes {
		// A stopped node would never agree: fail now.
		if _, err := nt.running(i); err != nil {
			return 0, fmt.Errorf("testnet: converge: %w", err)
		}
	}
	return nt.Wait(ctx, timeout, "a common tip", func() bool { return nt.Converged(nodes...) })
}

// tieWait is how long ConvergeMining lets running nodes sit on
// different tips of equal work before it mines a block to break the tie:
// long enough for blocks in flight to arrive, short next to a test's
// patience.
const tieWait = 3 * time.Second

// ConvergeMining is WaitConverged for all running nodes, but mining as a
// real network would. Proof of work keeps a tie between two branches of
// equal work until the next block: nodes that saw different siblings
// first each keep theirs, and a network that stopped mining never agrees.
// Whenever the running nodes have sat on different tips of one work for
// tieWait, it mines a block on the first running node, whose branch then
// has more work and wins everywhere by gossip and sync. It returns how
// long it took and how many blocks it mined.
func (nt *Net) ConvergeMining(ctx context.Context, timeout time.Duration) (time.Duration, int, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mined := 0
	for {
		wctx, wcancel := context.WithTimeout(ctx, tieWait)
		err := nt.Await(wctx, func() bool { return nt.Converged() })
		wcancel()
		if err == nil {
			return time.Since(start), mined, nil
		}
		if ctx.Err() != nil {
			return time.Since(start), mined, &WaitError{What: "a common tip, mining to break ties", After: time.Since(start),
				Saw: nt.Summary(), Err: context.Cause(ctx)}
		}
		running := nt.Running()
		if len(running) == 0 || !nt.tied(running) {
			continue // still syncing toward the heaviest: wait on
		}
		if _, err := nt.Mine(ctx, running[0], 1); err != nil {
			return time.Since(start), mined, fmt.Errorf("testnet: break a tie: %w", err)
		}
		mined++
	}
}

// tied reports whether the given nodes sit on more than one tip, all of
// the same work: a tie only a new block breaks.
func (nt *Net) tied(nodes []int) bool {
	var first *chain.BlockMeta
	tips := 0
	for _, i := range nodes {
		n := nt.Node(i)
		if n == nil {
			return false
		}
		t := n.Chain().Tip()
		switch {
		case first == nil:
			first, tips = t, 1
		case t.Work.Cmp(first.Work) != 0:
			return false
		case t.Hash != first.Hash:
			tips++
		}
	}
	return tips > 1
}

// WaitTxIncluded waits until the main chain of every running node holds
// every transaction in ids.
func (nt *Net) WaitTxIncluded(ctx context.Context, timeout time.Duration, ids ...chain.Hash) (time.Duration, error) {
	return nt.Wait(ctx, timeout, fmt.Sprintf("%d transactions on every main chain", len(ids)), func() bool {
		for _, n := range nt.Nodes() {
			for _, id := range ids {
				if _, err := n.Chain().TxLocation(id); err != nil {
					return false
				}
			}
		}
		return true
	})
}

// WaitInMempool waits until the mempool of each given node (all running
// nodes when none are given) holds every transaction in ids.
func (nt *Net) WaitInMempool(ctx context.Context, timeout time.Duration, ids []chain.Hash, nodes ...int) (time.Duration, error) {
	if len(nodes) == 0 {
		nodes = nt.Running()
	}
	return nt.Wait(ctx, timeout, fmt.Sprintf("%d transactions in the mempools of %v", len(ids), nodes), func() bool {
		for _, i := range nodes {
			n := nt.Node(i)
			if n == nil {
				return false
			}
			for _, id := range ids {
				if !n.Mempool().Has(id) {
					return false
				}
			}
		}
		return true
	})
}

// WaitMesh waits until, on both gossip topics, the GossipSub meshes join
// up the running nodes of each side of the network: a message published
// then reaches every node of its side. Meshes form at GossipSub's
// heartbeat, up to a second after a connection.
func (nt *Net) WaitMesh(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	id := nt.cfg.params.NetworkID()
	topics := []string{protocol.TxTopic(id), protocol.BlockTopic(id)}
	return nt.Wait(ctx, timeout, "GossipSub meshes joining every node", func() bool {
		for _, topic := range topics {
			if !nt.meshJoined(topic) {
				return false
			}
		}
		return true
	})
}

// meshJoined reports whether the mesh links of topic join up each side.
// It reads each node's mesh once, not each pair: at 1,000 nodes a
// million lookups a poll would be the wait's own load.
func (nt *Net) meshJoined(topic string) bool {
	index := nt.indexByID()
	nt.mu.Lock()
	running := nt.runningLocked()
	var edges []link
	for _, i := range running {
		for _, p := range nt.members[i].mesh.Peers(topic) {
			if j, ok := index[p]; ok && nt.members[j].node != nil {
				edges = append(edges, link{from: i, to: j})
			}
		}
	}
	nt.mu.Unlock()
	for _, side := range nt.sidesOf(running) {
		if len(components(side, edges)) > 1 {
			return false
		}
	}
	return true
}

// WaitGossipSettled waits until every running node's gossip has
// settled after connections came and went: on both topics it knows each
// peer it is connected to on its side as subscribed, and its mesh will
// not change by itself, because it holds GossipSub's lower bound Dlo
// or every such peer outside it is in the prune backoff. A message
// published or forwarded then reaches every connected peer, through the
// mesh or through gossip (IHAVE) to the peers outside it; before, a
// message a node forwards just ahead of grafting a new peer reaches
// that peer by neither. Unlike WaitMesh (meshes joining every node),
// this is what GossipSub guarantees after a cut or a stop: a node with
// Dlo mesh peers grafts no more, and a pruned peer stays out for the
// backoff (issue 14: at 50 nodes under load the wait for joined meshes
// ran out).
func (nt *Net) WaitGossipSettled(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	id := nt.cfg.params.NetworkID()
	topics := []string{protocol.TxTopic(id), protocol.BlockTopic(id)}
	params := pubsub.DefaultGossipSubParams()
	return nt.Wait(ctx, timeout, "gossip settled: peers subscribed, meshes at Dlo or waiting out a backoff", func() bool {
		index := nt.indexByID()
		for _, i := range nt.Running() {
			if !nt.gossipSettled(i, index, topics, params) {
				return false
			}
		}
		return true
	})
}

// gossipSettled is WaitGossipSettled's condition for node i.
func (nt *Net) gossipSettled(i int, index map[peer.ID]int, topics []string, params pubsub.GossipSubParams) bool {
	n := nt.Node(i)
	nt.mu.Lock()
	mesh := nt.members[i].mesh
	nt.mu.Unlock()
	if n == nil || n.Gossip() == nil || mesh == nil {
		return false
	}
	// The peers it is connected to on its side; a peer across the cut
	// is being disconnected.
	var peers []peer.ID
	for _, p := range n.Host().Network().Peers() {
		if j, ok := index[p]; ok && nt.sameSide(i, j) {
			peers = append(peers, p)
		}
	}
	for _, topic := range topics {
		subscribed := make(map[peer.ID]bool)
		for _, p := range n.Gossip().PubSub().ListPeers(topic) {
			subscribed[p] = true
		}
		full := mesh.Size(topic) >= params.Dlo
		for _, p := range peers {
			if !subscribed[p] {
				return false
			}
			if !full && !mesh.Has(topic, p) && time.Since(mesh.PrunedAt(topic, p)) > params.PruneBackoff {
				return false // to be grafted at a coming heartbeat
			}
		}
	}
	return true
}

// indexByID maps each node's peer ID to its index.
func (nt *Net) indexByID() map[peer.ID]int {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	index := make(map[peer.ID]int, len(nt.members))
	for i, m := range nt.members {
		index[m.id] = i
	}
	return index
}
