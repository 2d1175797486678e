package p2p_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// undecodedChain serves blocks only as stored bytes: a server that
// decodes a block to send it fails here.
type undecodedChain struct{ *testChain }

func (undecodedChain) Block(h chain.Hash) (*chain.Block, error) {
	return nil, errors.New("the sync server must not decode a stored block")
}

// TestSyncServesStoredBytes: a GetBlocks answer carries each block's
// encoding exactly as the store holds it, read without decoding it.
func TestSyncServesStoredBytes(t *testing.T) {
	c := newTestChain(t)
	blocks := mineBlocks(t, c, testwallet.New("miner").Addr, 20)
	h := newHost(t)
	s := p2p.NewSyncer(context.Background(), h, undecodedChain{c}, p2p.NewGater(), p2p.WithSyncLogger(testLogger(t)))
	t.Cleanup(s.Close)
	client := newSyncNode(t).h
	connect(t, client, h)

	hashes := make([]chain.Hash, len(blocks))
	for i, b := range blocks {
		hashes[i] = b.Hash()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := client.NewStream(ctx, h.ID(), lpprotocol.ID(protocol.SyncProtocol(c.Params().NetworkID())))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := protocol.NewWriter(st).WriteRequest(protocol.GetBlocksRequest(hashes)); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseWrite()
	r := protocol.NewReader(st)
	for i, b := range blocks {
		resp, err := r.ReadResponse()
		if err != nil {
			t.Fatalf("block %d of %d: %v", i, len(blocks), err)
		}
		if got := resp.GetBlock().GetBlock(); !bytes.Equal(got, b.Encode()) {
			t.Fatalf("block %d: served %d bytes that are not its encoding (%v)", i, len(got), resp)
		}
	}
	if _, err := r.ReadResponse(); err != io.EOF {
		t.Fatalf("after the last block: %v, want the end of the answer", err)
	}
}

// bodyDamagedStore is a real store whose record of one block has a byte
// past the header flipped: damage the server's header check does not see.
type bodyDamagedStore struct {
	chain.Store
	damaged chain.Hash
}

func (s *bodyDamagedStore) BlockBytes(h chain.Hash) ([]byte, error) {
	b, err := s.Store.BlockBytes(h)
	if err == nil && h == s.damaged {
		b[len(b)-1] ^= 1
	}
	return b, err
}

// TestSyncCorruptStoredBody: a block served from a damaged record is
// refused by the client's validation (the body no longer matches the
// header's merkle root, or no longer decodes): the client stops below
// it, its download from that server fails, and nothing of the damaged
// block reaches its chain.
func TestSyncCorruptStoredBody(t *testing.T) {
	st, err := store.OpenDir(t.TempDir(), store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	ds := &bodyDamagedStore{Store: st}
	server := &syncNode{h: newHost(t), c: newTestChainOn(t, chain.RegTest(), ds)}
	server.s = p2p.NewSyncer(context.Background(), server.h, server.c, p2p.NewGater(), p2p.WithSyncLogger(testLogger(t)))
	t.Cleanup(server.s.Close)
	blocks := mineBlocks(t, server.c, testwallet.New("miner").Addr, 30)
	const bad = 17
	ds.damaged = blocks[bad].Hash()

	events := &syncEvents{}
	client := &syncNode{h: newHost(t), c: newTestChain(t)}
	client.s = p2p.NewSyncer(context.Background(), client.h, client.c, p2p.NewGater(),
		p2p.WithSyncNotify(events.add), p2p.WithSyncLogger(testLogger(t)))
	t.Cleanup(client.s.Close)
	connect(t, client.h, server.h)
	ev := events.waitFailed(t, server.h, 30*time.Second)
	t.Logf("the download: %v", ev.Err)
	if got := client.c.Tip().Height(); got >= blocks[bad].Header.Height {
		t.Fatalf("client tip at height %d, at or past the damaged block's %d", got, blocks[bad].Header.Height)
	}
	if client.c.Stored(blocks[bad].Hash()) {
		t.Fatal("the damaged block's hash is stored")
	}
}
