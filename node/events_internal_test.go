package node

import "testing"

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
