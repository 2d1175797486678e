package chain

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// TestValidAddressSpellings: an address is "gc", 48 lowercase hex digits
// and a checksum that matches; any other spelling of the same bytes, or
// any other string, is refused.
func TestValidAddressSpellings(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	good := AddressFromPublicKey(key.Public().(ed25519.PublicKey))
	// Flip the last checksum digit to another lowercase one.
	last := good[len(good)-1]
	flip := byte('0')
	if last == '0' {
		flip = '1'
	}
	// The first letter digit of the body, for an uppercase spelling.
	letter := strings.IndexAny(good[len(AddressPrefix):], "abcdef") + len(AddressPrefix)
	if letter < len(AddressPrefix) {
		t.Fatalf("address %s has no letter digit to uppercase", good)
	}
	for _, tc := range []struct {
		name string
		addr string
		want bool
	}{
		{"derived from a key", good, true},
		{"empty", "", false},
		{"one digit short", good[:len(good)-1], false},
		{"one digit long", good + "0", false},
		{"another prefix", "gd" + good[2:], false},
		{"uppercase prefix", "GC" + good[2:], false},
		{"an uppercase digit", good[:letter] + strings.ToUpper(good[letter:letter+1]) + good[letter+1:], false},
		{"a digit that is not hex", good[:10] + "g" + good[11:], false},
		{"a two-byte character in place of two digits", good[:10] + "é" + good[12:], false},
		{"a wrong checksum", good[:len(good)-1] + string(flip), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidAddress(tc.addr); got != tc.want {
				t.Errorf("ValidAddress(%q) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

// TestTxShapeAllocatesNothing: checking a signed transfer's shape (its
// recipient's checksum, its sender against its key) allocates nothing,
// since every request and every gossiped transaction a node admits goes
// through it; and a sender that is not the key's is still refused, with
// the key's address in the error.
func TestTxShapeAllocatesNothing(t *testing.T) {
	p := RegTest()
	from := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	to := ed25519.NewKeyFromSeed([]byte(strings.Repeat("b", ed25519.SeedSize)))
	tx := &Transaction{Version: TxVersion, Sender: AddressFromPublicKey(from.Public().(ed25519.PublicKey)),
		Recipient: AddressFromPublicKey(to.Public().(ed25519.PublicKey)), Amount: 1, Fee: 1}
	tx.Sign(p.NetworkID(), from)
	if err := checkTxShape(p, tx); err != nil {
		t.Fatalf("a signed transfer's shape: %v", err)
	}
	if got := testing.AllocsPerRun(100, func() { _ = checkTxShape(p, tx) }); got != 0 {
		t.Errorf("checkTxShape allocates %.0f times a transaction, want 0", got)
	}

	other := *tx
	other.Sender = tx.Recipient
	err := checkTxShape(p, &other)
	var re *RuleError
	if !errors.As(err, &re) || re.Code != ErrBadPublicKey || !strings.Contains(err.Error(), tx.Sender) {
		t.Errorf("a sender that is not the key's: %v, want %v naming the key's address %s", err, ErrBadPublicKey, tx.Sender)
	}
}
