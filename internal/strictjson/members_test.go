package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// slots are the members Object takes in these tests.
type slots struct{ a, b, c json.RawMessage }

func (s *slots) field(name string) *json.RawMessage {
	switch name {
	case "a":
		return &s.a
	case "b":
		return &s.b
	case "c":
		return &s.c
	}
	return nil
}

// sameVerdict fails unless Object and the tokenizer (objectSlow) agree on
// data: the same error, or the same text in every slot.
func sameVerdict(t *testing.T, data []byte) {
	t.Helper()
	if Members(data, func(string, []byte) {}) && !json.Valid(data) {
		t.Fatalf("%q: Members took what encoding/json finds invalid", data)
	}
	var fast, slow slots
	errFast := Object(data, fast.field)
	errSlow := objectSlow(data, slow.field)
	var ef, es *Error
	switch {
	case (errFast == nil) != (errSlow == nil):
		t.Fatalf("%q: Object says %v, the tokenizer %v", data, errFast, errSlow)
	case errFast != nil:
		if !errors.As(errFast, &ef) || !errors.As(errSlow, &es) || ef.Kind != es.Kind || ef.Field != es.Field || errFast.Error() != errSlow.Error() {
			t.Fatalf("%q: Object says %#v (%v), the tokenizer %#v (%v)", data, errFast, errFast, errSlow, errSlow)
		}
	case !bytes.Equal(fast.a, slow.a) || !bytes.Equal(fast.b, slow.b) || !bytes.Equal(fast.c, slow.c) ||
		(fast.a == nil) != (slow.a == nil) || (fast.b == nil) != (slow.b == nil) || (fast.c == nil) != (slow.c == nil):
		t.Fatalf("%q: Object read %q %q %q, the tokenizer %q %q %q", data, fast.a, fast.b, fast.c, slow.a, slow.b, slow.c)
	}
}

var objectSeeds = []string{
	` {"a": 1, "b": [true, {"c": null}]} `, `{}`, ``, `null`, `[{"a":1}]`, `"a"`,
	`{"a":1,"x":2}`, `{"A":1}`, `{"a":1,"a":1}`, `{"a":null,"a":1}`, `{"a":}`, `{"a":1`,
	`{"a":1}{}`, `{"a":1} x`, "{\n\t\"a\" :\r -1.5e3 , \"b\":\"x\\\"y}\" ,\"c\":{\"a\":[1,{}]}}",
	`{"\u0061":1}`, `{"a\\":1}`, "{\"\xff\":1}", `{"é":1}`, `{"b":"\ud800"}`, `{"a":tru}`,
	`{"a":"<&>","b":false,"c":[]}`, `{"c":{"x":"}"},"b":"]"}`, `{"a":-0.5E+07,"b":01}`, `{"a":1.}`,
	`{"a":"\x"}`, `{"a":"\u12g4"}`, "{\"a\":\"\x01\"}", `{"a":[1,]}`, `{"a":{"b":1,}}`, `{"a" 1}`,
	`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`, `{"a":nul}`, `{"a":-}`,
}

// FuzzObject: on any input Object gives the tokenizer's verdict and
// reads the same member text (its seeds run as a test in every go test).
func FuzzObject(f *testing.F) {
	for _, s := range objectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(sameVerdict)
}

func TestMembersDeclines(t *testing.T) {
	tests := []struct {
		name, data string
		want       bool
	}{
		{"object", `{"a":1,"b":"x"}`, true},
		{"empty object", ` {} `, true},
		{"not JSON", `{"a":`, false},
		{"array", `[1]`, false},
		{"escaped name", `{"\u0061":1}`, false},
		{"non-ASCII name", `{"é":1}`, false},
		{"escaped value", `{"a":"\u0061"}`, true},
		{"too many members", `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1,"p":1,"q":1}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got := Members([]byte(tt.data), func(string, []byte) { calls++ })
			if got != tt.want || (!got && calls != 0) {
				t.Fatalf("Members = %v after %d calls, want %v", got, calls, tt.want)
			}
		})
	}
}

func BenchmarkObject(b *testing.B) {
	data := []byte(`{"id":"4758128d56fd564c3799ed70fc1f4f3f33f9a735e49d2a88af4e000bb1771eb8","sender":"gc488c7286a6c0cd6214550811fcd991c2ee50e3c577937769","recipient":"gc37490fb254c4c5546f1355a5a9ea863b673e075421e8b9e7","amount":1,"fee":1,"nonce":1,"version":1,"public_key":"66dd06e5f92ab61dfa29a76c21e6d6943e2ecdf2b4de9b78727d591e2b4c6945","signature":"ae6f6fba305a49e7298c3ecc0efb8ce26a11115fbd337924c4853a56ac912bcd1e4313ff774a38694665ae4862a7b70de13b455b0a5747ee3c3bdf4ab2c8d706"}`)
	var raw [9]json.RawMessage
	names := []string{"id", "sender", "recipient", "amount", "fee", "nonce", "version", "public_key", "signature"}
	field := func(name string) *json.RawMessage {
		for i, n := range names {
			if n == name {
				return &raw[i]
			}
		}
		return nil
	}
	for _, tt := range []struct {
		name string
		fn   func([]byte, func(string) *json.RawMessage) error
	}{{"members", Object}, {"tokenizer", objectSlow}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				raw = [9]json.RawMessage{}
				if err := tt.fn(data, field); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
