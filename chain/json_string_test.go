package chain

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// postedTx is the JSON a client posts for a signed transfer: every
// member, the id included.
func postedTx(tb testing.TB) []byte {
	tb.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	tx := &Transaction{Version: TxVersion, Sender: AddressFromPublicKey(key.Public().(ed25519.PublicKey)),
		Recipient: "gc00", Amount: 3, Fee: 1, Nonce: 9}
	tx.Sign(RegTest().NetworkID(), key)
	out, err := tx.MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// stringByDecoder is jsonString as encoding/json alone reads the
// literal, after the same UTF-8 and surrogate checks.
func stringByDecoder(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", jsonMalformed("f must be a string")
	}
	if !utf8.Valid(raw) || !jsonPairedSurrogates(raw) {
		return "", jsonMalformed("f is not valid UTF-8")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", jsonMalformed("f: %v", err)
	}
	return s, nil
}

// sameString fails unless jsonString and jsonStringBytes read raw as
// encoding/json does: the same text, or the same error.
func sameString(t *testing.T, raw []byte) {
	t.Helper()
	want, werr := stringByDecoder(raw)
	got, gerr := jsonString(raw, "f")
	gotBytes, berr := jsonStringBytes(raw, "f")
	for _, e := range []error{gerr, berr} {
		if (e == nil) != (werr == nil) || e != nil && e.Error() != werr.Error() {
			t.Fatalf("%q: error %v, encoding/json %v", raw, e, werr)
		}
	}
	if got != want || string(gotBytes) != want {
		t.Fatalf("%q: read %q and %q, encoding/json %q", raw, got, gotBytes, want)
	}
}

var jsonStringSeeds = []string{
	`"gc0123"`, `""`, `"a\"b"`, `"a\\"`, `"\u00e9"`, `"é"`, "\"\xff\"", "\"a\x01\"", `"\ud83d\ude00"`,
	`"\ud83d"`, `"a"b"`, `"a`, `a"`, `"`, `null`, `1`, `"a" `, ` "a"`, "\"\t\"", `"\/"`, `"<&>"`,
}

// TestJSONStringPlain: a literal without escapes is read without
// encoding/json and gives what encoding/json gives; so does everything
// else. FuzzJSONString runs the same check on any input.
func TestJSONStringPlain(t *testing.T) {
	for _, s := range jsonStringSeeds {
		sameString(t, []byte(s))
	}
	raw := []byte(`"abc"`)
	if b, _ := jsonStringBytes(raw, "f"); len(b) == 0 || &b[0] != &raw[1] {
		t.Fatal("a plain literal was copied, not read in place")
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(sameString)
}

// maxPostedTxAllocs bounds the allocations of decoding a posted signed
// transfer: the member names (9), sender and recipient, public key and
// signature, the id's check (its encoding) and the rest. With every
// string literal through encoding/json (12c6695) it took 28.
const maxPostedTxAllocs = 16

// TestPostedTransactionAllocs: decoding what a client posts allocates
// only what the transaction keeps and the member names.
func TestPostedTransactionAllocs(t *testing.T) {
	data := postedTx(t)
	var tx Transaction
	got := testing.AllocsPerRun(100, func() {
		if err := tx.UnmarshalJSON(data); err != nil {
			t.Fatal(err)
		}
	})
	if got > maxPostedTxAllocs {
		t.Fatalf("decoding a posted transaction allocated %.0f times, want at most %d", got, maxPostedTxAllocs)
	}
	out, err := tx.MarshalJSON()
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("decoded and encoded again: %s (%v), posted %s", out, err, data)
	}
}

func BenchmarkTransactionUnmarshalJSON(b *testing.B) {
	data := postedTx(b)
	b.ReportAllocs()
	for b.Loop() {
		var tx Transaction
		if err := tx.UnmarshalJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}
