package p2p

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// What a peer may ask of our sync server (protocol.md §17.9). Each peer
// has four token buckets, charged by what a request makes us do: one
// token per request of any kind (a stream, a read, a decode), then, once
// the request is known valid, one per header a GetHeaders asks for (its
// max: the store work of the answer), one per block a GetBlocks names
// (a store read each), and each block's encoded size in bytes as it is
// sent. The constants are in limits.go.
//
// The buckets outlive the connection: a peer that hangs up and dials
// again finds its buckets as it left them. They are kept in a bounded LRU
// by peer ID. No timer expires an entry, because none is needed: a bucket
// left alone refills to its burst by itself, so an entry idle longer than
// the slowest refill (4 s) is as good as a new one, and the LRU's bound is
// what frees the memory.

// serveLimits is one peer's allowance.
type serveLimits struct {
	requests, headers, blocks, bytes *rate.Limiter
	// netmap is the map protocol's (netmap.go): one token per answer.
	netmap *rate.Limiter
}

func newServeLimits() *serveLimits {
	return &serveLimits{
		requests: rate.NewLimiter(serverRate, serverBurst),
		headers:  rate.NewLimiter(serverHeaderRate, serverHeaderBurst),
		blocks:   rate.NewLimiter(serverBlockRate, serverBlockBurst),
		bytes:    rate.NewLimiter(serverByteRate, serverByteBurst),
		netmap:   rate.NewLimiter(mapServeRate, mapServeBurst),
	}
}

// limitTable is a syncer's serveLimits by peer, bounded. Safe for
// concurrent use (the LRU locks itself).
type limitTable struct {
	peers *lru.Cache[peer.ID, *serveLimits]
	// clock is the buckets' clock: time.Now, or a test's frozen clock, so
	// that a test counts what a flood gets served without timing it.
	clock atomic.Pointer[func() time.Time]
}

func (t *limitTable) now() time.Time { return (*t.clock.Load())() }

func newLimitTable() *limitTable {
	c, err := lru.New[peer.ID, *serveLimits](serverLimitPeers)
	if err != nil {
		panic(err) // only for a size below one
	}
	t := &limitTable{peers: c}
	now := time.Now
	t.clock.Store(&now)
	return t
}

// peer returns p's allowance, making a full one for a peer not seen
// within the table's memory.
func (t *limitTable) peer(p peer.ID) *serveLimits {
	if l, ok := t.peers.Get(p); ok {
		return l
	}
	l := newServeLimits()
	if prev, ok, _ := t.peers.PeekOrAdd(p, l); ok {
		return prev // another request of p's made it first
	}
	return l
}

// serveLimits returns s's table of peer allowances.
func (s *Syncer) serveLimits() *limitTable { return s.limits }
