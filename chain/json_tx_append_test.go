package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// txJSONRef is a transaction's wire shape as encoding/json writes it from
// a struct: the reference Transaction.AppendJSON must equal byte for byte.
type txJSONRef struct {
	ID        Hash   `json:"id"`
	Sender    string `json:"sender"`
	Recipient string `json:"recipient"`
	Amount    uint64 `json:"amount"`
	Fee       uint64 `json:"fee"`
	Nonce     uint64 `json:"nonce"`
	Version   uint8  `json:"version"`
	PublicKey string `json:"public_key,omitempty"`
	Signature string `json:"signature,omitempty"`
}

func txJSONReference(tx *Transaction) ([]byte, error) {
	return json.Marshal(txJSONRef{ID: tx.ID(), Sender: tx.Sender, Recipient: tx.Recipient, Amount: tx.Amount,
		Fee: tx.Fee, Nonce: tx.Nonce, Version: tx.Version,
		PublicKey: hex.EncodeToString(tx.PublicKey), Signature: hex.EncodeToString(tx.Signature)})
}

// sameAsReference fails unless AppendJSON (after a prefix it must keep)
// writes what encoding/json writes, or both refuse.
func sameAsReference(t *testing.T, tx *Transaction) {
	t.Helper()
	want, werr := txJSONReference(tx)
	if werr != nil {
		t.Fatalf("reference encoding: %v", werr)
	}
	got, err := tx.AppendJSON([]byte("prefix"))
	if err != nil {
		// Only a name that is not UTF-8 is refused (encoding/json would
		// replace its bytes).
		if utf8.ValidString(tx.Sender) && utf8.ValidString(tx.Recipient) {
			t.Fatalf("%+v: AppendJSON refused: %v", tx, err)
		}
		if string(got) != "prefix" {
			t.Fatalf("a refusal changed dst to %q", got)
		}
		return
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendJSON wrote\n%s\nencoding/json\nprefix%s", got, want)
	}
}

func TestTransactionAppendJSON(t *testing.T) {
	signed := jsonTestTx()
	tests := []struct {
		name string
		tx   *Transaction
	}{
		{"signed", signed},
		{"unsigned", &Transaction{Version: TxVersion, Sender: "Alice", Recipient: "Bob", Amount: 5}},
		{"coinbase-like", &Transaction{Sender: "", Recipient: "gc00", Amount: MaxAmount, Nonce: 1<<64 - 1, Version: 255}},
		{"HTML and quotes", &Transaction{Sender: `<a href="x">&`, Recipient: `back\slash`, Amount: 1}},
		{"control and unicode", &Transaction{Sender: "tab\there\u2028é😀", Recipient: "\x7f", Amount: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { sameAsReference(t, tt.tx) })
	}
	if _, err := (&Transaction{Sender: "\xff", Recipient: "b"}).AppendJSON(nil); err == nil {
		t.Fatal("a sender that is not UTF-8 was encoded")
	}
}

// FuzzTransactionAppendJSON: AppendJSON equals encoding/json's encoding
// of the same fields for any names and numbers.
func FuzzTransactionAppendJSON(f *testing.F) {
	f.Add("Alice", "Bob", uint64(5), uint64(1), uint64(0), uint8(1), []byte{1, 2}, []byte{})
	f.Add(`<"&>`, "\u2028\x00", uint64(0), uint64(1<<64-1), uint64(7), uint8(0), []byte{}, make([]byte, 64))
	f.Fuzz(func(t *testing.T, sender, recipient string, amount, fee, nonce uint64, version uint8, pub, sig []byte) {
		tx := &Transaction{Sender: sender, Recipient: recipient, Amount: amount, Fee: fee, Nonce: nonce,
			Version: version, PublicKey: pub, Signature: sig}
		sameAsReference(t, tx)
	})
}
