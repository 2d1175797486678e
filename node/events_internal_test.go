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
		in.txEvent(in.events.reserve(), tx, id, OriginAPI)
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
		in.txEvent(in.events.reserve(), tx, id, OriginAPI)
	}
	if next := receive(); next.Seq != first.Seq+unwatched+1 {
		t.Errorf("after %d unwatched events, seq %d, want %d", unwatched, next.Seq, first.Seq+unwatched+1)
	}

	if got := testing.AllocsPerRun(100, func() { in.txEvent(in.events.reserve(), tx, id, OriginAPI) }); got != 0 {
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

// TestEventsHold: events published after a hold wait until it is
// released, then follow the hold's own events; a later hold released
// first waits for the earlier one; the numbers run in the order sent.
func TestEventsHold(t *testing.T) {
	e := newEvents()
	sub := e.Subscribe(16)
	defer sub.Close()
	tx := func(a uint64) Event { return Event{Kind: EventTx, Data: TxEventData{Amount: a}} }
	block := func(h uint64) Event { return Event{Kind: EventBlock, Data: BlockEventData{Height: h}} }
	peer := Event{Kind: EventPeer, Data: PeerEventData{Peer: "p"}}
	var h1, h2, r1, r2 eventHold
	steps := []struct {
		name string
		do   func()
		want []Event // received after do, in order
	}{
		{"no hold", func() { e.publish(EventTx, TxEventData{Amount: 1}) }, []Event{tx(1)}},
		{"behind a hold", func() { h1 = e.hold(); e.publish(EventTx, TxEventData{Amount: 2}) }, nil},
		{"behind two", func() { h2 = e.hold(); e.publish(peer.Kind, peer.Data) }, nil},
		{"the later released first", func() { e.release(h2, block(2)) }, nil},
		{"the earlier released", func() { e.release(h1, block(1)) }, []Event{block(1), tx(2), block(2), peer}},
		{"released twice", func() { e.release(h1, block(9)); e.publish(EventTx, TxEventData{Amount: 3}) }, []Event{tx(3)}},
		{"reserved, the later filled first", func() { r1, r2 = e.reserve(), e.reserve(); e.release(r2, tx(5)) }, nil},
		{"the earlier filled", func() { e.release(r1, tx(4)) }, []Event{tx(4), tx(5)}},
	}
	seq := uint64(0)
	for _, s := range steps {
		s.do()
		for _, want := range s.want {
			var got Event
			select {
			case got = <-sub.C:
			default:
				t.Fatalf("%s: no event, want %s %+v", s.name, want.Kind, want.Data)
			}
			seq++
			if got.Kind != want.Kind || got.Data != want.Data || got.Seq != seq || got.Time.IsZero() {
				t.Fatalf("%s: got %s %+v seq %d, want %s %+v seq %d", s.name, got.Kind, got.Data, got.Seq, want.Kind, want.Data, seq)
			}
		}
		if len(sub.C) != 0 {
			t.Fatalf("%s: %d events more than expected", s.name, len(sub.C))
		}
	}
}

// TestEventsHoldBound: up to queueFor(EventBurst) entries wait in the
// queue of a stream with the API's buffer, the hold among them, and go
// out in one burst that EventBurst takes with the block's own events;
// past that every subscriber is dropped and the queue keeps only the
// hold. A larger buffer keeps a longer queue. With nobody subscribed
// nothing is queued and nothing allocated.
func TestEventsHoldBound(t *testing.T) {
	maxQueued := queueFor(EventBurst)
	if maxQueued+64 > EventBurst {
		t.Fatalf("queueFor(EventBurst) %d leaves %d of EventBurst for a block's own events and unread ones", maxQueued, EventBurst-maxQueued)
	}
	large := newEvents()
	watcher := large.Subscribe(4 * EventBurst)
	h := large.hold()
	for range queueFor(4*EventBurst) - 1 {
		large.publish(EventTx, TxEventData{})
	}
	large.release(h)
	if n := large.subscribers(); n != 1 || len(watcher.C) != queueFor(4*EventBurst)-1 {
		t.Fatalf("a buffer of %d: %d subscribers, %d events received; want 1 and %d", 4*EventBurst, n, len(watcher.C), queueFor(4*EventBurst)-1)
	}

	full := newEvents()
	burst := full.Subscribe(EventBurst)
	h = full.hold()
	for range maxQueued - 1 {
		full.publish(EventTx, TxEventData{})
	}
	blocks := []Event{{Kind: EventReorg, Data: ReorgEventData{}}}
	for range EventBurst - maxQueued {
		blocks = append(blocks, Event{Kind: EventBlock, Data: BlockEventData{}})
	}
	full.release(h, blocks...)
	if n := full.subscribers(); n != 1 || len(burst.C) != maxQueued-1+len(blocks) {
		t.Fatalf("%d subscribers, %d events received; want 1 and the whole burst, %d", n, len(burst.C), maxQueued-1+len(blocks))
	}

	e := newEvents()
	sub := e.Subscribe(EventBurst)
	h = e.hold()
	for range maxQueued - 1 {
		e.publish(EventTx, TxEventData{})
	}
	if n := e.subscribers(); n != 1 || len(sub.C) != 0 {
		t.Fatalf("%d subscribers, %d events received with %d behind the hold; want 1 and none", n, len(sub.C), maxQueued-1)
	}
	e.publish(EventTx, TxEventData{})
	select {
	case _, ok := <-sub.C:
		if ok {
			t.Fatal("a subscriber got an event queued behind a hold past the bound")
		}
	default:
		t.Fatal("a subscriber not dropped past the bound")
	}
	if len(e.queue) != 1 || !e.queue[0].hold {
		t.Fatalf("queue of %d after the drop, want the hold alone", len(e.queue))
	}
	e.publish(EventTx, TxEventData{})
	if len(e.queue) != 1 {
		t.Fatalf("an unwatched event queued: %d entries", len(e.queue))
	}
	e.release(h, Event{Kind: EventBlock, Data: BlockEventData{}})
	if len(e.queue) != 0 {
		t.Fatalf("queue of %d after the release", len(e.queue))
	}
	next := e.Subscribe(1)
	defer next.Close()
	e.publish(EventTx, TxEventData{})
	// maxQueued dropped, one unwatched, the block, then this one: each
	// took its number.
	if ev := <-next.C; ev.Seq != uint64(maxQueued+1+1+1) {
		t.Fatalf("seq %d after the drop, want %d", ev.Seq, maxQueued+1+1+1)
	}

	unwatched := newEvents()
	unwatched.hold()
	if got := testing.AllocsPerRun(100, func() {
		unwatched.publishFunc(EventTx, func() any { return TxEventData{} })
		unwatched.reserve()
	}); got != 0 {
		t.Errorf("an unwatched event behind a hold allocates %.0f times, want 0", got)
	}
}

// TestEventsHoldNumbers: an event published behind a hold while nobody
// subscribed takes its number after the hold's events, as it would have
// been sent: a subscriber that came between sees the numbers in the
// stream's order.
func TestEventsHoldNumbers(t *testing.T) {
	e := newEvents()
	h := e.hold()
	e.publish(EventTx, TxEventData{Amount: 1}) // nobody subscribed
	if r := e.reserve(); r.q != nil {
		t.Fatal("a place reserved with nobody subscribed")
	}
	sub := e.Subscribe(4)
	defer sub.Close()
	e.publish(EventTx, TxEventData{Amount: 2})
	e.release(h, Event{Kind: EventBlock, Data: BlockEventData{Height: 1}})
	for _, want := range []struct {
		kind string
		seq  uint64
	}{{EventBlock, 1}, {EventTx, 4}} {
		if ev := <-sub.C; ev.Kind != want.kind || ev.Seq != want.seq {
			t.Fatalf("got %s seq %d, want %s seq %d", ev.Kind, ev.Seq, want.kind, want.seq)
		}
	}
}

// TestEventsReleasedKeptUnwatched: a place released behind an older one
// while nobody subscribes keeps its events, and a subscriber that comes
// before they go out gets them, numbered in order.
func TestEventsReleasedKeptUnwatched(t *testing.T) {
	e := newEvents()
	a, b := e.hold(), e.hold()
	e.release(b, Event{Kind: EventBlock, Data: BlockEventData{Height: 2}})
	c := e.hold()
	sub := e.Subscribe(4)
	defer sub.Close()
	e.release(a, Event{Kind: EventBlock, Data: BlockEventData{Height: 1}})
	e.release(c, Event{Kind: EventBlock, Data: BlockEventData{Height: 3}})
	for i := range 3 {
		select {
		case ev := <-sub.C:
			if h := ev.Data.(BlockEventData).Height; h != uint64(i+1) || ev.Seq != uint64(i+1) {
				t.Fatalf("event %d: height %d seq %d, want %d and %d", i, h, ev.Seq, i+1, i+1)
			}
		default:
			t.Fatalf("%d events, want 3", i)
		}
	}
}
