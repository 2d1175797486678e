package testnet

import (
	"context"
	"fmt"
	"reflect"
	"time"

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
// for how long, and every node's tip then.
type WaitError struct {
	What  string
	After time.Duration
	Tips  string
	Err   error // the context's cause: context.DeadlineExceeded on timeout
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("testnet: %s: no result after %s (%v); tips:%s", e.What, e.After.Round(time.Millisecond), e.Err, e.Tips)
}

func (e *WaitError) Unwrap() error { return e.Err }

// Wait is Await with a timeout, saying what was awaited in its error, a
// *WaitError. It returns how long the wait took.
func (nt *Net) Wait(ctx context.Context, timeout time.Duration, what string, cond func() bool) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := nt.Await(ctx, cond); err != nil {
		return time.Since(start), &WaitError{What: what, After: time.Since(start), Tips: nt.Tips(), Err: err}
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
				Tips: nt.Tips(), Err: context.Cause(ctx)}
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

// Tips describes every node's tip, for failure messages.
func (nt *Net) Tips() string {
	s := ""
	for i := range nt.members {
		if n := nt.Node(i); n != nil {
			tip := n.Chain().Tip()
			s += fmt.Sprintf(" n%d:%d/%s", i, tip.Height(), tip.Hash.Short())
		} else {
			s += fmt.Sprintf(" n%d:stopped", i)
		}
	}
	return s
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
func (nt *Net) meshJoined(topic string) bool {
	nt.mu.Lock()
	running := nt.runningLocked()
	var edges []link
	for _, i := range running {
		for _, j := range running {
			if i < j && (nt.members[i].mesh.Has(topic, nt.members[j].id) || nt.members[j].mesh.Has(topic, nt.members[i].id)) {
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
