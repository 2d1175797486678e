package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// sameAsEncoder fails unless v's hand-written answer is what
// encoding/json's Encoder writes for it, newline aside.
func sameAsEncoder(t *testing.T, v appender) {
	t.Helper()
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(v); err != nil {
		t.Fatal(err)
	}
	got, err := v.appendJSON([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got := append(got[1:], '\n'); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("appendJSON wrote\n%s\nencoding/json\n%s", got, want.Bytes())
	}
}

// TestAppendJSON: the answers to create-transaction and /mine, written
// by hand, are what encoding/json wrote.
func TestAppendJSON(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signed := &chain.Transaction{Version: chain.TxVersion, Sender: chain.AddressFromPublicKey(key.Public().(ed25519.PublicKey)),
		Recipient: "gc00", Amount: 3, Fee: 1, Nonce: 9}
	signed.Sign(chain.RegTest().NetworkID(), key)
	odd := &chain.Transaction{Sender: "<a>&\u2028", Recipient: "é\\", Amount: 1}
	block := &chain.Block{Header: chain.RegTest().Genesis().Header, Transactions: []*chain.Transaction{signed, odd}}
	for _, v := range []appender{
		&Submitted{Message: "Transaction has been submitted successfully", BlockIndex: 7, Transaction: signed},
		&Submitted{Message: "Transaction is queued until the sender's earlier nonces arrive", BlockIndex: 1<<64 - 1, Transaction: signed},
		&Submitted{Message: "<html> & \"quotes\"", Transaction: odd},
		&Submitted{Message: "no transaction"},
		&Mined{Message: "Successfully Mined the new Block", BlockData: block},
		&Mined{Message: "genesis", BlockData: chain.RegTest().Genesis()},
		&Mined{},
	} {
		sameAsEncoder(t, v)
	}
	bad := &chain.Transaction{Sender: "\xff"}
	for _, v := range []appender{&Submitted{Transaction: bad}, &Mined{BlockData: &chain.Block{Transactions: []*chain.Transaction{bad}}}} {
		if _, err := v.appendJSON(nil); err == nil {
			t.Fatalf("%T with a sender that is not UTF-8 was encoded", v)
		}
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
	case !sameMembers(got, want):
		t.Fatalf("%q: got %+v, encoding/json %+v", body, got, want)
	}
}

// sameMembers reports whether a and b hold the same members, each
// present or absent alike.
func sameMembers(a, b txRequest) bool {
	same := func(x, y json.RawMessage) bool { return bytes.Equal(x, y) && (x == nil) == (y == nil) }
	return a.empty == b.empty && same(a.sender, b.sender) && same(a.nonce, b.nonce) &&
		same(a.publicKey, b.publicKey) && same(a.signature, b.signature)
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

// sameTx fails unless readTx, which reads a body that decodes as it is
// in one pass, gives what readTxTwice gives for body: the same
// transaction and members, or the same error.
func sameTx(t *testing.T, body []byte) {
	t.Helper()
	const wallet = "gc0000000000000000000000000000000000000000000000"
	got, gm, gerr := readTx(body, wallet)
	want, wm, werr := readTxTwice(body, wallet)
	switch {
	case (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error():
		t.Fatalf("%q: got error %v, in two passes %v", body, gerr, werr)
	case gerr != nil:
	case !bytes.Equal(got.Encode(), want.Encode()):
		t.Fatalf("%q: got %+v, in two passes %+v", body, got, want)
	case !sameMembers(gm, wm):
		t.Fatalf("%q: got members %+v, in two passes %+v", body, gm, wm)
	}
}

// FuzzReadTx: the one-pass read of a create-transaction body agrees with
// the two-pass one on any body (its seeds run as a test in every go test).
func FuzzReadTx(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signed := &chain.Transaction{Version: chain.TxVersion, Sender: chain.AddressFromPublicKey(key.Public().(ed25519.PublicKey)),
		Recipient: "gc00", Amount: 3, Fee: 1, Nonce: 9}
	signed.Sign(chain.RegTest().NetworkID(), key)
	posted, err := signed.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(posted)
	for _, s := range append(txRequestSeeds,
		`{"recipient":"b","amount":1}`, `{"sender":"a","recipient":"b","amount":1,"signature":""}`,
		`{"sender":"a","recipient":"b","amount":1,"nonce":null,"public_key":null}`,
		`{"sender":"a","recipient":"b","amount":1,"extra":1}`, `{"sender":"\u0061","recipient":"b","amount":1}`,
	) {
		f.Add([]byte(s))
	}
	f.Fuzz(sameTx)
}
