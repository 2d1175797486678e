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
// (submitted to this node) or "gossip".
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
// mu guards the subscriber set and the sequence number; sends happen
// under it, which is what makes a drop and a send never race on a
// closed channel.
type Events struct {
	mu   sync.Mutex
	seq  uint64
	subs map[*Subscription]struct{}
}

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
	e.mu.Unlock()
	return s
}

// Close ends the subscription; C is closed. Closing twice is harmless.
func (s *Subscription) Close() {
	e := s.events
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.subs[s]; ok {
		delete(e.subs, s)
		close(s.c)
	}
}

// publish sends an event of kind with data to every subscriber.
func (e *Events) publish(kind string, data any) {
	e.publishFunc(kind, func() any { return data })
}

// publishFunc is publish for data that is built by data(), called only
// when someone subscribes: a transaction's event is published for every
// admission, and its id spelled in hex and the data boxed cost three
// allocations a request that a node without an event stream would throw
// away. data runs under e.mu, so it must not call back into e.
func (e *Events) publishFunc(kind string, data func() any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	if len(e.subs) == 0 {
		return
	}
	ev := Event{Seq: e.seq, Kind: kind, Time: time.Now().UTC(), Data: data()}
	for s := range e.subs {
		select {
		case s.c <- ev:
		default:
			delete(e.subs, s)
			close(s.c)
		}
	}
}

// subscribers returns how many subscriptions are open.
func (e *Events) subscribers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.subs)
}
