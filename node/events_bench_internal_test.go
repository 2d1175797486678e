package node

import (
	"fmt"
	"testing"
)

// BenchmarkEventsRelease: what the release of a hold with events queued
// behind it costs, under Events.mu, with subs streams open (each a buffer
// of EventBurst, drained between rounds): the longest an admission that
// takes its event's place meanwhile, and a block behind that admission,
// can wait for it.
//
// tx/...: a transaction's event with 64 streams open: its place
// (reserve, under intake's mutex) and its sends (release, after).
func BenchmarkEventsRelease(b *testing.B) {
	for _, subs := range []int{1, 64} {
		for _, queued := range []int{100, queueFor(EventBurst) - 1} {
			b.Run(fmt.Sprintf("subs=%d/queued=%d", subs, queued), func(b *testing.B) {
				e, ss := subscribed(subs)
				data := TxEventData{ID: "id", Sender: "s", Recipient: "r"}
				for b.Loop() {
					b.StopTimer()
					drain(ss)
					h := e.hold()
					for range queued {
						e.publish(EventTx, data)
					}
					b.StartTimer()
					e.release(h, Event{Kind: EventBlock, Data: BlockEventData{}})
				}
				if n := e.subscribers(); n != subs {
					b.Fatalf("%d of %d streams left", n, subs)
				}
			})
		}
	}
	ev := Event{Kind: EventTx, Data: TxEventData{ID: "id"}}
	for _, part := range []string{"reserve", "reserve+release"} {
		b.Run("tx/subs=64/"+part, func(b *testing.B) {
			e, ss := subscribed(64)
			n := 0
			for b.Loop() {
				if n == queueFor(EventBurst) {
					b.StopTimer()
					if part == "reserve" {
						e.queue = nil // the places, never released here
					}
					drain(ss)
					n = 0
					b.StartTimer()
				}
				p := e.reserve()
				if part != "reserve" {
					e.release(p, ev)
				}
				n++
			}
		})
	}
}

func subscribed(n int) (*Events, []*Subscription) {
	e := newEvents()
	ss := make([]*Subscription, n)
	for i := range ss {
		ss[i] = e.Subscribe(EventBurst)
	}
	return e, ss
}

func drain(ss []*Subscription) {
	for _, s := range ss {
		for len(s.C) > 0 {
			<-s.C
		}
	}
}
