package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// An address names an account on signed networks. It is "gc" followed by
// 48 lowercase hex digits: the first 20 bytes of SHA-256(public key), then a
// 4-byte checksum, the first 4 bytes of SHA-256("gossipchain address" ||
// those 20 bytes). The checksum catches a mistyped address before coins go
// to a key nobody holds.
const (
	AddressPrefix  = "gc"
	addrHashLen    = 20
	addrCheckLen   = 4
	AddressLen     = len(AddressPrefix) + 2*(addrHashLen+addrCheckLen)
	addressContext = "gossipchain address"
)

// CoinbaseSender is the sender of every coinbase, as in the teaching chain.
const CoinbaseSender = "0"

// AddressFromPublicKey derives the address of an ed25519 public key.
func AddressFromPublicKey(pub ed25519.PublicKey) string {
	a := addressOf(pub)
	return string(a[:])
}

// isAddressOf reports whether addr is the address of pub: what
// AddressFromPublicKey(pub) == addr says, without building the string,
// since every signed transaction's sender is checked this way.
func isAddressOf(pub ed25519.PublicKey, addr string) bool {
	a := addressOf(pub)
	return string(a[:]) == addr
}

// addressOf spells pub's address in a fixed array, which stays on the
// caller's stack.
func addressOf(pub ed25519.PublicKey) [AddressLen]byte {
	sum := sha256.Sum256(pub)
	ck := addressChecksum(sum[:addrHashLen])
	var a [AddressLen]byte
	n := copy(a[:], AddressPrefix)
	n += hex.Encode(a[n:], sum[:addrHashLen])
	hex.Encode(a[n:], ck[:])
	return a
}

func addressChecksum(h []byte) [addrCheckLen]byte {
	// One Sum256 over a stack buffer: a sha256.New digest would be
	// allocated, and this runs for every recipient a node checks.
	var in [len(addressContext) + addrHashLen]byte
	n := copy(in[:], addressContext)
	copy(in[n:], h)
	sum := sha256.Sum256(in[:n+len(h)])
	var out [addrCheckLen]byte
	copy(out[:], sum[:])
	return out
}

// ValidAddress reports whether s is a well-formed address with a correct
// checksum. Only lowercase hex is accepted so that one account has one
// spelling.
func ValidAddress(s string) bool {
	if len(s) != AddressLen || !strings.HasPrefix(s, AddressPrefix) {
		return false
	}
	var raw [addrHashLen + addrCheckLen]byte
	body := s[len(AddressPrefix):]
	for i := range raw {
		hi, ok1 := lowerHex(body[2*i])
		lo, ok2 := lowerHex(body[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		raw[i] = hi<<4 | lo
	}
	ck := addressChecksum(raw[:addrHashLen])
	return subtle.ConstantTimeCompare(ck[:], raw[addrHashLen:]) == 1
}

// lowerHex is the value of a lowercase hex digit: an uppercase one is
// refused, as the one spelling of an address is lowercase.
func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
