package protocol

import (
	"encoding/binary"

	"github.com/gossipchain/gossipchain/chain"
)

// The transaction topic carries batches (protocol.md §16.9): one message
// holds up to MaxTxBatchTxs transactions, so GossipSub's cost per
// message (an RPC, a frame on each connection, a message id, a seen-cache
// entry, and in a mesh of d peers about d² sends) is paid once per batch
// instead of once per transaction.
//
// The form is the count of transactions as a minimal varint, then each
// transaction as its length (a minimal varint) followed by its canonical
// encoding. The lengths let a receiver read each transaction's fee
// (chain.PeekFee) before decoding any of them, as it did when a message
// was one transaction.

// TxBatch collects transaction encodings within the batch bounds and
// encodes them as one message. The zero value is an empty batch.
type TxBatch struct {
	txs  [][]byte
	size int // the encoding's length without the count
}

// Len is the number of transactions in the batch.
func (b *TxBatch) Len() int { return len(b.txs) }

// Fits reports whether enc, one transaction's encoding, can join the
// batch without taking it past MaxTxBatchTxs or MaxTxBatchSize.
func (b *TxBatch) Fits(enc []byte) bool {
	n := len(b.txs) + 1
	return n <= MaxTxBatchTxs && varintLen(uint64(n))+b.size+entrySize(enc) <= MaxTxBatchSize
}

// Add appends enc, which must fit (Fits) and must not change afterwards.
func (b *TxBatch) Add(enc []byte) {
	b.txs = append(b.txs, enc)
	b.size += entrySize(enc)
}

// Full reports whether no transaction at all could join the batch.
func (b *TxBatch) Full() bool {
	return len(b.txs) >= MaxTxBatchTxs || varintLen(uint64(len(b.txs)+1))+b.size+1+minTxSize > MaxTxBatchSize
}

// Take returns the batch's wire form and empties the batch.
func (b *TxBatch) Take() []byte {
	out := make([]byte, 0, binary.MaxVarintLen16+b.size)
	out = binary.AppendUvarint(out, uint64(len(b.txs)))
	for _, enc := range b.txs {
		out = binary.AppendUvarint(out, uint64(len(enc)))
		out = append(out, enc...)
	}
	b.txs, b.size = nil, 0
	return out
}

func entrySize(enc []byte) int { return varintLen(uint64(len(enc))) + len(enc) }

// minTxSize is the shortest transaction encoding (chain's minimum: one-
// byte names, no key, no signature), so a batch's count is checked
// against the bytes that follow before anything is allocated for it.
const minTxSize = 1 + 2*(1+1) + 3*8 + 1 + 1

// SplitTxBatch reads a batch's framing and returns each transaction's
// bytes, in order, without decoding them: the caller reads fees first
// (chain.PeekFee) and decodes each with chain.DecodeTransaction, which
// must consume it exactly. The slices alias b. Errors wrap ErrBadMessage.
func SplitTxBatch(b []byte) ([][]byte, error) {
	if len(b) > MaxTxBatchSize {
		return nil, badMessage("transaction batch of %d bytes, limit %d", len(b), MaxTxBatchSize)
	}
	n, rest, err := minimalUvarint(b, "transaction count")
	if err != nil {
		return nil, err
	}
	if n == 0 || n > MaxTxBatchTxs || n > uint64(len(rest)/(1+minTxSize)) {
		return nil, badMessage("%d transactions in %d bytes (1 to %d)", n, len(rest), MaxTxBatchTxs)
	}
	out := make([][]byte, 0, n)
	for i := range n {
		var size uint64
		if size, rest, err = minimalUvarint(rest, "transaction length"); err != nil {
			return nil, err
		}
		if size < minTxSize || size > chain.MaxTxSize || size > uint64(len(rest)) {
			return nil, badMessage("transaction %d of %d bytes, %d left (%d to %d)", i, size, len(rest), minTxSize, chain.MaxTxSize)
		}
		out = append(out, rest[:size])
		rest = rest[size:]
	}
	if len(rest) != 0 {
		return nil, badMessage("%d bytes after the transaction batch", len(rest))
	}
	return out, nil
}
