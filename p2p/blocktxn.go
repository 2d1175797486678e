package p2p

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// The blocktxn protocol (protocol.md §16.7): the peer that gossiped us a
// compact block is asked for the transactions we could not find in our
// mempool. Every node serves it for the blocks it has stored: a node
// publishes or forwards a compact block only once it has connected the
// block, so whoever sent one can answer for it.

// blockTxnService names the blocktxn streams to the resource manager.
const blockTxnService = "gossipchain.blocktxn"

// errNotServed: the peer closed the stream without an answer (it lacks
// the block, or our allowance with it ran out).
var errNotServed = errors.New("peer sent no answer")

// errWrongTxs: an answer whose transactions are not those the compact
// block's short ids name. Only the peer that sent both can be wrong.
var errWrongTxs = errors.New("transactions do not match the compact block's short ids")

// handleBlockTxn serves one request: read it within its deadline, charge
// the peer's allowance, answer from the stored block, close. A request
// we cannot or will not answer (unknown block, index past its end, over
// the allowance) is closed without an answer: the client then fetches
// the block whole from someone. A malformed request resets the stream.
func (g *Gossip) handleBlockTxn(st network.Stream) {
	defer st.Close()
	p := st.Conn().RemotePeer()
	if err := st.Scope().SetService(blockTxnService); err != nil {
		_ = st.Reset()
		return
	}
	if err := st.Scope().ReserveMemory(protocol.MaxBlockTxnRequestSize, network.ReservationPriorityAlways); err != nil {
		_ = st.Reset()
		return
	}
	defer st.Scope().ReleaseMemory(protocol.MaxBlockTxnRequestSize)
	limits, ok := g.serveAllowance(p)
	if !ok {
		_ = st.Reset()
		return
	}
	now := limits.now
	lim := limits.peer(p)
	if !lim.requests.AllowN(now(), 1) {
		return // nothing, and a close (protocol.md §16.7): not a fault
	}
	_ = st.SetReadDeadline(time.Now().Add(protocol.RequestReadTimeout))
	data, err := protocol.ReadToEnd(st, protocol.MaxBlockTxnRequestSize)
	if err != nil {
		g.log.Debug("blocktxn request unread", "peer", p, "reason", err)
		_ = st.Reset()
		return
	}
	req, err := protocol.DecodeBlockTxnRequest(data)
	if err != nil {
		g.log.Debug("blocktxn request refused", "peer", p, "reason", err)
		_ = st.Reset()
		return
	}
	// One store read of a block per request, as a GetBlocks hash, and
	// its bytes charged as GetBlocks charges them, before the block is
	// decoded: a request of a few bytes for one transaction must not buy
	// a whole block's read and decoding for the price of its answer.
	if !lim.blocks.AllowN(now(), 1) {
		return
	}
	b, ok := g.servedBlock(lim, now, req.Block)
	if !ok {
		return
	}
	resp := &protocol.BlockTxnResponse{Block: req.Block, Txs: make([]*chain.Transaction, 0, len(req.Indexes))}
	for _, i := range req.Indexes {
		if i >= len(b.Transactions) {
			return
		}
		resp.Txs = append(resp.Txs, b.Transactions[i])
	}
	out := resp.Encode() // no larger than the block, charged above
	// Held until written: reserved as the request's bytes were, and
	// written within the time the asker waits for it (BlockTxnTimeout),
	// not the time its size would take at the slowest rate: a peer that
	// never reads must not hold half a megabyte here for 13 s.
	if err := st.Scope().ReserveMemory(len(out), network.ReservationPriorityAlways); err != nil {
		_ = st.Reset()
		return
	}
	defer st.Scope().ReleaseMemory(len(out))
	_ = st.SetWriteDeadline(time.Now().Add(protocol.BlockTxnTimeout))
	if _, err := st.Write(out); err != nil {
		_ = st.Reset()
		return
	}
	g.compactStats.served.Add(1)
}

// servedBlock returns the block h for a blocktxn answer, its bytes
// charged to lim first, or false (not held, or not covered). A stored
// block is read as bytes, charged, and only then decoded. One still being
// committed (the usual case: a peer asks right after the compact block,
// which is forwarded before the commit ends) is in memory, and charged
// its encoded size without an encoding.
func (g *Gossip) servedBlock(lim *serveLimits, now func() time.Time, h chain.Hash) (*chain.Block, bool) {
	if !g.chain.Stored(h) {
		b, err := g.chain.Block(h)
		if err != nil || !lim.bytes.AllowN(now(), b.EncodedSize()) {
			return nil, false
		}
		return b, true
	}
	raw, err := g.chain.BlockBytes(h)
	if err != nil || !lim.bytes.AllowN(now(), len(raw)) {
		return nil, false
	}
	b, err := chain.DecodeBlock(raw)
	return b, err == nil
}

// serveAllowance returns the table p's requests are charged to, and
// false for a peer the syncer has banned. Gossip's server shares the
// syncer's per-peer allowances and bans (protocol.md §16.7): a peer that
// spent its allowance on GetBlocks must not read the same store again
// through blocktxn, and a peer banned for invalid data is refused here
// too. A Gossip built beside no Syncer (tests) keeps a table of its own.
func (g *Gossip) serveAllowance(p peer.ID) (*limitTable, bool) {
	if s, ok := g.sync.(*Syncer); ok {
		return s.serveLimits(), !s.bans.Banned(p)
	}
	return g.limits, true
}

// requestTxns asks p, within protocol.BlockTxnTimeout, for the
// transactions of block h at the given indexes and returns them in that
// order. Whether they are the right ones is the caller's to check.
func (g *Gossip) requestTxns(ctx context.Context, p peer.ID, h chain.Hash, indexes []int) ([]*chain.Transaction, error) {
	ctx, cancel := context.WithTimeout(ctx, g.txnWait)
	defer cancel()
	st, err := g.host.NewStream(ctx, p, g.blockTxnProto)
	if err != nil {
		return nil, fmt.Errorf("open blocktxn stream: %w", err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	// The answer, read whole, is reserved before it is asked for, as the
	// server reserves it before writing it: under the service's name, so
	// the resource manager sees what the waits on senders (two at a time)
	// hold. As much as the transactions asked for can take, not the
	// largest answer (half a megabyte): a 1 KiB block missing one
	// transaction held that much, and under memory pressure was refused
	// for it.
	if err := st.Scope().SetService(blockTxnService); err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("blocktxn stream: %w", err)
	}
	bound := protocol.BlockTxnAnswerBound(len(indexes))
	if err := st.Scope().ReserveMemory(bound, network.ReservationPriorityAlways); err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("reserve blocktxn answer: %w", err)
	}
	defer st.Scope().ReleaseMemory(bound)
	req := &protocol.BlockTxnRequest{Block: h, Indexes: indexes}
	if _, err := st.Write(req.Encode()); err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("write blocktxn request: %w", err)
	}
	if err := st.CloseWrite(); err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("close write: %w", err)
	}
	data, err := protocol.ReadToEnd(st, bound)
	if err != nil {
		_ = st.Reset()
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return nil, fmt.Errorf("read blocktxn answer: %w", err)
	}
	if len(data) == 0 {
		return nil, errNotServed
	}
	resp, err := protocol.DecodeBlockTxnResponse(data, req)
	if err != nil {
		return nil, err
	}
	return resp.Txs, nil
}
