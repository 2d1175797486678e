package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/dchest/siphash"

	"github.com/gossipchain/gossipchain/chain"
)

// Compact blocks (protocol.md §16.6), after Bitcoin's BIP152: the block
// topic carries a block's header, a nonce, a short id for each
// transaction the receiver probably holds in its mempool already, and the
// others in full ("prefilled"), the coinbase always among them. A 100 KiB
// block of 454 transfers is about 2.9 KB this way.

const (
	// ShortIDSize is the length of a short transaction id on the wire:
	// the low 48 bits of a SipHash-2-4, as BIP152. With m transactions in
	// a mempool and n in a block, a false match is expected about once in
	// 2^48 / (m·n) blocks: once in 14 million (two years of 5-second
	// blocks) at m = 5,000 and n = 4,096. It costs one whole-block fetch,
	// never a wrong verdict: the merkle root decides (protocol.md §16.6.3).
	ShortIDSize = 6

	// shortIDMask keeps the 48 bits a short id has.
	shortIDMask = 1<<(8*ShortIDSize) - 1

	// minPrefilledSize is the smallest prefilled entry: a one-byte index
	// varint and the smallest transaction (chain's minTxSize, 31 bytes:
	// one-byte names, no key, no signature). It bounds the count a
	// message may claim for the bytes it has.
	minPrefilledSize = 1 + 31
)

// CompactBlock is a block as the block topic carries it.
type CompactBlock struct {
	Header chain.Header
	// Nonce keys the short ids together with the header (ShortIDKeys).
	Nonce uint64
	// ShortIDs are those of the transactions not prefilled, in block
	// order, each below 2^48.
	ShortIDs []uint64
	// Prefilled are the transactions sent whole, by increasing index;
	// the first is the coinbase, at index 0.
	Prefilled []PrefilledTx
}

// PrefilledTx is a transaction a compact block carries whole, with its
// index in the block.
type PrefilledTx struct {
	Index int
	Tx    *chain.Transaction
}

// ShortIDKeys derives the SipHash key of a compact block's short ids:
// the first 16 bytes of SHA-256(header ‖ nonce as 8 bytes little-endian),
// read as two little-endian words. Keyed by the block, an attacker cannot
// grind transactions that collide in every block; keyed by the nonce too,
// the block's maker can pick fresh keys if a collision came up.
func ShortIDKeys(h *chain.Header, nonce uint64) (k0, k1 uint64) {
	var buf [chain.HeaderSize + 8]byte
	enc := h.Encode()
	copy(buf[:], enc[:])
	binary.LittleEndian.PutUint64(buf[chain.HeaderSize:], nonce)
	sum := sha256.Sum256(buf[:])
	return binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])
}

// ShortID is the short id of the transaction with id id under the keys
// of ShortIDKeys: the low 48 bits of SipHash-2-4(k0, k1, id).
func ShortID(k0, k1 uint64, id chain.Hash) uint64 {
	return siphash.Hash(k0, k1, id[:]) & shortIDMask
}

// NewCompactBlock describes b with the given nonce, sending whole the
// coinbase and every transaction for which prefill(i) is true (prefill
// may be nil).
func NewCompactBlock(b *chain.Block, nonce uint64, prefill func(i int) bool) *CompactBlock {
	return NewCompactBlockIDs(b, nil, nonce, prefill)
}

// NewCompactBlockIDs is NewCompactBlock for a caller that has the ids of
// b's transactions already (ids[i] is b.Transactions[i]'s), so they are
// not hashed again; with ids nil they are.
func NewCompactBlockIDs(b *chain.Block, ids []chain.Hash, nonce uint64, prefill func(i int) bool) *CompactBlock {
	c := &CompactBlock{Header: b.Header, Nonce: nonce}
	k0, k1 := ShortIDKeys(&b.Header, nonce)
	for i, tx := range b.Transactions {
		if i == 0 || (prefill != nil && prefill(i)) {
			c.Prefilled = append(c.Prefilled, PrefilledTx{Index: i, Tx: tx})
			continue
		}
		var id chain.Hash
		if ids != nil {
			id = ids[i]
		} else {
			id = tx.ID()
		}
		c.ShortIDs = append(c.ShortIDs, ShortID(k0, k1, id))
	}
	return c
}

// TxCount is the number of transactions of the block described.
func (c *CompactBlock) TxCount() int { return len(c.ShortIDs) + len(c.Prefilled) }

// Encode returns the wire form (protocol.md §16.6): header, nonce, the
// short ids with their count, then the prefilled transactions with
// theirs, each after its index as a difference from the one before.
func (c *CompactBlock) Encode() []byte {
	out := make([]byte, chain.HeaderSize, chain.HeaderSize+8+binary.MaxVarintLen16+ShortIDSize*len(c.ShortIDs))
	enc := c.Header.Encode()
	copy(out, enc[:])
	out = binary.LittleEndian.AppendUint64(out, c.Nonce)
	out = binary.AppendUvarint(out, uint64(len(c.ShortIDs)))
	for _, s := range c.ShortIDs {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], s)
		out = append(out, b[:ShortIDSize]...)
	}
	out = binary.AppendUvarint(out, uint64(len(c.Prefilled)))
	next := 0
	for _, p := range c.Prefilled {
		out = binary.AppendUvarint(out, uint64(p.Index-next))
		out = p.Tx.AppendEncode(out)
		next = p.Index + 1
	}
	return out
}

// DecodeCompactBlock reads one compact block; data must hold exactly
// one. Every count is checked against the bytes left before anything is
// allocated for it. Errors wrap ErrBadMessage (and chain's decoder errors
// for a transaction or the header).
func DecodeCompactBlock(data []byte) (*CompactBlock, error) {
	if len(data) > MaxBlockMessageSize {
		return nil, badMessage("compact block of %d bytes, limit %d", len(data), MaxBlockMessageSize)
	}
	if len(data) < chain.HeaderSize+8 {
		return nil, badMessage("compact block of %d bytes, shorter than a header and nonce", len(data))
	}
	hdr, err := chain.DecodeHeader(data[:chain.HeaderSize])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	c := &CompactBlock{Header: hdr, Nonce: binary.LittleEndian.Uint64(data[chain.HeaderSize:])}
	rest := data[chain.HeaderSize+8:]

	s, rest, err := minimalUvarint(rest, "short id count")
	if err != nil {
		return nil, err
	}
	if s > chain.MaxBlockTxs-1 || s > uint64(len(rest)/ShortIDSize) {
		return nil, badMessage("%d short ids in %d bytes (at most %d)", s, len(rest), chain.MaxBlockTxs-1)
	}
	c.ShortIDs = make([]uint64, s)
	for i := range c.ShortIDs {
		var b [8]byte
		copy(b[:], rest[:ShortIDSize])
		c.ShortIDs[i] = binary.LittleEndian.Uint64(b[:])
		rest = rest[ShortIDSize:]
	}

	p, rest, err := minimalUvarint(rest, "prefilled count")
	if err != nil {
		return nil, err
	}
	if p == 0 || p > chain.MaxBlockTxs-s || p > uint64(len(rest)/minPrefilledSize) {
		return nil, badMessage("%d prefilled transactions after %d short ids in %d bytes", p, s, len(rest))
	}
	n := int(s + p)
	c.Prefilled = make([]PrefilledTx, 0, p)
	next := uint64(0)
	for i := range p {
		var d uint64
		if d, rest, err = minimalUvarint(rest, "prefilled index"); err != nil {
			return nil, err
		}
		if d >= uint64(n) || next+d >= uint64(n) {
			return nil, badMessage("prefilled transaction %d at an index past the block's %d", i, n)
		}
		idx := next + d
		if i == 0 && idx != 0 {
			return nil, badMessage("the coinbase (index 0) is not prefilled")
		}
		tx, used, err := chain.DecodeTransaction(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: prefilled transaction %d: %w", ErrBadMessage, i, err)
		}
		rest = rest[used:]
		c.Prefilled = append(c.Prefilled, PrefilledTx{Index: int(idx), Tx: tx})
		next = idx + 1
	}
	if len(rest) != 0 {
		return nil, badMessage("%d bytes after the compact block", len(rest))
	}
	return c, nil
}

// minimalUvarint reads an unsigned LEB128 varint from the front of b,
// refusing a truncated, overflowing or padded one: each message has one
// encoding, so one gossip message id.
func minimalUvarint(b []byte, what string) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n != varintLen(v) {
		return 0, nil, badMessage("bad or non-minimal %s varint", what)
	}
	return v, b[n:], nil
}

func varintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}

// Matches reports whether c describes b exactly: the same header, each
// prefilled transaction at its index, and each other transaction's short
// id in its place. A block fetched whole after a compact block failed to
// rebuild tells this way whether the compact block was honest.
func (c *CompactBlock) Matches(b *chain.Block) bool {
	if c.Header != b.Header || c.TxCount() != len(b.Transactions) {
		return false
	}
	k0, k1 := ShortIDKeys(&c.Header, c.Nonce)
	pi, si := 0, 0
	for i, tx := range b.Transactions {
		if pi < len(c.Prefilled) && c.Prefilled[pi].Index == i {
			if c.Prefilled[pi].Tx.ID() != tx.ID() {
				return false
			}
			pi++
			continue
		}
		if si >= len(c.ShortIDs) || c.ShortIDs[si] != ShortID(k0, k1, tx.ID()) {
			return false
		}
		si++
	}
	return true
}
