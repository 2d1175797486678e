package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestGossipBatchHopelessNotVerified: a gossiped batch's transactions
// that cannot enter the pool now, whatever their signatures (unfunded
// senders, nonces already used in a block, nonces further ahead than the
// queue holds), are refused before their signatures are verified, with
// the error codes admission gives them (state codes, which gossip's
// verdict table makes Ignore, as before); validly signed, they cost
// their sender nothing and the node a verification each (the cache lets
// go of what it verified, mined transactions included, so none is
// counted on to hold them: a refused transaction is not even looked
// up). A batch whose later transactions are funded, or whose nonces are
// filled, by its earlier ones is admitted whole; one of a bad shape
// still fails for its shape.
func TestGossipBatchHopelessNotVerified(t *testing.T) {
	alice := testwallet.New("alice")
	n := newMiningNode(t, alice.Addr)
	in, p, ctx := n.intake, n.chain.Params(), context.Background()
	fee := n.mempool.MinFee(300)
	for range 3 { // alice has 150, nonce 0
		if _, err := n.miner.mineOne(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// alice's nonce 0, mined: its replay is a nonce already used.
	spent := alice.Tx(p, testwallet.New("carol").Addr, 1, fee, 0)
	if errs := in.addTxs([]*chain.Transaction{spent}, chain.TxIDs([]*chain.Transaction{spent}), OriginGossip); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if _, err := n.miner.mineOne(ctx); err != nil {
		t.Fatal(err)
	}
	if n.mempool.Has(spent.ID()) {
		t.Fatal("the transfer was not mined")
	}

	unfunded := make([]*chain.Transaction, 64)
	for i := range unfunded {
		unfunded[i] = testwallet.New(fmt.Sprintf("nobody %d", i)).Tx(p, alice.Addr, 1, fee, 0)
	}
	sam, tom := testwallet.New("sam"), testwallet.New("tom")
	badShape := testwallet.New("nobody").Tx(p, alice.Addr, 1, fee, 0)
	badShape.Version = 99 // and unsigned again: its shape fails first
	for _, tc := range []struct {
		name    string
		txs     []*chain.Transaction
		want    []chain.ErrorCode // per transaction; 0 for admitted
		checked uint64            // signatures verified or found in the cache
	}{
		{"unfunded senders", unfunded, repeat(chain.ErrInsufficientFunds, len(unfunded)), 0},
		{"a nonce used in a block, replayed", []*chain.Transaction{spent}, []chain.ErrorCode{chain.ErrBadNonce}, 0},
		{"a nonce beyond the queue", []*chain.Transaction{alice.Tx(p, tom.Addr, 1, fee, 1000)}, []chain.ErrorCode{chain.ErrBadNonce}, 0},
		{"funded and its nonces filled by the batch", []*chain.Transaction{
			alice.Tx(p, sam.Addr, 40, fee, 1),
			sam.Tx(p, tom.Addr, 10, fee, 0),
			sam.Tx(p, tom.Addr, 10, fee, 1),
		}, []chain.ErrorCode{0, 0, 0}, 3},
		// Not refused as unfunded: a bad shape rejects the batch.
		{"a bad shape from an unfunded sender", []*chain.Transaction{badShape}, []chain.ErrorCode{chain.ErrBadTxVersion}, 0},
		// The queued transfer never spends what the next one needs: the
		// check counts no spend of the batch's.
		{"a queued transfer before an admissible one", []*chain.Transaction{
			alice.Tx(p, tom.Addr, 100, fee, 3),
			alice.Tx(p, tom.Addr, 100, fee, 2),
		}, []chain.ErrorCode{chain.ErrBadNonce, 0}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks := func() uint64 { s := n.chain.SigCache().Stats(); return s.Verifies + s.Hits }
			before := checks()
			errs := in.addTxs(tc.txs, chain.TxIDs(tc.txs), OriginGossip)
			for i, err := range errs {
				if got := chain.CodeOf(err); got != tc.want[i] {
					t.Errorf("transaction %d: %v (code %v), want code %v", i, err, got, tc.want[i])
				}
			}
			if got := checks() - before; got != tc.checked {
				t.Errorf("%d signatures checked, want %d", got, tc.checked)
			}
		})
	}
}

func repeat(c chain.ErrorCode, n int) []chain.ErrorCode {
	out := make([]chain.ErrorCode, n)
	for i := range out {
		out[i] = c
	}
	return out
}

// newMiningNode is a regtest node with no network whose blocks pay
// miner, closed when the test ends.
func newMiningNode(t *testing.T, miner string) *Node {
	t.Helper()
	n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir(), MinerAddress: miner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestAdmissionPrecheckedBeforeSignature: a transaction offered one at a
// time (the API, a wallet, the pool restored at start) that the pool
// holds already, or restored past the pending TTL, is refused before
// its signature is looked at, in protocol.md 11.1's order: before, each
// cost a verification, or a cache lookup while the cache held it.
func TestAdmissionPrecheckedBeforeSignature(t *testing.T) {
	alice := testwallet.New("alice")
	n := newMiningNode(t, alice.Addr)
	in, p, ctx := n.intake, n.chain.Params(), context.Background()
	if _, err := n.miner.mineOne(ctx); err != nil {
		t.Fatal(err)
	}
	fee := n.mempool.MinFee(300)
	pooled := alice.Tx(p, testwallet.New("bob").Addr, 1, fee, 0)
	if err := in.admit(ctx, pooled, OriginAPI, time.Time{}); err != nil {
		t.Fatal(err)
	}
	stale := alice.Tx(p, testwallet.New("carol").Addr, 1, fee, 1)
	for _, tc := range []struct {
		name  string
		offer func() error
		want  error
	}{
		// Not as the node's own: one of those may adopt a peer's copy,
		// which the pool decides under its lock.
		{"held already", func() error { return in.restoreTx(pooled, time.Time{}, false) }, chain.ErrTxInPool},
		{"restored past the TTL", func() error {
			return in.restoreTx(stale, time.Now().Add(-365*24*time.Hour), false)
		}, chain.ErrTxExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.chain.SigCache().Stats()
			if err := tc.offer(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			after := n.chain.SigCache().Stats()
			if looked := after.Verifies + after.Hits - before.Verifies - before.Hits; looked != 0 {
				t.Fatalf("%d signatures verified or looked up to refuse it, want 0", looked)
			}
		})
	}
}
