package node

import (
	"sync"
	"time"
)

// Event kinds.
const (
	EventPeer  = "peer"  // PeerEventData
	EventTx    = "tx"    // TxEventData: a transaction entered the mempool
	EventBlock = "block" // BlockEventData: a block joined the main chain
	EventReorg = "reorg" // ReorgEventData
	EventSync  = "sync"  // SyncEventData
)

// Event is something that happened to the node, for the API's event
// stream. Data is one of the *EventData types, by Kind; the API decides
// their JSON.
type Event struct {
	Seq  uint64
	Kind string
	Time time.Time
	Data any
}

// PeerEventData: a peer connected or disconnected.
type PeerEventData struct {
	Peer   string
	State  string // "connected" or "disconnected"
	Source string
	Addr   string
}

// TxEventData: a transaction entered the mempool, from Origin "api"
// (submitted to this node), "gossip" or "restored" (mempool.dat, at
// start).
type TxEventData struct {
	ID        string
	Sender    string
	Recipient string
	Amount    uint64
	Fee       uint64
	Origin    string
}

// BlockEventData: a block joined the main chain, from Origin "mined",
// "gossip" or "sync". A sync batch reports only its last block, with
// Count the number it connected.
type BlockEventData struct {
	Height uint64
	Hash   string
	Txs    int
	Miner  string
	Origin string
	Count  int
}

// ReorgEventData: the main chain switched branches.
type ReorgEventData struct {
	OldTip string
	NewTip string
	Height uint64
	Depth  int // blocks disconnected
}

// SyncEventData: a download from a peer started or ended.
type SyncEventData struct {
	Peer       string
	State      string // "started", "finished" or "failed"
	Height     uint64
	PeerHeight uint64
	Blocks     int
	Seconds    float64
	Reason     string
}

// Events fans events out to subscribers. Publishing never blocks: each
// subscriber has a bounded buffer, and one that falls a buffer behind is
// dropped (its channel closed) rather than slowing the node or growing
// without bound. A dropped subscriber reconnects and reads
// the state it missed from the API.
//
// The stream follows the order in which intake changed the chain and the
// mempool, not the order in which events happen to be published: a
// block's events are published once its store commit has ended, but
// intake lets admissions go on after the block is validated, and their
// transactions were judged on its state. So intake takes a place for
// a change's events (hold) when it takes the chain's turn, and every
// event published after that waits behind the place until release fills
// it (see queue). A transaction's event takes its place under intake's
// mutex too (reserve), and is sent once intake has let go of it.
//
// mu guards the subscriber set, the sequence number and the queue; sends
// happen under it, which is what makes a drop and a send never race on a
// closed channel.
type Events struct {
	mu   sync.Mutex
	seq  uint64
	subs map[*Subscription]struct{}
	// queue is what waits for the oldest place not yet released (always
	// its head), in the order published: places and, while someone
	// subscribes, events. Bounded by queueMax entries (see enqueue).
	queue []*queued
	// queueMax is queueFor the largest subscriber's buffer (0 with none).
	queueMax int
}

// EventBurst is the buffer a subscriber needs to take, without being
// dropped, the events sent at once when a block's commit ends and those
// that waited for it go out together, with the queue at its bound for
// that buffer (queueFor): most entries one event each (a transaction's),
// with a quarter to spare for the block's own events (a reorg's, and one
// for each block it connected) and for events the subscriber has not
// read yet. The API's streams have this buffer.
const EventBurst = 1024

// queueFor is the most entries the queue holds for a subscriber with a
// buffer of size: three quarters of it, one at least (EventBurst says
// why). A commit takes a few milliseconds, in which a loaded node admits
// a few hundred transactions; a store that stalls would grow the queue
// with every admission, so past the bound for the largest buffer every
// subscriber is dropped, as one a buffer behind is, and reads the state
// again when it reconnects. A larger buffer (the testnet command's
// watchers) keeps a longer queue, from which the others are then dropped
// when it goes out (or at the next event, if that subscriber leaves
// first). A reorg that connects more blocks than the spare quarter can
// overflow a buffer under the bound too; its subscriber is dropped then.
func queueFor(size int) int { return max(size*3/4, 1) }

// queued is an event waiting in the queue, or a place (hold): events is
// nil for a place until release sets it (empty when the change had none).
type queued struct {
	hold     bool
	released bool
	events   []Event
	// skipped counts the events published right behind this one while
	// nobody subscribed: they take their numbers when it is sent, so the
	// numbers keep the stream's order without queueing anything.
	skipped uint64
}

// eventHold is a place in the event stream, from Events.hold or
// Events.reserve; nil q: none was needed (reserve with nobody
// subscribed).
type eventHold struct{ q *queued }

// Subscription receives events on C until Close, or until it fell behind
// and the node dropped it; either way C is closed.
type Subscription struct {
	C      <-chan Event
	c      chan Event
	events *Events
}

func newEvents() *Events { return &Events{subs: make(map[*Subscription]struct{})} }

// Subscribe returns a subscription with a buffer of size events.
func (e *Events) Subscribe(size int) *Subscription {
	c := make(chan Event, max(size, 1))
	s := &Subscription{C: c, c: c, events: e}
	e.mu.Lock()
	e.subs[s] = struct{}{}
	e.queueMax = max(e.queueMax, queueFor(cap(c)))
	e.mu.Unlock()
	return s
}

// Close ends the subscription; C is closed. Closing twice is harmless.
func (s *Subscription) Close() {
	e := s.events
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.subs[s]; ok {
		e.drop(s)
	}
}

// publish sends an event of kind with data to every subscriber.
func (e *Events) publish(kind string, data any) {
	e.publishFunc(kind, func() any { return data })
}

// publishFunc is publish for data that is built by data(), called only
// when someone subscribes, so that an event nobody receives costs no
// allocation. data runs under e.mu, so it must not call back into e.
func (e *Events) publishFunc(kind string, data func() any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.subs) == 0 {
		e.skip()
		return
	}
	ev := Event{Kind: kind, Time: time.Now().UTC(), Data: data()}
	if len(e.queue) > 0 {
		e.enqueue(&queued{events: []Event{ev}})
		return
	}
	e.send(ev)
}

// hold takes the place of a change's events in the stream: what is
// published from now on waits until release(h) publishes the change's
// events in that place. Every hold must be released, or the stream stops.
func (e *Events) hold() eventHold {
	q := &queued{hold: true}
	e.mu.Lock()
	e.enqueue(q)
	e.mu.Unlock()
	return eventHold{q}
}

// reserve is hold for one event that a caller orders under a lock of its
// own and sends after letting go of it (release): the sends to every
// stream then cost that lock nothing. With nobody subscribed it only
// numbers the event, allocates nothing and returns a place release
// ignores.
func (e *Events) reserve() eventHold {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.subs) == 0 {
		e.skip()
		return eventHold{}
	}
	q := &queued{hold: true}
	e.enqueue(q)
	return eventHold{q}
}

// skip numbers an event nobody receives, in the stream's order: after
// whatever waits in the queue. e.mu is held.
func (e *Events) skip() {
	if n := len(e.queue); n > 0 {
		e.queue[n-1].skipped++
	} else {
		e.seq++
	}
}

// release publishes evs (their Kind and Data: the sequence numbers and
// the time are set here), in order, in h's place, and then what waited
// behind it, unless an older hold is still held. Releasing twice, or a
// place reserve did not need, is harmless.
func (e *Events) release(h eventHold, evs ...Event) {
	if h.q == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if h.q.released {
		return
	}
	h.q.released = true
	now := time.Now().UTC()
	for i := range evs {
		evs[i].Time = now
	}
	h.q.events = evs
	for len(e.queue) > 0 && (!e.queue[0].hold || e.queue[0].released) {
		q := e.queue[0]
		for _, ev := range q.events {
			e.send(ev)
		}
		e.seq += q.skipped
		e.queue[0] = nil
		e.queue = e.queue[1:]
	}
	if len(e.queue) == 0 {
		e.queue = nil
	}
}

// enqueue adds q to the queue; past queueMax entries it drops every
// subscriber (none has a buffer for that many) and the queued events,
// keeping the places not yet released (whose events, once released, go
// to nobody). e.mu is held.
func (e *Events) enqueue(q *queued) {
	e.queue = append(e.queue, q)
	if len(e.queue) <= e.queueMax || len(e.subs) == 0 {
		// With nobody subscribed only places are queued, one for each
		// change under way, and a released one keeps its events for a
		// subscriber that comes before they go out.
		return
	}
	for s := range e.subs {
		e.drop(s)
	}
	// The head is a place not yet released: each dropped event is
	// counted on the place before it, so it still takes its number in
	// the stream's order.
	kept := e.queue[:0]
	for _, q := range e.queue {
		if q.hold && !q.released {
			kept = append(kept, q)
		} else {
			kept[len(kept)-1].skipped += uint64(len(q.events)) + q.skipped
		}
	}
	clear(e.queue[len(kept):])
	e.queue = kept
}

// send numbers ev and sends it to every subscriber, dropping one whose
// buffer is full. e.mu is held.
func (e *Events) send(ev Event) {
	e.seq++
	ev.Seq = e.seq
	for s := range e.subs {
		select {
		case s.c <- ev:
		default:
			e.drop(s)
		}
	}
}

// subscribers returns how many subscriptions are open.
func (e *Events) subscribers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.subs)
}

// drop ends s's subscription: its channel is closed. e.mu is held.
func (e *Events) drop(s *Subscription) {
	delete(e.subs, s)
	close(s.c)
	e.queueMax = 0
	for s := range e.subs {
		e.queueMax = max(e.queueMax, queueFor(cap(s.c)))
	}
}
