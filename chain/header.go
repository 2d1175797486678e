package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// HeaderSize is the length of a header's canonical encoding.
const HeaderSize = 96

// Byte offsets of the header fields in the canonical encoding. All integers
// are big-endian. The nonce is last so the miner rewrites only the final
// eight bytes between tries.
const (
	offVersion   = 0  // uint32
	offHeight    = 4  // uint64
	offPrevHash  = 12 // [32]byte
	offMerkle    = 44 // [32]byte
	offTimestamp = 76 // int64, Unix milliseconds
	offBits      = 84 // uint32, compact target
	offNonce     = 88 // uint64
)

// HeaderVersion is the only header version this code accepts.
const HeaderVersion = 1

// Header is a block header. Its hash, SHA-256 of the 96-byte canonical
// encoding, names the block and is the proof of work.
type Header struct {
	Version    uint32
	Height     uint64
	PrevHash   Hash
	MerkleRoot Hash
	Timestamp  int64 // Unix milliseconds
	Bits       uint32
	Nonce      uint64
}

// Encode returns the canonical 96-byte encoding.
func (h *Header) Encode() [HeaderSize]byte {
	var b [HeaderSize]byte
	h.encodeTo(b[:])
	return b
}

func (h *Header) encodeTo(b []byte) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint32(b[offVersion:], h.Version)
	binary.BigEndian.PutUint64(b[offHeight:], h.Height)
	copy(b[offPrevHash:], h.PrevHash[:])
	copy(b[offMerkle:], h.MerkleRoot[:])
	binary.BigEndian.PutUint64(b[offTimestamp:], uint64(h.Timestamp))
	binary.BigEndian.PutUint32(b[offBits:], h.Bits)
	binary.BigEndian.PutUint64(b[offNonce:], h.Nonce)
}

// DecodeHeader reads a canonical header. b must be exactly HeaderSize bytes.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) != HeaderSize {
		return h, fmt.Errorf("%w: header is %d bytes, want %d", ErrMalformed, len(b), HeaderSize)
	}
	h.Version = binary.BigEndian.Uint32(b[offVersion:])
	h.Height = binary.BigEndian.Uint64(b[offHeight:])
	copy(h.PrevHash[:], b[offPrevHash:])
	copy(h.MerkleRoot[:], b[offMerkle:])
	h.Timestamp = int64(binary.BigEndian.Uint64(b[offTimestamp:]))
	h.Bits = binary.BigEndian.Uint32(b[offBits:])
	h.Nonce = binary.BigEndian.Uint64(b[offNonce:])
	return h, nil
}

// Hash returns SHA-256 of the canonical encoding.
func (h *Header) Hash() Hash {
	b := h.Encode()
	return sha256.Sum256(b[:])
}

// Time returns the timestamp as a time.Time.
func (h *Header) Time() time.Time { return time.UnixMilli(h.Timestamp) }
