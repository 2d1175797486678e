package p2p_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// scanCountingChain counts the passes over its mempool, which rebuilding
// a compact block makes.
type scanCountingChain struct {
	*testChain
	scans atomic.Int64
}

func (c *scanCountingChain) RangeMempool(f func(chain.Hash, *chain.Transaction) bool) {
	c.scans.Add(1)
	c.testChain.RangeMempool(f)
}

// askedSync records the peers gossip asks to sync.
type askedSync struct {
	nopSync
	mu    sync.Mutex
	asked map[peer.ID]int
}

func (s *askedSync) RequestSync(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked[p]++
}

func (s *askedSync) times(p peer.ID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[p]
}

// TestCompactOrphanReplayIgnored: an orphan's header (a parent nobody
// has) costs only the network's easiest target, and each message of it
// with a nonce of its own is a new GossipSub message. The first is
// rebuilt from what the node holds (a pass over its mempool) and left to
// sync; every other message of the same block is ignored unread, from
// any sender, where each cost the pass again before (2,000 messages of
// one header solved once, 2,000 passes), but its sender is asked for the
// parents too, since the first sender may never answer. A message whose
// body its header does not commit to (Reject) is not remembered: the
// next message of the block is judged, and joins the orphans.
func TestCompactOrphanReplayIgnored(t *testing.T) {
	p := chain.DevNet()
	c := &scanCountingChain{testChain: newTestChainFor(t, p)}
	sync := &askedSync{asked: map[peer.ID]int{}}
	g, err := p2p.NewGossip(context.Background(), newHost(t), c, sync, p2p.WithGossipLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	miner := testwallet.New("miner").Addr
	coinbase := func(amount uint64) *chain.Transaction {
		return &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: miner, Amount: amount, Nonce: 50}
	}
	orphan := func(parent byte, root chain.Hash) chain.Header {
		hdr := chain.Header{Version: chain.HeaderVersion, Height: 50, PrevHash: chain.Hash{parent}, MerkleRoot: root,
			Timestamp: time.Now().UnixMilli(), Bits: p.PowLimitBits()}
		hdr, err := chain.Solve(context.Background(), hdr, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		return hdr
	}
	senders := []peer.ID{newHost(t).ID(), newHost(t).ID()}
	send := func(hdr chain.Header, nonce uint64, from peer.ID, cb *chain.Transaction, shortIDs []uint64,
		want pubsub.ValidationResult) {
		t.Helper()
		msg := &protocol.CompactBlock{Header: hdr, Nonce: nonce, ShortIDs: shortIDs,
			Prefilled: []protocol.PrefilledTx{{Index: 0, Tx: cb}}}
		if res, err := g.CheckBlock(context.Background(), from, msg.Encode()); res != want {
			t.Fatalf("message %d: %v (%v), want %v", nonce, res, err, want)
		}
	}

	first := orphan(1, chain.Hash{})
	const copies = 2000
	for i := range copies {
		send(first, uint64(i), senders[i%2], coinbase(p.Reward), []uint64{uint64(i)}, pubsub.ValidationIgnore)
	}
	if got := c.scans.Load(); got != 1 {
		t.Fatalf("%d messages of one orphan cost %d passes over the mempool, want 1", copies, got)
	}
	for _, s := range senders {
		if sync.times(s) == 0 {
			t.Fatalf("sender %s not asked for the orphan's parents", s.ShortString())
		}
	}

	right := coinbase(p.Reward)
	second := orphan(2, chain.MerkleRoot(chain.TxIDs([]*chain.Transaction{right})))
	send(second, 1, senders[0], coinbase(p.Reward-1), nil, pubsub.ValidationReject) // not the header's body
	send(second, 2, senders[1], right, nil, pubsub.ValidationIgnore)                // an orphan, kept
	if c.OrphanRoot(second.Hash()) != second.PrevHash {                             // the hash itself when not pooled
		t.Fatal("the orphan sent right is not among the orphans")
	}
}
