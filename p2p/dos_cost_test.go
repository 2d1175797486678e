package p2p_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
)

// TestDoSCostTrickler measures issue 12's second attack with the
// node's default deadlines, for docs/benchmarks.md: a node at genesis
// meets a trickler (an enormous claim, headers of a 5-block branch of
// its own, then one block every 12 s) and an honest peer with 100 blocks
// at once. It reports how long the node stays at a stale height, what the
// trickler had to write, and how the trickler's turn ended. A figure, not
// a check of timing: it runs only with GOSSIPCHAIN_DOS_FIGURES=1.
func TestDoSCostTrickler(t *testing.T) {
	if os.Getenv("GOSSIPCHAIN_DOS_FIGURES") == "" {
		t.Skip("set GOSSIPCHAIN_DOS_FIGURES=1 to measure")
	}
	events := &syncEvents{}
	node := &syncNode{h: newHost(t), c: newTestChain(t)}
	node.s = p2p.NewSyncer(context.Background(), node.h, node.c, p2p.NewGater(), p2p.WithSyncNotify(events.add))
	t.Cleanup(node.s.Close)
	honest := newSyncNode(t)
	mineBlocks(t, honest.c, testwallet.New("honest").Addr, 100)
	cheap := newTestChain(t)
	mineBlocks(t, cheap, testwallet.New("trickler").Addr, 5)
	trickler := &hostileSyncPeer{
		headers: serveHeaders(cheap),
		blocks:  trickle(cheap, 12*time.Second),
	}
	trickler.start(t, node.c.Params().NetworkID())
	start := time.Now()
	connect(t, node.h, trickler.h)
	connect(t, node.h, honest.h)
	testutil.Eventually(t, 120*time.Second, "the node on the honest tip", func() bool { return node.c.Tip().Hash == honest.c.Tip().Hash })
	stale := time.Since(start)
	ev, _ := events.failed(trickler.h)
	t.Logf("stale for %.2f s; the trickler wrote %d bytes; its download ended after %.2f s: %v",
		stale.Seconds(), trickler.written.Load(), ev.Duration.Seconds(), ev.Err)
}

// timedChain times the victim's admission of gossiped transactions.
type timedChain struct {
	*testChain
	calls, nanos atomic.Int64
}

func (c *timedChain) AddTxs(txs []*chain.Transaction, ids []chain.Hash) []error {
	start := time.Now()
	errs := c.testChain.AddTxs(txs, ids)
	c.nanos.Add(int64(time.Since(start)))
	c.calls.Add(int64(len(txs)))
	return errs
}

// TestDoSCostMempool measures issue 12's third and fourth attacks with a
// real libp2p attacker (plain GossipSub, flood publishing) against a
// node's gossip, for docs/benchmarks.md: the fee jam (unsigned
// transactions on the open network whose fee no block can carry) and
// zero-fee bloat (signed zero-fee self-transfers on a signed network
// with the default minimum relay fee). The attacker's cost is its CPU to
// build (and sign) and encode the transactions; the victim's is its
// admission of each (the validator's call into the chain and mempool),
// the signatures it verified, and what its mempool holds after. A figure,
// not a check of timing: it runs only with GOSSIPCHAIN_DOS_FIGURES=1.
func TestDoSCostMempool(t *testing.T) {
	if os.Getenv("GOSSIPCHAIN_DOS_FIGURES") == "" {
		t.Skip("set GOSSIPCHAIN_DOS_FIGURES=1 to measure")
	}
	const n = 2000
	mallory := testwallet.New("mallory")
	regtest := chain.RegTest()
	cases := []struct {
		name string
		p    *chain.Params
		opts []chain.MempoolOption
		tx   func(i int) *chain.Transaction
	}{
		{name: "fee jam", p: chain.OpenNet(), tx: func(i int) *chain.Transaction {
			return &chain.Transaction{Version: chain.TxVersion, Sender: "mallory", Recipient: "bob", Amount: 1,
				Fee: chain.MaxAmount - 1 - uint64(i), Nonce: uint64(i)}
		}},
		{name: "zero-fee bloat", p: regtest, opts: []chain.MempoolOption{chain.WithMinRelayFee(chain.DefaultMinRelayFee)},
			tx: func(i int) *chain.Transaction { return mallory.Tx(regtest, mallory.Addr, 1, 0, uint64(i)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			victim := &timedChain{testChain: newTestChainFor(t, tc.p, tc.opts...)}
			node := &gossipNode{h: newHost(t), c: victim.testChain, mesh: newMeshTracer()}
			g, err := p2p.NewGossip(context.Background(), node.h, victim, nopSync{},
				p2p.WithPubSubOptions(fastGossip(), pubsub.WithRawTracer(node.mesh)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Close() })
			node.g = g
			evil := newEvilPeer(t, node)

			start := time.Now()
			msgs := make([][]byte, n)
			for i := range msgs {
				msgs[i] = txsMsg(tc.tx(i))
			}
			build := time.Since(start)
			// GossipSub drops what overflows a peer's outbound queue (32
			// RPCs): the attacker keeps at most 16 messages on the way.
			for i, m := range msgs {
				testutil.Eventually(t, 10*time.Second, "the victim receives", func() bool {
					return node.mesh.receivedFrom(evil.h.ID()) >= i-16
				})
				evil.publish(t, evil.tx, m)
			}
			testutil.Eventually(t, 60*time.Second, "every message reached the victim", func() bool {
				return node.mesh.receivedFrom(evil.h.ID()) == n
			})
			testutil.Eventually(t, 60*time.Second, "no validation under way", func() bool {
				s := g.Stats().Tx
				return s.In == s.Accepted+s.Rejected+s.Ignored
			})
			s := g.Stats().Tx
			sigs := victim.SigCache().Stats()
			t.Logf("attacker: %d transactions built and encoded in %v (%.2f µs each)", n, build, float64(build.Microseconds())/n)
			t.Logf("victim: %d validated (%d rejected, %d ignored, %d accepted), %d dropped unread; admission %d calls, %v in all (%.2f%% of the attacker's build time); %d signatures verified; mempool %d transactions",
				s.In, s.Rejected, s.Ignored, s.Accepted, n-int(s.In), victim.calls.Load(), time.Duration(victim.nanos.Load()),
				100*float64(victim.nanos.Load())/float64(build.Nanoseconds()), sigs.Verifies, victim.mp.Len())
			// The same admissions in a tight loop, as the attacker's
			// build ran: wall time in the flood above includes the
			// goroutine switches of a loaded machine.
			fresh := newTestChainFor(t, tc.p, tc.opts...)
			start = time.Now()
			for _, m := range msgs {
				tx, _, err := chain.DecodeTransaction(m)
				if err != nil {
					t.Fatal(err)
				}
				_ = fresh.AddTx(tx)
			}
			tight := time.Since(start)
			t.Logf("victim, the same %d decoded and offered in a tight loop: %v (%.2f µs each, %.2f%% of the attacker's build)",
				n, tight, float64(tight.Microseconds())/n, 100*float64(tight)/float64(build))
			if victim.mp.Len() != 0 {
				t.Errorf("the victim's mempool holds %d of the attacker's transactions", victim.mp.Len())
			}
		})
	}
}
