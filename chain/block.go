package chain

import (
	"encoding/binary"
	"fmt"
)

// Consensus limits on blocks, the same on every network. Gossip and sync
// message limits in package protocol are set above these.
const (
	// MaxBlockSize is the largest encoded block: 512 KiB, half of
	// GossipSub's usual 1 MiB message limit.
	MaxBlockSize = 512 << 10
	// MaxBlockTxs is the most transactions in one block, coinbase included.
	MaxBlockTxs = 4096
)

// Block is a header and its transactions, the coinbase first.
type Block struct {
	Header       Header
	Transactions []*Transaction
}

// Hash returns the block hash, the hash of its header.
func (b *Block) Hash() Hash { return b.Header.Hash() }

// EncodedSize returns the length of the canonical encoding.
func (b *Block) EncodedSize() int {
	n := HeaderSize + uvarintLen(uint64(len(b.Transactions)))
	for _, tx := range b.Transactions {
		n += tx.EncodedSize()
	}
	return n
}

// Encode returns the canonical block encoding: the 96-byte header, the
// transaction count as an unsigned varint (LEB128, as encoding/binary), then
// each transaction's canonical encoding.
func (b *Block) Encode() []byte {
	return b.AppendEncode(make([]byte, 0, b.EncodedSize()))
}

// AppendEncode appends the canonical block encoding to dst: the store
// writes it straight into its record instead of copying an Encode.
func (b *Block) AppendEncode(dst []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	b.Header.encodeTo(dst[n:])
	dst = binary.AppendUvarint(dst, uint64(len(b.Transactions)))
	for _, tx := range b.Transactions {
		dst = tx.AppendEncode(dst)
	}
	return dst
}

// DecodeBlock reads a canonical block; b must hold exactly one. The size
// and the claimed transaction count are checked before any allocation.
func DecodeBlock(b []byte) (*Block, error) {
	if len(b) > MaxBlockSize {
		return nil, ruleError(ErrBlockTooBig, "block is %d bytes, limit %d", len(b), MaxBlockSize)
	}
	if len(b) < HeaderSize {
		return nil, ruleError(ErrMalformed, "block is %d bytes, shorter than a header", len(b))
	}
	hdr, err := DecodeHeader(b[:HeaderSize])
	if err != nil {
		return nil, err
	}
	rest := b[HeaderSize:]
	n, vl := binary.Uvarint(rest)
	if vl <= 0 || vl != uvarintLen(n) {
		// A padded varint would give one block two encodings.
		return nil, ruleError(ErrMalformed, "bad or non-minimal transaction count varint")
	}
	rest = rest[vl:]
	if n > MaxBlockTxs {
		return nil, ruleError(ErrTooManyTxs, "%d transactions, limit %d", n, MaxBlockTxs)
	}
	if n > uint64(len(rest)/minTxSize) {
		return nil, ruleError(ErrMalformed, "%d transactions cannot fit in %d bytes", n, len(rest))
	}
	blk := &Block{Header: hdr, Transactions: make([]*Transaction, 0, n)}
	for i := uint64(0); i < n; i++ {
		tx, used, err := DecodeTransaction(rest)
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		blk.Transactions = append(blk.Transactions, tx)
		rest = rest[used:]
	}
	if len(rest) != 0 {
		return nil, ruleError(ErrMalformed, "%d trailing bytes after the last transaction", len(rest))
	}
	return blk, nil
}

func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}
