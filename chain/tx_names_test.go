package chain

import (
	"errors"
	"strings"
	"testing"
)

// TestDecodeNames pins 3.2 on sender and recipient lengths: 0 is read like
// any length and refused only after the last field (so shortness is
// reported first), 129 is refused at once, and bytes that are not UTF-8
// decode and are left to sanity.
func TestDecodeNames(t *testing.T) {
	full := func(sender, recipient string) []byte {
		tx := &Transaction{Version: TxVersion, Sender: sender, Recipient: recipient, Amount: 1}
		return tx.Encode()
	}
	for _, tc := range []struct {
		name    string
		enc     []byte
		wantErr string    // substring of the decode error; "" for none
		sanity  ErrorCode // what open-network sanity says of a decoded one
	}{
		{"empty sender, complete", full("", "bob"), "empty sender or recipient", 0},
		{"empty recipient, complete", full("alice", ""), "empty sender or recipient", 0},
		{"empty sender, then short", full("", "bob")[:10], "short", 0},
		{"sender of 129 bytes", append([]byte{TxVersion, 129}, make([]byte, 200)...), "sender length 129 exceeds 128", 0},
		{"sender of 128 bytes", full(strings.Repeat("a", MaxNameLen), "bob"), "", 0},
		{"sender not UTF-8", full("\xff", "bob"), "", ErrBadAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, _, err := DecodeTransaction(tc.enc)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if got := CodeOf(CheckTxSanity(OpenNet(), tx)); got != tc.sanity {
					t.Errorf("sanity: %v, want %v", got, tc.sanity)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("decode: %v, want ErrMalformed with %q", err, tc.wantErr)
			}
		})
	}
}
