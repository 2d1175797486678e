package protocol

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/gossipchain/gossipchain/chain"
)

// The blocktxn protocol (protocol.md §16.7): a node that could not
// rebuild a compact block from its mempool asks the peer that gossiped it
// for the transactions it lacks. One request and one response per
// stream, each delimited by the end of its side of the stream: the
// client writes its request and closes its write side; the server writes
// its answer, or nothing if it does not have the block, and closes.

// BlockTxnRequest asks for transactions of a block by index.
type BlockTxnRequest struct {
	Block chain.Hash
	// Indexes are strictly increasing, each below chain.MaxBlockTxs, at
	// least one.
	Indexes []int
}

// BlockTxnResponse carries the transactions asked for, in the order of
// the request's indexes.
type BlockTxnResponse struct {
	Block chain.Hash
	Txs   []*chain.Transaction
}

// Encode returns the request's wire form: the block hash, the count as a
// minimal varint, then each index as a varint difference from the one
// after the index before (the first from 0), as a compact block's
// prefilled indexes.
func (r *BlockTxnRequest) Encode() []byte {
	out := make([]byte, 0, chain.HashSize+binary.MaxVarintLen16*(1+len(r.Indexes)))
	out = append(out, r.Block[:]...)
	out = binary.AppendUvarint(out, uint64(len(r.Indexes)))
	next := 0
	for _, i := range r.Indexes {
		out = binary.AppendUvarint(out, uint64(i-next))
		next = i + 1
	}
	return out
}

// DecodeBlockTxnRequest reads a request; b must hold exactly one. Errors
// wrap ErrBadMessage.
func DecodeBlockTxnRequest(b []byte) (*BlockTxnRequest, error) {
	if len(b) > MaxBlockTxnRequestSize {
		return nil, badMessage("blocktxn request of %d bytes, limit %d", len(b), MaxBlockTxnRequestSize)
	}
	if len(b) < chain.HashSize {
		return nil, badMessage("blocktxn request of %d bytes, shorter than a hash", len(b))
	}
	r := &BlockTxnRequest{Block: chain.Hash(b[:chain.HashSize])}
	n, rest, err := minimalUvarint(b[chain.HashSize:], "index count")
	if err != nil {
		return nil, err
	}
	// Every index takes at least a byte.
	if n == 0 || n > chain.MaxBlockTxs-1 || n > uint64(len(rest)) {
		return nil, badMessage("%d indexes in %d bytes (1 to %d)", n, len(rest), chain.MaxBlockTxs-1)
	}
	r.Indexes = make([]int, 0, n)
	next := uint64(0)
	for range n {
		var d uint64
		if d, rest, err = minimalUvarint(rest, "index"); err != nil {
			return nil, err
		}
		if d >= chain.MaxBlockTxs || next+d >= chain.MaxBlockTxs {
			return nil, badMessage("index past a block's %d transactions", chain.MaxBlockTxs)
		}
		r.Indexes = append(r.Indexes, int(next+d))
		next += d + 1
	}
	if len(rest) != 0 {
		return nil, badMessage("%d bytes after the blocktxn request", len(rest))
	}
	return r, nil
}

// Encode returns the response's wire form: the block hash, the count as
// a minimal varint, then the transactions' canonical encodings.
func (r *BlockTxnResponse) Encode() []byte {
	size := chain.HashSize + binary.MaxVarintLen16
	for _, tx := range r.Txs {
		size += tx.EncodedSize()
	}
	out := make([]byte, 0, size)
	out = append(out, r.Block[:]...)
	out = binary.AppendUvarint(out, uint64(len(r.Txs)))
	for _, tx := range r.Txs {
		out = tx.AppendEncode(out)
	}
	return out
}

// DecodeBlockTxnResponse reads the answer to req; b must hold exactly
// one. An answer for another block or with another count than asked is
// ErrUnrequested; whether each transaction is the one asked for is the
// caller's to check against the compact block's short ids. Errors wrap
// ErrBadMessage.
func DecodeBlockTxnResponse(b []byte, req *BlockTxnRequest) (*BlockTxnResponse, error) {
	if len(b) > MaxBlockTxnResponseSize {
		return nil, badMessage("blocktxn response of %d bytes, limit %d", len(b), MaxBlockTxnResponseSize)
	}
	if len(b) < chain.HashSize {
		return nil, badMessage("blocktxn response of %d bytes, shorter than a hash", len(b))
	}
	r := &BlockTxnResponse{Block: chain.Hash(b[:chain.HashSize])}
	if r.Block != req.Block {
		return nil, unrequested("transactions of block %s, asked for %s", r.Block.Short(), req.Block.Short())
	}
	n, rest, err := minimalUvarint(b[chain.HashSize:], "transaction count")
	if err != nil {
		return nil, err
	}
	if n != uint64(len(req.Indexes)) {
		return nil, unrequested("%d transactions, asked for %d", n, len(req.Indexes))
	}
	r.Txs = make([]*chain.Transaction, 0, n)
	for i := range n {
		tx, used, err := chain.DecodeTransaction(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: transaction %d: %w", ErrBadMessage, i, err)
		}
		r.Txs = append(r.Txs, tx)
		rest = rest[used:]
	}
	if len(rest) != 0 {
		return nil, badMessage("%d bytes after the blocktxn response", len(rest))
	}
	return r, nil
}

// BlockTxnAnswerBound is the most bytes an answer to a request for n
// transactions may hold: the block hash, the count, and n transactions
// of at most chain.MaxTxSize each, within MaxBlockTxnResponseSize. An
// asker reserves and reads no more: a longer answer cannot be a right
// one.
func BlockTxnAnswerBound(n int) int {
	if n <= 0 {
		return chain.HashSize + binary.MaxVarintLen16
	}
	if n >= (MaxBlockTxnResponseSize-chain.HashSize-binary.MaxVarintLen16)/chain.MaxTxSize {
		return MaxBlockTxnResponseSize
	}
	return chain.HashSize + binary.MaxVarintLen16 + n*chain.MaxTxSize
}

// ReadToEnd reads what a peer writes until it closes its side of the
// stream, refusing more than limit bytes. The buffer grows only as bytes
// arrive. A message over the limit wraps ErrBadMessage and
// ErrMessageTooLarge; errors of the stream pass through.
func ReadToEnd(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%w: %w: more than %d bytes", ErrBadMessage, ErrMessageTooLarge, limit)
	}
	return b, nil
}
