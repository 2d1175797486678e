package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// HashSize is the length of every hash in gossipchain: SHA-256.
const HashSize = sha256.Size

// Hash is a SHA-256 digest: a block hash, a transaction id or a merkle
// root. It is compared and printed in the byte order SHA-256 produced it;
// as a number (for proof of work) it is read big-endian.
type Hash [HashSize]byte

// ZeroHash is the previous hash of a genesis block.
var ZeroHash Hash

// ErrBadHash is returned when text is not 64 hex digits.
var ErrBadHash = errors.New("hash must be 64 hex digits")

// String returns the hash as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, for log lines.
func (h Hash) Short() string { return hex.EncodeToString(h[:6]) }

// IsZero reports whether h is the all-zero hash.
func (h Hash) IsZero() bool { return h == ZeroHash }

// ParseHash reads 64 hex digits (either case).
func ParseHash(s string) (Hash, error) { return parseHash([]byte(s)) }

// parseHash is ParseHash of text as bytes.
func parseHash(b []byte) (Hash, error) {
	var h Hash
	if len(b) != 2*HashSize {
		return h, fmt.Errorf("%w: got %d characters", ErrBadHash, len(b))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return h, fmt.Errorf("%w: %w", ErrBadHash, err)
	}
	return h, nil
}

// MarshalText encodes the hash as hex, so JSON shows a string.
func (h Hash) MarshalText() ([]byte, error) {
	out := make([]byte, 2*HashSize)
	hex.Encode(out, h[:])
	return out, nil
}

// UnmarshalText decodes 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}
