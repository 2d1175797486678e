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
	vh, victim := startBanningNode(t, c)
	eh := newHost(t)
	answerStatus(eh, c)
	evil := newEvilPeerOn(t, eh, victim)

	sent := 0
	testutil.Eventually(t, 30*time.Second, "the victim bans the attacker", func() bool {
		if vh.Banned(eh.ID()) {
			return true
		}
		if vh.Network().Connectedness(eh.ID()) == network.Connected {
			evil.publish(t, evil.tx, txsMsg(feeJamTx(sent)))
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

// startBanningNode starts a node's host (with its gater), syncer and
// gossip on c: the parts that ban a peer for its gossip.
func startBanningNode(t *testing.T, c *testChain) (*p2p.Host, *gossipNode) {
	t.Helper()
	vh, s := startBanningHost(t, c)
	return vh, startGossipNode(t, vh.Host, c, s)
}

// startBanningHost starts a node's host (with its gater) and syncer on
// c, for a gossip to ban through.
func startBanningHost(t *testing.T, c p2p.Chain) (*p2p.Host, *p2p.Syncer) {
	t.Helper()
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
	return vh, s
}

// TestGossipFeeFloors: a real libp2p peer floods a node with signed
// self-transfers on regtest, whose network floor is 1 coin per 1,000
// bytes (protocol.md §11.7 rule 5), while the node itself asks 5. Paying
// less than the network's floor is a fault: the node bans the peer as it
// bans one that relays never-valid transactions. Paying the floor but
// less than the node's own minimum is the node's policy, which an honest
// peer with a lower --min-relay-fee relays in good faith: every message
// is ignored, and the peer stays connected and unbanned.
func TestGossipFeeFloors(t *testing.T) {
	p := chain.RegTest()
	const local = 5 * chain.NetworkMinRelayFee
	tests := []struct {
		name   string
		fee    uint64
		banned bool
	}{
		{"below the network's floor", 0, true},
		{"at the floor, below the node's minimum", p.RelayFeeFloor.Fee(225), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestChainFor(t, p, chain.WithMinRelayFee(local))
			if min := c.mp.MinFee(225); tc.fee >= min {
				t.Fatalf("fee %d is not below the node's minimum %d", tc.fee, min)
			}
			vh, victim := startBanningNode(t, c)
			eh := newHost(t)
			answerStatus(eh, c)
			evil := newEvilPeerOn(t, eh, victim)
			m := testwallet.New("mallory")
			const flood = 50
			sent := 0
			testutil.Eventually(t, 30*time.Second, "the flood judged or its sender banned", func() bool {
				if vh.Banned(eh.ID()) {
					return true
				}
				if sent < flood && vh.Network().Connectedness(eh.ID()) == network.Connected {
					evil.publish(t, evil.tx, txsMsg(m.Tx(p, m.Addr, 1, tc.fee, uint64(sent))))
					sent++
				}
				st := victim.g.Stats().Tx
				return st.Ignored+st.Rejected >= flood
			})
			st := victim.g.Stats().Tx
			if got := vh.Banned(eh.ID()); got != tc.banned {
				t.Fatalf("banned %v after %d sent (%d rejected, %d ignored), want %v", got, sent, st.Rejected, st.Ignored, tc.banned)
			}
			if tc.banned {
				testutil.Eventually(t, 10*time.Second, "the attacker disconnected", func() bool {
					return vh.Network().Connectedness(eh.ID()) != network.Connected
				})
				return
			}
			if st.Rejected != 0 || st.Accepted != 0 || c.mp.Len() != 0 {
				t.Fatalf("rejected %d, accepted %d, mempool %d: want every message ignored", st.Rejected, st.Accepted, c.mp.Len())
			}
			if vh.Network().Connectedness(eh.ID()) != network.Connected {
				t.Fatal("the peer relaying fees at the network's floor was disconnected")
			}
		})
	}
}

// TestGossipFeeReadBeforeDecode: on a signed network a gossiped
// transaction is judged by its fee alone, read before the message is
// decoded, when the fee is below a floor: one cut short after its fee,
// which the decoder would refuse, is ignored when the fee is at the
// network's floor but below the node's own minimum, and rejected below
// the network's floor as a fee fault, not a decode. A full fee with the
// same cut is decoded, and rejected.
func TestGossipFeeReadBeforeDecode(t *testing.T) {
	p := chain.RegTest()
	c := newTestChainFor(t, p, chain.WithMinRelayFee(50*chain.NetworkMinRelayFee)) // 7 coins for the cut message
	victim := startGossipNode(t, newHost(t), c, nopSync{})
	evil := newEvilPeer(t, victim)
	m := testwallet.New("mallory")
	cut := func(fee uint64) []byte {
		tx := m.Tx(p, m.Addr, 1, fee, 0)
		enc := tx.Encode()
		return enc[:3+len(tx.Sender)+len(tx.Recipient)+16] // through the fee
	}
	evil.publish(t, evil.tx, txMsg(cut(p.RelayFeeFloor.Fee(225))))
	testutil.Eventually(t, 10*time.Second, "the message at the floor judged", func() bool { return victim.g.Stats().Tx.Ignored == 1 })
	evil.publish(t, evil.tx, txMsg(cut(0)))
	testutil.Eventually(t, 10*time.Second, "the zero-fee message judged", func() bool { return victim.g.Stats().Tx.Rejected == 1 })
	evil.publish(t, evil.tx, txMsg(cut(25)))
	testutil.Eventually(t, 10*time.Second, "the full-fee message judged", func() bool { return victim.g.Stats().Tx.Rejected == 2 })
	if s := victim.g.Stats().Tx; s.Ignored != 1 || s.Rejected != 2 {
		t.Fatalf("ignored %d, rejected %d; want 1 and 2", s.Ignored, s.Rejected)
	}
}
