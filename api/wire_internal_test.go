package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestSubmittedAppendJSON: the hand-written answer is what encoding/json's
// Encoder writes for it, newline aside.
func TestSubmittedAppendJSON(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signed := &chain.Transaction{Version: chain.TxVersion, Sender: chain.AddressFromPublicKey(key.Public().(ed25519.PublicKey)),
		Recipient: "gc00", Amount: 3, Fee: 1, Nonce: 9}
	signed.Sign(chain.RegTest().NetworkID(), key)
	for _, sub := range []Submitted{
		{Message: "Transaction has been submitted successfully", BlockIndex: 7, Transaction: signed},
		{Message: "Transaction is queued until the sender's earlier nonces arrive", BlockIndex: 1<<64 - 1, Transaction: signed},
		{Message: "<html> & \"quotes\"", Transaction: &chain.Transaction{Sender: "<a>&\u2028", Recipient: "é\\", Amount: 1}},
		{Message: "no transaction"},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(sub); err != nil {
			t.Fatal(err)
		}
		got, err := sub.appendJSON([]byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if got := append(got[1:], '\n'); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendJSON wrote\n%s\nencoding/json\n%s", got, want.Bytes())
		}
	}
	if _, err := (&Submitted{Transaction: &chain.Transaction{Sender: "\xff"}}).appendJSON(nil); err == nil {
		t.Fatal("a sender that is not UTF-8 was encoded")
	}
}

// sameRequest fails unless decodeTxRequest reads body as encoding/json's
// map of members does: the same members, or the same error.
func sameRequest(t *testing.T, body []byte) {
	t.Helper()
	got, gerr := decodeTxRequest(body)
	want, werr := txRequestByMap(body)
	switch {
	case (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error():
		t.Fatalf("%q: got error %v, encoding/json %v", body, gerr, werr)
	case got.empty != want.empty || !bytes.Equal(got.sender, want.sender) || !bytes.Equal(got.nonce, want.nonce) ||
		!bytes.Equal(got.publicKey, want.publicKey) || !bytes.Equal(got.signature, want.signature) ||
		(got.sender == nil) != (want.sender == nil) || (got.nonce == nil) != (want.nonce == nil) ||
		(got.publicKey == nil) != (want.publicKey == nil) || (got.signature == nil) != (want.signature == nil):
		t.Fatalf("%q: got %+v, encoding/json %+v", body, got, want)
	}
}

var txRequestSeeds = []string{
	`{"sender":"a","recipient":"b","amount":1,"nonce":2,"public_key":"00","signature":"00"}`,
	`{}`, ` { } `, `null`, `[]`, `"x"`, `{"sender":null}`, `{"sender":"a","sender":null}`,
	`{"nonce":null,"nonce":1}`, `{"\u0073ender":"x"}`, `{"sender":"x"`, `{"a":1}{}`, `{"Sender":"x"}`,
	"{\"s\xffnder\":1}", `{"signature": null }`, `{"amount":1e3,"x":[1,{"y":null}]}`,
}

// FuzzDecodeTxRequest: decodeTxRequest reads any body as encoding/json's
// map of members does (its seeds run as a test in every go test).
func FuzzDecodeTxRequest(f *testing.F) {
	for _, s := range txRequestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(sameRequest)
}
