package p2p

import (
	"testing"

	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/protocol"
)

// TestRebuildShortIDCollision: the receiver's mempool holds a
// transaction X whose short id is the one a compact block gives for the
// place where its header commits to another transaction Y. Seen from the
// receiver, that is all a real collision is (one between two ids cannot
// be made in a test: 48 bits under keys drawn per publication), so the
// compact block is built with X's short id in Y's place. The rebuild
// puts X there, under the id the pool holds it by; the digest takes that
// id, so the merkle root is not the header's and the block is not taken
// as rebuilt (the receiver then fetches it whole: TestCompactCollision).
func TestRebuildShortIDCollision(t *testing.T) {
	f := newHopFixture(t, 4)
	p := f.c.Params()
	pool := f.g.chain.(poolChain).mp
	// Sender 0's second transfer: in the pool, not in the block.
	x := testwallet.New("hop sender 0").Tx(p, testwallet.New("hop sender 1").Addr, 1, 0, 1)
	if err := pool.Add(x, f.c); err != nil {
		t.Fatal(err)
	}

	c, err := protocol.DecodeCompactBlock(f.compact)
	if err != nil {
		t.Fatal(err)
	}
	// The block as sent: rebuilt whole from the pool, its root the
	// header's (the fixture is sound, so what follows can fail).
	if _, d, ok := f.g.newRebuild(c).block(f.g.chain); !ok || d.Root() != c.Header.MerkleRoot {
		t.Fatal("the compact block as sent was not rebuilt from the pool")
	}

	const place = 2 // Y: a transfer; the coinbase at 0 is prefilled
	k0, k1 := protocol.ShortIDKeys(&c.Header, c.Nonce)
	si := place - 1
	if c.TxCount() != len(f.block.Transactions) || len(c.Prefilled) != 1 ||
		c.ShortIDs[si] != protocol.ShortID(k0, k1, f.block.Transactions[place].ID()) {
		t.Fatalf("the compact block's short id %d is not the transfer at place %d", si, place)
	}
	c.ShortIDs[si] = protocol.ShortID(k0, k1, x.ID())

	r := f.g.newRebuild(c)
	if r.txs[place] != x || r.ids[place] != x.ID() {
		t.Fatalf("place %d holds %v under %s; want the pool's X under its own id %s",
			place, r.txs[place], r.ids[place].Short(), x.ID().Short())
	}
	if len(r.missing()) != 0 {
		t.Fatalf("places %v missing; want every place filled", r.missing())
	}
	_, d, ok := r.block(f.g.chain)
	if ok {
		t.Fatal("the block with X in Y's place was taken as rebuilt")
	}
	if got := d.IDs()[place]; got != x.ID() {
		t.Fatalf("the digest's id at place %d is %s; want X's %s", place, got.Short(), x.ID().Short())
	}
	if d.Root() == c.Header.MerkleRoot {
		t.Fatal("the digest's root is the header's")
	}
}
