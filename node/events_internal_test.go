package node

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestTxEventUnwatched: with nobody subscribed, a transaction's event
// costs no allocation (it is published for every admission), yet still
// takes its sequence number, so a later subscriber sees the numbers run
// on; a subscriber gets the event in full.
func TestTxEventUnwatched(t *testing.T) {
	n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	in := n.intake
	tx := testwallet.New("alice").Tx(n.chain.Params(), testwallet.New("bob").Addr, 7, 3, 0)
	id := tx.ID()

	receive := func() Event {
		t.Helper()
		sub := n.Subscribe(1)
		defer sub.Close()
		in.txEvent(tx, id, OriginAPI)
		select {
		case ev := <-sub.C:
			return ev
		default:
			t.Fatal("a subscriber got no event")
			return Event{}
		}
	}
	first := receive()
	want := TxEventData{ID: id.String(), Sender: tx.Sender, Recipient: tx.Recipient, Amount: 7, Fee: 3, Origin: OriginAPI}
	if first.Kind != EventTx || first.Data != want {
		t.Errorf("event %s %+v, want %s %+v", first.Kind, first.Data, EventTx, want)
	}

	const unwatched = 3
	for range unwatched {
		in.txEvent(tx, id, OriginAPI)
	}
	if next := receive(); next.Seq != first.Seq+unwatched+1 {
		t.Errorf("after %d unwatched events, seq %d, want %d", unwatched, next.Seq, first.Seq+unwatched+1)
	}

	if got := testing.AllocsPerRun(100, func() { in.txEvent(tx, id, OriginAPI) }); got != 0 {
		t.Errorf("an unwatched transaction event allocates %.0f times, want 0", got)
	}
}

// TestEventsFanOut: a subscriber that falls behind is dropped after what
// fit in its buffer, the others get every event in order, and Close is
// idempotent.

func TestEventsFanOut(t *testing.T) {
	e := newEvents()
	fast := e.Subscribe(8)
	slow := e.Subscribe(2)
	for i := range 3 {
		e.publish(EventTx, TxEventData{Amount: uint64(i)})
	}
	// The slow subscriber got what fit, then was dropped: its channel is
	// closed after the buffered events, and later events are not queued.
	for i := range 2 {
		ev, ok := <-slow.C
		if !ok || ev.Seq != uint64(i+1) || ev.Data.(TxEventData).Amount != uint64(i) {
			t.Fatalf("slow subscriber event %d: %+v, open %v", i, ev, ok)
		}
	}
	if ev, ok := <-slow.C; ok {
		t.Fatalf("slow subscriber still open after falling behind: got %+v", ev)
	}
	if n := e.subscribers(); n != 1 {
		t.Fatalf("%d subscribers after the drop, want 1", n)
	}
	slow.Close() // closing a dropped subscription is harmless
	e.publish(EventBlock, BlockEventData{Height: 9})
	for i, want := range []string{EventTx, EventTx, EventTx, EventBlock} {
		ev := <-fast.C
		if ev.Kind != want || ev.Seq != uint64(i+1) || ev.Time.IsZero() {
			t.Fatalf("fast subscriber event %d: %+v, want %s with seq %d", i, ev, want, i+1)
		}
	}
	fast.Close()
	fast.Close()
	if _, ok := <-fast.C; ok {
		t.Fatal("channel open after Close")
	}
	e.publish(EventTx, TxEventData{}) // no subscribers: nothing to block on
	if n := e.subscribers(); n != 0 {
		t.Fatalf("%d subscribers, want 0", n)
	}
}
