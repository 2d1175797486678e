package node_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/node"
)

// waitEvent reads sub until an event matches or the deadline passes.
func waitEvent(t *testing.T, sub *node.Subscription, d time.Duration, what string, match func(node.Event) bool) node.Event {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatalf("waiting for %s: subscription dropped", what)
			}
			if match(ev) {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %s within %s", what, d)
		}
	}
}

// TestNodeEvents: a node reports a peer connecting, a transaction and a
// block arriving by gossip, and its own mined block and submitted
// transaction, each with where it came from.
func TestNodeEvents(t *testing.T) {
	a := startNode(t, "a")
	aSub := a.Subscribe(64)
	defer aSub.Close()
	mine(t, a, 3)
	for i := range 3 {
		ev := waitEvent(t, aSub, 10*time.Second, "mined block event", func(e node.Event) bool { return e.Kind == node.EventBlock })
		if d := ev.Data.(node.BlockEventData); d.Height != uint64(i+1) || d.Origin != node.OriginMined || d.Txs != 1 || d.Miner != a.WalletAddress() {
			t.Errorf("block event %+v, want height %d mined by a", d, i+1)
		}
	}

	// b joins three blocks behind: it connects, downloads them in one
	// batch, reported as one block event for the batch's last block.
	b := startNode(t, "b", a)
	bSub := b.Subscribe(64)
	defer bSub.Close()
	ev := waitEvent(t, aSub, 10*time.Second, "peer event on a", func(e node.Event) bool { return e.Kind == node.EventPeer })
	if d := ev.Data.(node.PeerEventData); d.Peer != b.Host().ID().String() || d.State != "connected" || d.Source != "inbound" {
		t.Errorf("a's peer event %+v, want b connected inbound", d)
	}
	var kinds []string
	var syncEnd node.SyncEventData
	var batch node.BlockEventData
	waitEvent(t, bSub, 20*time.Second, "the end of b's sync", func(e node.Event) bool {
		kinds = append(kinds, e.Kind)
		switch d := e.Data.(type) {
		case node.BlockEventData:
			batch = d
		case node.SyncEventData:
			syncEnd = d
			return d.State != "started"
		}
		return false
	})
	// The peer event and the sync's start come from different
	// goroutines (the connection's notifee, the syncer's first status
	// exchange), so either may be first; the sync's own events are in
	// order.
	withoutPeer := slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == node.EventPeer })
	if !slices.Equal(withoutPeer, []string{node.EventSync, node.EventBlock, node.EventSync}) {
		t.Errorf("b's events %v, want sync, block, sync in that order, and a peer event", kinds)
	}
	if !slices.Contains(kinds, node.EventPeer) {
		waitEvent(t, bSub, 10*time.Second, "peer event on b", func(e node.Event) bool { return e.Kind == node.EventPeer })
	}
	if syncEnd.State != "finished" || syncEnd.Blocks != 3 || syncEnd.Height != 3 || syncEnd.Peer != a.Host().ID().String() {
		t.Errorf("sync end %+v, want 3 blocks from a finished", syncEnd)
	}
	if batch.Height != 3 || batch.Count != 3 || batch.Origin != node.OriginSync || batch.Hash != a.Chain().Tip().Hash.String() {
		t.Errorf("sync block event %+v, want a's tip with count 3", batch)
	}

	tx, err := a.Send(context.Background(), b.WalletAddress(), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sub    *node.Subscription
		origin string
	}{{aSub, node.OriginAPI}, {bSub, node.OriginGossip}} {
		ev := waitEvent(t, c.sub, 20*time.Second, "tx event", func(e node.Event) bool { return e.Kind == node.EventTx })
		d := ev.Data.(node.TxEventData)
		if d.ID != tx.ID().String() || d.Amount != 3 || d.Fee != 1 || d.Sender != a.WalletAddress() || d.Origin != c.origin {
			t.Errorf("tx event %+v, want %s from %s", d, tx.ID().Short(), c.origin)
		}
	}

	b.Close()
	waitEvent(t, aSub, 10*time.Second, "disconnect event", func(e node.Event) bool {
		d, ok := e.Data.(node.PeerEventData)
		return ok && d.State == "disconnected" && d.Peer == b.Host().ID().String()
	})
}
