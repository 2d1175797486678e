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
	sum := sha256.Sum256(pub)
	var raw [addrHashLen + addrCheckLen]byte
	copy(raw[:], sum[:addrHashLen])
	ck := addressChecksum(raw[:addrHashLen])
	copy(raw[addrHashLen:], ck[:])
	return AddressPrefix + hex.EncodeToString(raw[:])
}

func addressChecksum(h []byte) [addrCheckLen]byte {
	d := sha256.New()
	d.Write([]byte(addressContext))
	d.Write(h)
	var out [addrCheckLen]byte
	copy(out[:], d.Sum(nil))
	return out
}

// ValidAddress reports whether s is a well-formed address with a correct
// checksum. Only lowercase hex is accepted so that one account has one
// spelling.
func ValidAddress(s string) bool {
	if len(s) != AddressLen || !strings.HasPrefix(s, AddressPrefix) {
		return false
	}
	body := s[len(AddressPrefix):]
	if strings.ToLower(body) != body {
		return false
	}
	raw, err := hex.DecodeString(body)
	if err != nil {
		return false
	}
	ck := addressChecksum(raw[:addrHashLen])
	return subtle.ConstantTimeCompare(ck[:], raw[addrHashLen:]) == 1
}
