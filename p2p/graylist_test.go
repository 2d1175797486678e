package p2p_test

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
)

// feeJamTx is the fee jam's i-th transaction: unsigned, on the open
// network, with a fee no block can carry (the largest there is; the
// nonce tells them apart).
func feeJamTx(i int) *chain.Transaction {
	return &chain.Transaction{Version: chain.TxVersion, Sender: "mallory", Recipient: "bob", Amount: 1,
		Fee: chain.MaxAmount - 1, Nonce: uint64(i)}
}

// TestGraylistedPeerRefused: a real libp2p peer floods a node's gossip
// with transactions that can never be mined (a Reject each). Once its
// GossipSub score is below the graylist threshold the node bans it
// through the syncer: it is disconnected and refused at the gate when it
// dials back, so its later messages are not even read (protocol.md
// §16.5).
func TestGraylistedPeerRefused(t *testing.T) {
	c := newTestChainFor(t, chain.OpenNet())
	vh, err := p2p.NewHost(context.Background(), p2p.HostConfig{
		Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NetworkID: c.Params().NetworkID(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vh.Close() })
	if err := vh.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := p2p.NewSyncer(context.Background(), vh.Host, c, vh, p2p.WithStatusInterval(time.Hour),
		p2p.WithSyncLogger(testLogger(t)))
	t.Cleanup(s.Close)
	victim := startGossipNode(t, vh.Host, c, s)
	eh := newHost(t)
	answerStatus(eh, c)
	evil := newEvilPeerOn(t, eh, victim)

	sent := 0
	testutil.Eventually(t, 30*time.Second, "the victim bans the attacker", func() bool {
		if vh.Banned(eh.ID()) {
			return true
		}
		if vh.Network().Connectedness(eh.ID()) == network.Connected {
			evil.publish(t, evil.tx, feeJamTx(sent).Encode())
			sent++
		}
		return false
	})
	testutil.Eventually(t, 10*time.Second, "the attacker disconnected", func() bool {
		return vh.Network().Connectedness(eh.ID()) != network.Connected
	})
	if rej := victim.g.Stats().Tx.Rejected; rej < 3 {
		t.Fatalf("banned after %d rejected transactions: the score, not one message, should decide", rej)
	}
	// The attacker dials back: the gate refuses it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eh.Connect(ctx, peer.AddrInfo{ID: vh.ID(), Addrs: vh.Addrs()}); err == nil {
		testutil.Eventually(t, 5*time.Second, "the banned attacker's connection closed", func() bool {
			return vh.Network().Connectedness(eh.ID()) != network.Connected
		})
	}
}

// TestGossipFeeReadBeforeDecode: on a signed network with a minimum relay
// fee, a gossiped zero-fee transfer is ignored on its fee alone, read
// before the message is decoded: one cut short after its fee, which the
// decoder would refuse (a Reject), is ignored too. A full fee with the
// same cut is decoded, and rejected.
func TestGossipFeeReadBeforeDecode(t *testing.T) {
	p := chain.RegTest()
	victim := startGossipNode(t, newHost(t), newTestChainFor(t, p, chain.WithMinRelayFee(chain.DefaultMinRelayFee)), nopSync{})
	evil := newEvilPeer(t, victim)
	m := testwallet.New("mallory")
	cut := func(fee uint64) []byte {
		tx := m.Tx(p, m.Addr, 1, fee, 0)
		enc := tx.Encode()
		return enc[:3+len(tx.Sender)+len(tx.Recipient)+16] // through the fee
	}
	evil.publish(t, evil.tx, cut(0))
	testutil.Eventually(t, 10*time.Second, "the zero-fee message judged", func() bool { return victim.g.Stats().Tx.Ignored == 1 })
	evil.publish(t, evil.tx, cut(5))
	testutil.Eventually(t, 10*time.Second, "the full-fee message judged", func() bool { return victim.g.Stats().Tx.Rejected == 1 })
	if s := victim.g.Stats().Tx; s.Ignored != 1 || s.Rejected != 1 {
		t.Fatalf("ignored %d, rejected %d; want 1 and 1", s.Ignored, s.Rejected)
	}
}
