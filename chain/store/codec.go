package store

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/gossipchain/gossipchain/chain"
)

// Record encodings. Every decoder checks lengths before it reads or
// allocates and reports ErrCorrupt; no input makes it panic.

// Record sizes and limits.
const (
	workSize       = 32                    // 256 bits: more than any chain can hold
	indexFixed     = heightKeySize + 1     // height | status, then the work
	maxIndexSize   = indexFixed + workSize // the work's bytes are at most 32
	accountSize    = 16                    // balance int64 | nonce uint64
	heightKeySize  = 8                     // uint64
	blockKeySize   = heightKeySize + chain.HashSize
	undoHeaderSize = 4                     // entry count uint32
	undoMinEntry   = 1 + 1 + accountSize   // length byte, a 1-byte address, account
	maxUndoEntries = 2 * chain.MaxBlockTxs // each tx touches a sender and a recipient
	maxAddressLen  = chain.MaxNameLen      // longest sender or recipient
	maxUndoSize    = undoHeaderSize + maxUndoEntries*(1+maxAddressLen+accountSize)
)

// indexRecord is what the metas bucket keeps of a block under its hash:
// where its records are filed (its height) and what validation found.
// The header, size and transaction count come from the block record.
type indexRecord struct {
	height uint64
	status chain.Status
	work   []byte // big-endian, no leading zeros
}

// encodeIndex returns the metas record of m: height | status | work, the
// work big-endian without leading zeros (0 to 32 bytes).
func encodeIndex(m *chain.BlockMeta) ([]byte, error) {
	return appendIndex(nil, m)
}

// appendIndex appends the metas record of m to dst (encodeIndex).
func appendIndex(dst []byte, m *chain.BlockMeta) ([]byte, error) {
	if m.Work == nil || m.Work.Sign() < 0 || m.Work.BitLen() > 8*workSize {
		return nil, fmt.Errorf("%w: meta %s: work %v is not a %d-bit unsigned number", ErrBadBatch, m.Hash.Short(), m.Work, 8*workSize)
	}
	dst = binary.BigEndian.AppendUint64(dst, m.Height())
	dst = append(dst, byte(m.Status))
	n := len(dst)
	dst = append(dst, make([]byte, (m.Work.BitLen()+7)/8)...)
	m.Work.FillBytes(dst[n:])
	return dst, nil
}

// decodeIndex reads a metas record.
func decodeIndex(b []byte) (indexRecord, error) {
	if len(b) < indexFixed || len(b) > maxIndexSize {
		return indexRecord{}, fmt.Errorf("%w: meta record is %d bytes, want %d to %d", ErrCorrupt, len(b), indexFixed, maxIndexSize)
	}
	if len(b) > indexFixed && b[indexFixed] == 0 {
		// One work, one encoding: Apply never writes a leading zero.
		return indexRecord{}, fmt.Errorf("%w: meta record's work has a leading zero", ErrCorrupt)
	}
	return indexRecord{
		height: binary.BigEndian.Uint64(b),
		status: chain.Status(b[heightKeySize]),
		work:   b[indexFixed:],
	}, nil
}

// metaOf builds the meta of the block hash from its index record and the
// start of its block's encoding (header, transaction count varint,
// transactions), which is size bytes in all. Only the header and the count
// are read; nothing of rec or blk is kept.
func metaOf(hash chain.Hash, rec indexRecord, blk []byte, size int) (*chain.BlockMeta, error) {
	if size < chain.HeaderSize+1 || size > chain.MaxBlockSize || len(blk) < chain.HeaderSize+1 {
		return nil, fmt.Errorf("%w: block record is %d bytes, want %d to %d", ErrCorrupt, size, chain.HeaderSize+1, chain.MaxBlockSize)
	}
	hdr, err := chain.DecodeHeader(blk[:chain.HeaderSize])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if hdr.Height != rec.height {
		return nil, fmt.Errorf("%w: block record at height %d holds a header of height %d", ErrCorrupt, rec.height, hdr.Height)
	}
	n, vl := binary.Uvarint(blk[chain.HeaderSize:])
	if vl <= 0 || n > chain.MaxBlockTxs {
		return nil, fmt.Errorf("%w: block record's transaction count does not decode", ErrCorrupt)
	}
	return &chain.BlockMeta{
		Hash:    hash,
		Header:  hdr,
		Work:    new(big.Int).SetBytes(rec.work),
		Status:  rec.status,
		Size:    uint32(size),
		TxCount: uint32(n),
	}, nil
}

// appendBlockRecord appends the blocks record of a block: the length of
// its encoding as a uvarint, the encoding, then its undo record, if it has
// one (a connected block); nothing follows a block without one.
func appendBlockRecord(dst, blk, undo []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(blk)))
	return append(append(dst, blk...), undo...)
}

// splitBlockRecord returns the block encoding and the undo record (nil
// when there is none) of a blocks record, as slices of b.
func splitBlockRecord(b []byte) (blk, undo []byte, err error) {
	n, vl := binary.Uvarint(b)
	if vl <= 0 || n > uint64(len(b)-vl) || n > chain.MaxBlockSize {
		return nil, nil, fmt.Errorf("%w: block record of %d bytes does not hold the block it claims", ErrCorrupt, len(b))
	}
	blk, undo = b[vl:vl+int(n)], b[vl+int(n):]
	if len(undo) == 0 {
		undo = nil
	}
	return blk, undo, nil
}

// recordHead returns the length of the block encoding a block record
// holds and what of the encoding head, the record's first chunk, holds. A
// head shorter than a chunk is the whole record, so it must hold the
// whole encoding.
func recordHead(head []byte) (size int, blk []byte, err error) {
	n, vl := binary.Uvarint(head)
	if vl <= 0 || n > chain.MaxBlockSize || (len(head) < recordChunk && n > uint64(len(head)-vl)) {
		return 0, nil, fmt.Errorf("%w: block record of %d bytes does not hold the block it claims", ErrCorrupt, len(head))
	}
	blk = head[vl:]
	return int(n), blk[:min(len(blk), int(n))], nil
}

// encodeUndo returns the record of u: the entry count, then each entry's
// address (appendAddress) and previous account.
func encodeUndo(u *chain.Undo) ([]byte, error) {
	if len(u.Entries) > maxUndoEntries {
		return nil, fmt.Errorf("%w: undo has %d entries, limit %d", ErrBadBatch, len(u.Entries), maxUndoEntries)
	}
	n := undoHeaderSize
	for _, e := range u.Entries {
		if err := checkAddress(e.Address); err != nil {
			return nil, fmt.Errorf("undo entry: %w", err)
		}
		n += 1 + len(e.Address) + accountSize
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(u.Entries)))
	for _, e := range u.Entries {
		b = appendAddress(b, e.Address)
		b = appendAccount(b, e.Prev)
	}
	return b, nil
}

// decodeUndo reads an undo record. The claimed count is checked against
// the limit and against the bytes present before anything is allocated.
func decodeUndo(b []byte) (*chain.Undo, error) {
	if len(b) < undoHeaderSize || len(b) > maxUndoSize {
		return nil, fmt.Errorf("%w: undo record is %d bytes, want %d to %d", ErrCorrupt, len(b), undoHeaderSize, maxUndoSize)
	}
	n := binary.BigEndian.Uint32(b)
	rest := b[undoHeaderSize:]
	if n > maxUndoEntries || int(n) > len(rest)/undoMinEntry {
		return nil, fmt.Errorf("%w: undo claims %d entries in %d bytes", ErrCorrupt, n, len(rest))
	}
	u := &chain.Undo{}
	if n > 0 {
		u.Entries = make([]chain.UndoEntry, 0, n)
	}
	for i := range n {
		addr, l, err := readAddress(rest)
		if err != nil {
			return nil, fmt.Errorf("undo entry %d: %w", i, err)
		}
		if len(rest) < l+accountSize {
			return nil, fmt.Errorf("%w: undo entry %d truncated", ErrCorrupt, i)
		}
		acct, err := decodeAccount(rest[l : l+accountSize])
		if err != nil {
			return nil, err
		}
		u.Entries = append(u.Entries, chain.UndoEntry{Address: addr, Prev: acct})
		rest = rest[l+accountSize:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after undo entries", ErrCorrupt, len(rest))
	}
	return u, nil
}

// Addresses in undo records take one of two forms. A gc address (the
// prefix and 48 lowercase hex digits, 50 bytes) is the tag compactTag and
// the 24 bytes the digits spell: 25 bytes, half the size, and a signed
// network's undo records hold nothing else. Any other name is its length
// (1 to maxAddressLen, always below compactTag) and its bytes. Each
// address has one form: a gc address written long is corrupt.
const (
	compactTag     = 0xff
	compactAddrLen = (chain.AddressLen - len(chain.AddressPrefix)) / 2
)

// appendCompact appends the bytes a gc address spells, or returns false
// for any other name (uppercase hex included: it would not come back the
// same). It checks and decodes in one pass, in place: a commit calls it
// for every address a block touches, twice.
func appendCompact(b []byte, addr string) ([]byte, bool) {
	if len(addr) != chain.AddressLen || !strings.HasPrefix(addr, chain.AddressPrefix) {
		return b, false
	}
	digits := addr[len(chain.AddressPrefix):]
	n := len(b)
	for i := 0; i+1 < len(digits); i += 2 {
		hi, lo := hexValue[digits[i]], hexValue[digits[i+1]]
		if hi|lo > 0xf {
			return b[:n], false
		}
		b = append(b, hi<<4|lo)
	}
	return b, true
}

// hexValue maps a lowercase hex digit to its value, anything else to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// isCompact reports whether addr is a gc address in its canonical form.
func isCompact(addr string) bool {
	var buf [compactAddrLen]byte
	_, ok := appendCompact(buf[:0], addr)
	return ok
}

// appendAddress appends addr in its undo-record form.
func appendAddress(b []byte, addr string) []byte {
	if out, ok := appendCompact(append(b, compactTag), addr); ok {
		return out
	}
	return append(append(b, byte(len(addr))), addr...)
}

// readAddress reads an address in its undo-record form at the start of b
// and returns it and the bytes it took.
func readAddress(b []byte) (string, int, error) {
	if len(b) < 1 {
		return "", 0, fmt.Errorf("%w: address truncated", ErrCorrupt)
	}
	if b[0] == compactTag {
		if len(b) < 1+compactAddrLen {
			return "", 0, fmt.Errorf("%w: compact address truncated", ErrCorrupt)
		}
		return chain.AddressPrefix + hex.EncodeToString(b[1:1+compactAddrLen]), 1 + compactAddrLen, nil
	}
	l := int(b[0])
	if l == 0 || l > maxAddressLen || len(b) < 1+l {
		return "", 0, fmt.Errorf("%w: address length %d in %d bytes", ErrCorrupt, l, len(b))
	}
	addr := string(b[1 : 1+l])
	if isCompact(addr) {
		return "", 0, fmt.Errorf("%w: gc address written long", ErrCorrupt)
	}
	return addr, 1 + l, nil
}

// accountKey is the accounts bucket's key of addr: a gc address as the
// tag and its 24 bytes (25 bytes), any other name as a zero byte and its
// bytes. The leading byte keeps the two forms apart.
func accountKey(addr string) []byte {
	return appendAccountKey(make([]byte, 0, 1+max(compactAddrLen, len(addr))), addr)
}

// appendAccountKey appends the accounts key of addr to b.
func appendAccountKey(b []byte, addr string) []byte {
	if out, ok := appendCompact(append(b, compactTag), addr); ok {
		return out
	}
	return append(append(b, 0), addr...)
}

func appendAccount(b []byte, a chain.Account) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(a.Balance))
	return binary.BigEndian.AppendUint64(b, a.Nonce)
}

func decodeAccount(b []byte) (chain.Account, error) {
	if len(b) != accountSize {
		return chain.Account{}, fmt.Errorf("%w: account record is %d bytes, want %d", ErrCorrupt, len(b), accountSize)
	}
	return chain.Account{
		Balance: int64(binary.BigEndian.Uint64(b)),
		Nonce:   binary.BigEndian.Uint64(b[8:]),
	}, nil
}

// checkAddress refuses addresses that cannot be a key or an undo entry.
func checkAddress(addr string) error {
	if len(addr) == 0 || len(addr) > maxAddressLen {
		return fmt.Errorf("%w: address of %d bytes, want 1 to %d", ErrBadBatch, len(addr), maxAddressLen)
	}
	return nil
}

func heightKey(h uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, heightKeySize), h)
}

func decodeHash(b []byte) (chain.Hash, error) {
	var h chain.Hash
	if len(b) != chain.HashSize {
		return h, fmt.Errorf("%w: hash record is %d bytes, want %d", ErrCorrupt, len(b), chain.HashSize)
	}
	copy(h[:], b)
	return h, nil
}
