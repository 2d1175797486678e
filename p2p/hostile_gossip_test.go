package p2p_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// Hostile gossip: a peer running plain GossipSub, with no validators and
// a larger message limit than ours, publishes whatever bytes it likes on
// both topics of an honest node that has a neighbour behind it. Already
// covered elsewhere: TestGossipInvalidBlockRejected (bad proof of work,
// penalty, not forwarded) and TestGossipSideBranchBlockNotForwarded.

// evilPeer is a raw GossipSub host on both topics of honest's network.
type evilPeer struct {
	h         host.Host
	tx, block *pubsub.Topic
}

// newEvilPeer starts an evilPeer, connects it to honest and waits until
// each sees the other on both topics. It floods what it publishes, so
// nothing waits for a mesh, and takes messages up to 4 MiB so that it
// can send frames over our limit.
func newEvilPeer(t *testing.T, honest *gossipNode) *evilPeer {
	t.Helper()
	return newEvilPeerOn(t, newHost(t), honest)
}

// newEvilPeerOn is newEvilPeer on a host of the caller's.
func newEvilPeerOn(t *testing.T, h host.Host, honest *gossipNode) *evilPeer {
	t.Helper()
	e := &evilPeer{h: h}
	ps, err := pubsub.NewGossipSub(context.Background(), e.h, append(unsignedGossip(), fastGossip(), pubsub.WithFloodPublish(true),
		pubsub.WithMaxMessageSize(4<<20))...)
	if err != nil {
		t.Fatal(err)
	}
	net := honest.c.Params().NetworkID()
	for name, dst := range map[string]**pubsub.Topic{protocol.TxTopic(net): &e.tx, protocol.BlockTopic(net): &e.block} {
		topic, err := ps.Join(name)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := topic.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Cancel)
		*dst = topic
	}
	connect(t, e.h, honest.h)
	testutil.Eventually(t, 10*time.Second, "attacker and honest node see each other on both topics", func() bool {
		return len(e.tx.ListPeers()) > 0 && len(e.block.ListPeers()) > 0 &&
			honest.listsOn(protocol.TxTopic(net), e.h.ID()) && honest.listsOn(protocol.BlockTopic(net), e.h.ID())
	})
	return e
}

func (e *evilPeer) publish(t *testing.T, topic *pubsub.Topic, data []byte) {
	t.Helper()
	if err := topic.Publish(context.Background(), data); err != nil {
		t.Fatal(err)
	}
}

// listsOn reports whether n's router has p subscribed to topic.
func (n *gossipNode) listsOn(topic string, p peer.ID) bool {
	for _, q := range n.g.PubSub().ListPeers(topic) {
		if q == p {
			return true
		}
	}
	return false
}

// freshScore returns p's score at n from a snapshot taken after the call.
func (n *gossipNode) freshScore(t *testing.T, p peer.ID) float64 {
	t.Helper()
	select { // the snapshot waiting may be older than the caller's event
	case <-n.scores:
	default:
	}
	select {
	case s := <-n.scores:
		return s[p]
	case <-time.After(5 * time.Second):
		t.Fatal("no peer score snapshot in 5s")
		return 0
	}
}

// topicStats picks one topic's counters.
func topicStats(s p2p.GossipStats, tx bool) p2p.TopicStats {
	if tx {
		return s.Tx
	}
	return s.Block
}

// buildBlock solves a block on parent with a correct coinbase (reward and
// fees to miner) followed by txs, one millisecond after its parent.
func buildBlock(t *testing.T, p *chain.Params, parent *chain.Header, miner string, txs ...*chain.Transaction) *chain.Block {
	t.Helper()
	var fees uint64
	for _, tx := range txs {
		fees += tx.Fee
	}
	height := parent.Height + 1
	cb := &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: miner, Amount: p.Reward + fees, Nonce: height}
	b := &chain.Block{
		Header: chain.Header{Version: chain.HeaderVersion, Height: height, PrevHash: parent.Hash(),
			Timestamp: parent.Timestamp + 1, Bits: p.PowLimitBits()},
		Transactions: append([]*chain.Transaction{cb}, txs...),
	}
	b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	hdr, err := chain.Solve(context.Background(), b.Header, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Header = hdr
	return b
}

// brokenTxRule is brokenRule for one transaction of a batch.
func brokenTxRule(p *chain.Params, data []byte) chain.ErrorCode {
	t, n, err := chain.DecodeTransaction(data)
	switch {
	case err != nil:
		return chain.CodeOf(err)
	case n != len(data):
		return chain.ErrMalformed
	case t.IsCoinbase():
		return chain.ErrMultipleCoinbases
	}
	return chain.CodeOf(chain.CheckTxSanity(p, t))
}

// brokenRule returns the rule a gossiped payload breaks on its own (the
// checks a validator runs before the ledger), 0 for none; a transaction
// batch whose framing does not read is malformed.
func brokenRule(p *chain.Params, tx bool, data []byte) chain.ErrorCode {
	if tx {
		raws, err := protocol.SplitTxBatch(data)
		if err != nil {
			return chain.ErrMalformed
		}
		for _, raw := range raws {
			if code := brokenTxRule(p, raw); code != 0 {
				return code
			}
		}
		return 0
	}
	// Blocks travel as compact blocks; these send every transaction
	// whole. One that does not decode is malformed, whatever the code.
	c, err := protocol.DecodeCompactBlock(data)
	if err != nil {
		if code := chain.CodeOf(err); code != 0 {
			return code
		}
		return chain.ErrMalformed
	}
	b := &chain.Block{Header: c.Header}
	for _, pt := range c.Prefilled {
		b.Transactions = append(b.Transactions, pt.Tx)
	}
	if len(c.ShortIDs) != 0 {
		return 0 // not judged without the receiver's mempool
	}
	_, err = chain.CheckBlockSanity(p, b)
	return chain.CodeOf(err)
}

func garbage(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestGossipHostilePeer: each kind of invalid block or transaction a peer
// can gossip. For each, from a fresh attacker: the honest node rejects it
// (or, for a frame over GossipSub's limit, its router drops it unread and
// forgets the sender's subscriptions); its tip and mempool do not change;
// the attacker's score there goes below zero; and the message never
// reaches the node behind it, which rejects nothing all test long.
func TestGossipHostilePeer(t *testing.T) {
	honest, far := newGossipNode(t), newGossipNode(t)
	line(t, honest, far)
	p := honest.c.Params()
	alice, bob := testwallet.New("alice"), testwallet.New("bob")
	ctx := context.Background()
	// Alice has funds, so her transactions fail only for what is broken.
	b1 := honest.c.mine(t, alice.Addr)
	if err := honest.g.PublishBlock(ctx, b1); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the far node at height 1", func() bool { return far.c.Tip().Hash == b1.Hash() })

	brokenSig := func(network chain.Hash) *chain.Transaction {
		tx := alice.Tx(p, bob.Addr, 10, 1, 0)
		tx.Sign(network, alice.Key)
		if network == p.NetworkID() {
			tx.Signature[0] ^= 1
		}
		return tx
	}
	cases := []struct {
		name    string
		tx      bool // on the transaction topic, else the block topic
		data    func() []byte
		why     chain.ErrorCode // the rule it breaks
		dropped bool            // by the router, before any validator
	}{
		{name: "block with bad proof of work", why: chain.ErrHighHash, data: func() []byte {
			b, err := honest.c.NewTemplate(nil, alice.Addr)
			if err != nil {
				t.Fatal(err)
			}
			for chain.CheckHeaderSanity(p, &b.Header) == nil {
				b.Header.Nonce++
			}
			return wire(b)
		}},
		{name: "block with a badly signed transaction", why: chain.ErrBadSignature, data: func() []byte {
			return wire(buildBlock(t, p, &honest.c.Tip().Header, alice.Addr, brokenSig(p.NetworkID())))
		}},
		{name: "block with a bad merkle root", why: chain.ErrBadMerkleRoot, data: func() []byte {
			b := buildBlock(t, p, &honest.c.Tip().Header, alice.Addr, alice.Tx(p, bob.Addr, 10, 1, 0))
			b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions[:1])) // the coinbase's alone
			hdr, err := chain.Solve(ctx, b.Header, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			b.Header = hdr
			return wire(b)
		}},
		{name: "block of garbage bytes", why: chain.ErrMalformed,
			data: func() []byte { return garbage(1, 500) }},
		{name: "block payload over the block size limit", why: chain.ErrMalformed, data: func() []byte {
			b := wire(buildBlock(t, p, &honest.c.Tip().Header, alice.Addr))
			return append(b, make([]byte, chain.MaxBlockSize)...) // under the 1 MiB frame limit
		}},
		{name: "frame over the gossip message limit", dropped: true, data: func() []byte {
			return garbage(2, protocol.MaxGossipMessageSize+1)
		}},
		{name: "transaction of garbage bytes", tx: true, why: chain.ErrMalformed, data: func() []byte { return garbage(3, 120) }},
		{name: "transaction with a broken signature", tx: true, why: chain.ErrBadSignature, data: func() []byte { return txsMsg(brokenSig(p.NetworkID())) }},
		{name: "transaction signed for another network", tx: true, why: chain.ErrBadSignature, data: func() []byte {
			return txsMsg(brokenSig(chain.DevNet().NetworkID()))
		}},
		{name: "transaction with trailing bytes", tx: true, why: chain.ErrMalformed, data: func() []byte {
			return txMsg(append(alice.Tx(p, bob.Addr, 10, 1, 0).Encode(), 0))
		}},
		{name: "transaction batch past the count bound", tx: true, why: chain.ErrMalformed, data: func() []byte {
			raws := make([][]byte, protocol.MaxTxBatchTxs+1)
			for i := range raws {
				raws[i] = alice.Tx(p, bob.Addr, 10, 1, uint64(i)).Encode()
			}
			return txMsg(raws...)
		}},
		{name: "transaction batch past the byte bound", tx: true, why: chain.ErrMalformed, data: func() []byte {
			raws := make([][]byte, protocol.MaxTxBatchSize/chain.MaxTxSize+1)
			for i := range raws {
				raws[i] = make([]byte, chain.MaxTxSize)
			}
			return txMsg(raws...)
		}},
		{name: "coinbase as a transaction", tx: true, why: chain.ErrMultipleCoinbases, data: func() []byte {
			return txsMsg(&chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: bob.Addr, Amount: p.Reward, Nonce: 9})
		}},
	}
	barrierNonce := uint64(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evil := newEvilPeer(t, honest)
			topic := evil.block
			if tc.tx {
				topic = evil.tx
			}
			data := tc.data()
			if !tc.dropped {
				if got := brokenRule(p, tc.tx, data); got != tc.why {
					t.Fatalf("the message breaks %v, want %v", got, tc.why)
				}
			}
			tip, pool, before := honest.c.Tip().Hash, honest.c.mp.Len(), topicStats(honest.g.Stats(), tc.tx)
			evil.publish(t, topic, data)

			if tc.dropped {
				// GossipSub resets the stream of an RPC over its limit
				// without reading it; the attacker's router sees its
				// stream fail and loses the honest node as a peer.
				testutil.Eventually(t, 10*time.Second, "the honest router resets the attacker's stream", func() bool {
					return len(topic.ListPeers()) == 0
				})
				if got := topicStats(honest.g.Stats(), tc.tx); got.In != before.In {
					t.Fatalf("an oversized frame reached the validator: %+v", got)
				}
			} else {
				testutil.Eventually(t, 10*time.Second, "the honest node rejects it", func() bool {
					return topicStats(honest.g.Stats(), tc.tx).Rejected == before.Rejected+1
				})
				testutil.Eventually(t, 10*time.Second, "the attacker's score drops below zero", func() bool {
					return honest.freshScore(t, evil.h.ID()) < 0
				})
			}
			if honest.c.Tip().Hash != tip || honest.c.mp.Len() != pool {
				t.Fatalf("tip %s → %s, mempool %d → %d", tip.Short(), honest.c.Tip().Hash.Short(), pool, honest.c.mp.Len())
			}
			// A valid transaction the honest node sends afterwards reaches
			// the far node on the same stream: the invalid message, had it
			// been forwarded, would be there too.
			barrier := alice.Tx(p, bob.Addr, 1, 1, barrierNonce)
			barrierNonce++
			if err := honest.c.AddTx(barrier); err != nil {
				t.Fatal(err)
			}
			if err := honest.g.PublishTx(ctx, barrier); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 10*time.Second, "a valid transaction reaches the far node", func() bool { return far.c.mp.Has(barrier.ID()) })
			if far.mesh.saw(data) {
				t.Fatal("the invalid message reached the far node")
			}
			if s := far.g.Stats(); s.Tx.Rejected+s.Block.Rejected != 0 {
				t.Fatalf("the far node rejected something: %+v", s)
			}
		})
	}
}

// TestGossipTxReplay: the same valid transaction again is not a fault of
// whoever relays it. A transaction already in the mempool (submitted to
// the node directly) is ignored as a duplicate; the same bytes again stop
// at the seen cache, before any validator; a transaction already mined is
// ignored. None costs the relaying peer anything: one garbage message
// after them leaves it with exactly one penalty's worth of score.
func TestGossipTxReplay(t *testing.T) {
	honest, far := newGossipNode(t), newGossipNode(t)
	line(t, honest, far)
	p := honest.c.Params()
	alice, bob := testwallet.New("alice"), testwallet.New("bob")
	honest.c.mine(t, alice.Addr)
	peer := newEvilPeer(t, honest)
	tx := func() p2p.TopicStats { return honest.g.Stats().Tx }

	pending := alice.Tx(p, bob.Addr, 10, 1, 0)
	if err := honest.c.AddTx(pending); err != nil {
		t.Fatal(err)
	}
	before := tx()
	peer.publish(t, peer.tx, txsMsg(pending))
	testutil.Eventually(t, 10*time.Second, "the pending transaction is ignored", func() bool { return tx().Ignored == before.Ignored+1 })

	// The same bytes again: dropped by the seen cache (message ids are
	// content hashes), never validated.
	peer.publish(t, peer.tx, txsMsg(pending))

	// A mined transaction, relayed again: its nonce is spent.
	mined := alice.Tx(p, bob.Addr, 10, 1, 1)
	if err := honest.c.AddTx(mined); err != nil {
		t.Fatal(err)
	}
	blk := honest.c.mine(t, alice.Addr)
	if len(blk.Transactions) != 3 {
		t.Fatalf("mined %d transactions, want the coinbase and two", len(blk.Transactions))
	}
	peer.publish(t, peer.tx, txsMsg(mined))
	testutil.Eventually(t, 10*time.Second, "the mined transaction is ignored", func() bool { return tx().Ignored == before.Ignored+2 })
	if honest.c.mp.Has(mined.ID()) || honest.c.mp.Len() != 0 {
		t.Fatalf("mempool after the replays: %d transactions", honest.c.mp.Len())
	}

	// One garbage message: the first and only penalty.
	peer.publish(t, peer.tx, garbage(4, 100))
	testutil.Eventually(t, 10*time.Second, "garbage rejected", func() bool { return tx().Rejected == before.Rejected+1 })
	testutil.Eventually(t, 10*time.Second, "the penalty shows in the score", func() bool { return honest.freshScore(t, peer.h.ID()) < 0 })
	// n invalid messages cost 100·n²: one is -100, two would be -400.
	if s := honest.freshScore(t, peer.h.ID()); s < -200 {
		t.Fatalf("score %.1f: a replay was penalised", s)
	}
	if got := tx(); got.In != before.In+3 {
		t.Fatalf("validated %d messages, want 3 (the repeated bytes must stop at the seen cache)", got.In-before.In)
	}
	for _, m := range []*chain.Transaction{pending, mined} {
		if far.mesh.saw(txsMsg(m)) {
			t.Fatal("an ignored replay was forwarded")
		}
	}
}

// TestGossipDoubleSpendAcrossFork: Alice's nonce 0 pays Bob on the main
// chain. The same nonce paying Carol is ignored as a transaction (the
// ledger decides, not the relayer's fault) and rejected in a block on the
// tip (penalised, not forwarded). On a heavier fork from before Bob's
// payment it is valid: the node reorganises, Carol is paid, Bob is not,
// and Bob's payment neither returns to the mempool nor is taken again
// when relayed. The chain tests check the same rules on the ledger alone
// (TestReorgWithMempool).
func TestGossipDoubleSpendAcrossFork(t *testing.T) {
	honest, far := newGossipNode(t), newGossipNode(t)
	line(t, honest, far)
	p := honest.c.Params()
	ctx := context.Background()
	alice, bob, carol, miner := testwallet.New("alice"), testwallet.New("bob"), testwallet.New("carol"), testwallet.New("miner").Addr

	b1 := honest.c.mine(t, alice.Addr)
	toBob := alice.Tx(p, bob.Addr, 10, 1, 0)
	if err := honest.c.AddTx(toBob); err != nil {
		t.Fatal(err)
	}
	b2 := honest.c.mine(t, miner)
	// One at a time: b2 arriving first would be an orphan whose payment
	// the far node lacks, and an orphan earns no request to its sender
	// (protocol.md 16.6.5); it is sync's, and this pair runs no syncer.
	for _, b := range []*chain.Block{b1, b2} {
		if err := honest.g.PublishBlock(ctx, b); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("the far node at height %d", b.Header.Height),
			func() bool { return far.c.Tip().Hash == b.Hash() })
	}
	toCarol := alice.Tx(p, carol.Addr, 10, 1, 0)

	evil := newEvilPeer(t, honest)
	stats := func() p2p.GossipStats { return honest.g.Stats() }
	before := stats()
	evil.publish(t, evil.tx, txsMsg(toCarol))
	testutil.Eventually(t, 10*time.Second, "the double spend is ignored as a transaction", func() bool {
		return stats().Tx.Ignored == before.Tx.Ignored+1
	})
	if honest.c.mp.Has(toCarol.ID()) {
		t.Fatal("the double spend entered the mempool")
	}
	onTip := buildBlock(t, p, &b2.Header, miner, toCarol)
	evil.publish(t, evil.block, wire(onTip))
	testutil.Eventually(t, 10*time.Second, "a block with the double spend is rejected", func() bool {
		return stats().Block.Rejected == before.Block.Rejected+1
	})
	testutil.Eventually(t, 10*time.Second, "its sender is penalised", func() bool { return honest.freshScore(t, evil.h.ID()) < 0 })
	if honest.c.Tip().Hash != b2.Hash() {
		t.Fatal("the tip moved")
	}

	// A heavier fork from b1 that spends nonce 0 on Carol.
	forker := newEvilPeer(t, honest)
	f2 := buildBlock(t, p, &b1.Header, miner, toCarol)
	f3 := buildBlock(t, p, &f2.Header, miner)
	// f2 alone only ties the tip, so gossip would not store it (9.5):
	// the fork comes tip first, and f2 is judged with f3 waiting on it.
	forker.publish(t, forker.block, wire(f3))
	testutil.Eventually(t, 10*time.Second, "the fork's tip waits for its parent", func() bool { return honest.c.OrphanRoot(f3.Hash()) == f2.Hash() })
	forker.publish(t, forker.block, wire(f2))
	testutil.Eventually(t, 10*time.Second, "the node reorganises onto the heavier fork", func() bool { return honest.c.Tip().Hash == f3.Hash() })
	for _, w := range []struct {
		who  *testwallet.Wallet
		want int64
	}{{bob, 0}, {carol, 10}} {
		if a, err := honest.c.Account(w.who.Addr); err != nil || a.Balance != w.want {
			t.Fatalf("balance after the reorg: %+v, %v; want %d", a, err, w.want)
		}
	}
	if honest.c.mp.Has(toBob.ID()) {
		t.Fatal("the payment to Bob came back to the mempool though its nonce is spent on the new chain")
	}
	ignored := stats().Tx.Ignored
	forker.publish(t, forker.tx, txsMsg(toBob))
	testutil.Eventually(t, 10*time.Second, "Bob's payment relayed again is ignored", func() bool { return stats().Tx.Ignored == ignored+1 })
	if honest.c.mp.Has(toBob.ID()) {
		t.Fatal("Bob's payment entered the mempool after the reorg")
	}
	if honest.freshScore(t, forker.h.ID()) < 0 {
		t.Fatal("the peer that relayed a valid fork was penalised")
	}
	if far.mesh.saw(wire(onTip)) || far.mesh.saw(txsMsg(toCarol)) || far.c.Tip().Hash == onTip.Hash() {
		t.Fatal("a double spend reached the far node")
	}
}

// TestGossipSignedMessageDropped: the topics carry unsigned messages
// only (StrictNoSign). A peer that signs the GossipSub way, as version 1
// of the topics did, has its message dropped by GossipSub before any
// validator runs, even when the block inside is valid, and never
// forwarded.
func TestGossipSignedMessageDropped(t *testing.T) {
	honest := newGossipNode(t)
	topic := joinBlockTopic(t, newHost(t), honest) // GossipSub's default: StrictSign

	b1 := newTestChain(t).mine(t, testwallet.New("miner").Addr)
	data := wire(b1)
	if err := topic.Publish(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "GossipSub drops the signed message", func() bool {
		r := honest.mesh.rejectReason(data)
		return r == pubsub.RejectUnexpectedSignature || r == pubsub.RejectUnexpectedAuthInfo
	})
	if st := honest.g.Stats(); st.Block.In != 0 || honest.c.Tip().Height() != 0 {
		t.Fatalf("a signed message reached the validator (%+v) or the chain (height %d)", st.Block, honest.c.Tip().Height())
	}
}
