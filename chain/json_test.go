package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// jsonTestTx is an open-network transfer in the teaching chain's shape.
func jsonTestTx() *Transaction {
	return &Transaction{Version: TxVersion, Sender: "alice", Recipient: "bob", Amount: 5}
}

// jsonTestBlock is a small open-network block with readable fields.
func jsonTestBlock() *Block {
	txs := []*Transaction{
		{Version: TxVersion, Sender: CoinbaseSender, Recipient: "miner", Amount: 50, Nonce: 2},
		jsonTestTx(),
	}
	return &Block{
		Header: Header{
			Version:    HeaderVersion,
			Height:     2,
			PrevHash:   Hash{0: 0x00, 1: 0x00, 2: 0x0a, 31: 0x01},
			MerkleRoot: MerkleRoot(TxIDs(txs)),
			Timestamp:  1795478410500,
			Bits:       0x1e100000,
			Nonce:      7,
		},
		Transactions: txs,
	}
}

func TestTransactionJSONExact(t *testing.T) {
	tx := jsonTestTx()
	want := `{"id":"044e0ae00eaace8a1c94195fab6a2edae0f3564443731853650470e0f38c13b8",` +
		`"sender":"alice","recipient":"bob","amount":5,"fee":0,"nonce":0,"version":1}`
	got, err := json.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if id := tx.ID().String(); !strings.Contains(want, id) {
		t.Errorf("expected text does not carry the id %s", id)
	}

	// The teaching chain's request body: no id, fee, nonce or version.
	var back Transaction
	if err := json.Unmarshal([]byte(`{"sender": "alice", "recipient": "bob", "amount": 5}`), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, tx) {
		t.Errorf("classic body decoded to %+v, want %+v", back, *tx)
	}
}

// TestBlockJSONExact pins the whole text; the hashes in it were checked
// with an independent SHA-256 (Python hashlib) over the encodings.
func TestBlockJSONExact(t *testing.T) {
	want := `{"index":2,` +
		`"hash":"8401714d734173abb6da94e0bae3492596ff9de5abe67553630a0f0455d25651",` +
		`"previous_hash":"00000a0000000000000000000000000000000000000000000000000000000001",` +
		`"proof":7,"timestamp":1795478410.5,"transactions":[` +
		`{"id":"d7352bb788a78715bc1cdfac93f70bcf0ab9ab3d7bf8b72ebc0fd5b8e810141d",` +
		`"sender":"0","recipient":"miner","amount":50,"fee":0,"nonce":2,"version":1},` +
		`{"id":"044e0ae00eaace8a1c94195fab6a2edae0f3564443731853650470e0f38c13b8",` +
		`"sender":"alice","recipient":"bob","amount":5,"fee":0,"nonce":0,"version":1}],` +
		`"merkle_root":"065ebaa9468c59e546f3c7947fc76cd5e8f753d84ff80f6f9225b327f6521f27",` +
		`"version":1,"bits":504365056,` +
		`"target":"0000100000000000000000000000000000000000000000000000000000000000",` +
		`"difficulty":1048575}`
	b := jsonTestBlock()
	got, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var back Block
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, b) {
		t.Errorf("decoded %+v, want %+v", back, *b)
	}
}

func TestTransactionJSONRoundTrip(t *testing.T) {
	g := newGoldenVectors()
	name128 := strings.Repeat("é", MaxNameLen/2)
	for _, tc := range []struct {
		name string
		tx   *Transaction
	}{
		{"signed transfer", g.tx},
		{"coinbase", g.coinbase},
		{"open network", jsonTestTx()},
		{"unicode and escapes", &Transaction{Version: TxVersion, Sender: "ä😀<&>\"\\\u2028", Recipient: "\x00\t\n", Amount: 1}},
		{"longest names", &Transaction{Version: TxVersion, Sender: name128, Recipient: name128, Amount: MaxAmount}},
		{"limits", &Transaction{Version: math.MaxUint8, Sender: "a", Recipient: "b", Amount: MaxAmount, Fee: MaxAmount, Nonce: math.MaxUint64}},
		{"zero amount", &Transaction{Version: 0, Sender: "a", Recipient: "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := json.Marshal(tc.tx)
			if err != nil {
				t.Fatal(err)
			}
			var back Transaction
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			if !bytes.Equal(back.Encode(), tc.tx.Encode()) {
				t.Errorf("round trip changed the transaction:\n%+v\n%+v", back, *tc.tx)
			}
			again, err := json.Marshal(&back)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("second encoding differs (%v):\n%s\n%s", err, again, out)
			}
		})
	}
}

func TestTransactionJSONMarshalRefusesNonUTF8(t *testing.T) {
	tx := &Transaction{Version: TxVersion, Sender: "a\xff", Recipient: "b", Amount: 1}
	if _, err := json.Marshal(tx); !errors.Is(err, ErrMalformed) {
		t.Errorf("non-UTF-8 sender: %v, want ErrMalformed", err)
	}
}

func TestTransactionJSONAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Transaction
	}{
		{"minimal", `{"sender":"a","recipient":"b","amount":1}`,
			Transaction{Version: TxVersion, Sender: "a", Recipient: "b", Amount: 1}},
		{"nulls for optional fields", `{"sender":"a","recipient":"b","amount":1,"fee":null,"nonce":null,"version":null,"id":null,"public_key":null,"signature":null}`,
			Transaction{Version: TxVersion, Sender: "a", Recipient: "b", Amount: 1}},
		{"empty key and signature", `{"sender":"a","recipient":"b","amount":1,"public_key":"","signature":""}`,
			Transaction{Version: TxVersion, Sender: "a", Recipient: "b", Amount: 1}},
		{"surrogate pair and escapes", `{"sender":"\ud83d\ude00\u00e9\\u","recipient":"\/","amount":1}`,
			Transaction{Version: TxVersion, Sender: "😀é\\u", Recipient: "/", Amount: 1}},
		{"escaped member name", `{"s\u0065nder":"a","recipient":"b","amount":1}`,
			Transaction{Version: TxVersion, Sender: "a", Recipient: "b", Amount: 1}},
		{"largest values", `{"sender":"a","recipient":"b","amount":9007199254740991,"fee":9007199254740991,"nonce":18446744073709551615,"version":255}`,
			Transaction{Version: 255, Sender: "a", Recipient: "b", Amount: MaxAmount, Fee: MaxAmount, Nonce: math.MaxUint64}},
		{"whitespace", " \n{ \"sender\" : \"a\" ,\t\"recipient\":\"b\",\"amount\":0 } \n",
			Transaction{Version: TxVersion, Sender: "a", Recipient: "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Transaction
			if err := json.Unmarshal([]byte(tc.body), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// jsonTxBody is a valid open-network body with one member replaced:
// key=rawValue, or key removed when rawValue is "".
func jsonTxBody(key, rawValue string) string {
	members := []struct{ k, v string }{
		{"sender", `"alice"`}, {"recipient", `"bob"`}, {"amount", "5"}, {"fee", "0"}, {"nonce", "0"},
	}
	var parts []string
	found := false
	for _, m := range members {
		if m.k == key {
			found = true
			if rawValue == "" {
				continue
			}
			m.v = rawValue
		}
		parts = append(parts, strconv.Quote(m.k)+":"+m.v)
	}
	if !found {
		parts = append(parts, strconv.Quote(key)+":"+rawValue)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestTransactionJSONRejects(t *testing.T) {
	g := newGoldenVectors()
	signed, err := json.Marshal(g.tx)
	if err != nil {
		t.Fatal(err)
	}
	idAt := strings.Index(string(signed), `"id":"`) + len(`"id":"`)
	flipped := "0"
	if signed[idAt] == '0' {
		flipped = "1"
	}
	wrongID := string(signed[:idAt]) + flipped + string(signed[idAt+1:])
	tamperedAmount := strings.Replace(string(signed), `"amount":10`, `"amount":11`, 1)
	hex64 := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, body, field string // field: what the message must name
	}{
		{"empty input", ``, "object"},
		{"not an object", `[]`, "object"},
		{"null", `null`, "object"},
		{"string", `"tx"`, "object"},
		{"truncated", `{"sender":"a","recipient":`, "transaction"},
		{"trailing data", jsonTxBody("fee", "0") + `{}`, "after the object"},
		{"unknown field", jsonTxBody("memo", `"hi"`), "memo"},
		{"case-folded name", jsonTxBody("Amount", "6"), "Amount"},
		{"repeated name", jsonTxBody("amount", "5") + "", ""}, // placeholder, replaced below
		{"missing sender", jsonTxBody("sender", ""), "sender"},
		{"missing recipient", jsonTxBody("recipient", ""), "recipient"},
		{"missing amount", jsonTxBody("amount", ""), "amount"},
		{"float amount", jsonTxBody("amount", "1.5"), "amount"},
		{"integral float amount", jsonTxBody("amount", "5.0"), "amount"},
		{"exponent amount", jsonTxBody("amount", "5e0"), "amount"},
		{"negative amount", jsonTxBody("amount", "-5"), "amount"},
		{"negative zero amount", jsonTxBody("amount", "-0"), "amount"},
		{"overflowing amount", jsonTxBody("amount", "18446744073709551616"), "amount"},
		{"amount over MaxAmount", jsonTxBody("amount", "9007199254740992"), "amount"},
		{"string amount", jsonTxBody("amount", `"5"`), "amount"},
		{"null amount", jsonTxBody("amount", `null`), "amount"},
		{"bool amount", jsonTxBody("amount", `true`), "amount"},
		{"float fee", jsonTxBody("fee", "0.5"), "fee"},
		{"fee over MaxAmount", jsonTxBody("fee", "9007199254740992"), "fee"},
		{"overflowing nonce", jsonTxBody("nonce", "18446744073709551616"), "nonce"},
		{"string nonce", jsonTxBody("nonce", `"1"`), "nonce"},
		{"version over a byte", jsonTxBody("version", "256"), "version"},
		{"string version", jsonTxBody("version", `"1"`), "version"},
		{"bad hex key", jsonTxBody("public_key", `"`+strings.Repeat("zz", 32)+`"`), "public_key"},
		{"short key", jsonTxBody("public_key", `"`+hex64[:62]+`"`), "public_key"},
		{"long key", jsonTxBody("public_key", `"`+hex64+`ab"`), "public_key"},
		{"odd-length key", jsonTxBody("public_key", `"`+hex64[:63]+`"`), "public_key"},
		{"numeric key", jsonTxBody("public_key", `12`), "public_key"},
		{"short signature", jsonTxBody("signature", `"`+hex64+hex64[:62]+`"`), "signature"},
		{"bad hex signature", jsonTxBody("signature", `"`+hex64+strings.Repeat("0g", 32)+`"`), "signature"},
		{"wrong id", wrongID, "id"},
		{"id of other fields", tamperedAmount, "id"},
		{"bad id hex", jsonTxBody("id", `"xyz"`), "id"},
		{"huge sender", jsonTxBody("sender", `"`+strings.Repeat("a", MaxNameLen+1)+`"`), "sender"},
		{"huge recipient", jsonTxBody("recipient", `"`+strings.Repeat("é", MaxNameLen/2+1)+`"`), "recipient"},
		{"empty sender", jsonTxBody("sender", `""`), "sender"},
		{"non-UTF-8 sender", jsonTxBody("sender", "\"a\xffb\""), "sender"},
		{"non-UTF-8 recipient", jsonTxBody("recipient", "\"\xc3\""), "recipient"},
		{"lone high surrogate", jsonTxBody("sender", `"\ud800"`), "sender"},
		{"lone low surrogate", jsonTxBody("sender", `"a\udc00"`), "sender"},
		{"reversed surrogates", jsonTxBody("sender", `"\ude00\ud83d"`), "sender"},
		{"high surrogate then text", jsonTxBody("recipient", `"\ud83dxxxxxx"`), "recipient"},
		{"numeric sender", jsonTxBody("sender", `7`), "sender"},
		{"null sender", jsonTxBody("sender", `null`), "sender"},
	} {
		if tc.name == "repeated name" {
			tc.body = `{"sender":"a","recipient":"b","amount":1,"amount":2}`
			tc.field = "amount"
		}
		t.Run(tc.name, func(t *testing.T) {
			var tx Transaction
			before := tx
			err := tx.UnmarshalJSON([]byte(tc.body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: got %v, want ErrMalformed", tc.body, err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
			if !reflect.DeepEqual(tx, before) {
				t.Errorf("failed decode changed the transaction: %+v", tx)
			}
			// Through encoding/json as well, where the body is valid JSON.
			if json.Valid([]byte(tc.body)) {
				var viaPkg Transaction
				if err := json.Unmarshal([]byte(tc.body), &viaPkg); !errors.Is(err, ErrMalformed) {
					t.Errorf("json.Unmarshal: %v, want ErrMalformed", err)
				}
			}
		})
	}
}

func TestBlockJSONRoundTrip(t *testing.T) {
	g := newGoldenVectors()
	noTarget := jsonTestBlock()
	noTarget.Header.Bits = 0xff7fffff // overflows 256 bits
	negTime := jsonTestBlock()
	negTime.Header.Timestamp = -1
	extremes := &Block{Header: Header{Version: math.MaxUint32, Height: math.MaxUint64, Timestamp: math.MinInt64, Bits: 0x01003456, Nonce: math.MaxUint64}}
	maxTime := &Block{Header: Header{Timestamp: math.MaxInt64, Bits: 0x2100ffff}}
	for _, tc := range []struct {
		name string
		b    *Block
	}{
		{"golden", g.block},
		{"open network", jsonTestBlock()},
		{"genesis", DevNet().Genesis()},
		{"regtest genesis", RegTest().Genesis()},
		{"no target", noTarget},
		{"negative timestamp", negTime},
		{"extremes, no transactions", extremes},
		{"largest timestamp, largest target", maxTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := json.Marshal(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			var back Block
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			if !bytes.Equal(back.Encode(), tc.b.Encode()) {
				t.Errorf("round trip changed the block:\n%s", out)
			}
			again, err := json.Marshal(&back)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("second encoding differs (%v):\n%s\n%s", err, again, out)
			}
		})
	}
}

// jsonBlockEdit returns the test block's JSON with one member's raw text
// replaced, or the member removed when raw is "".
func jsonBlockEdit(t *testing.T, key, raw string) string {
	t.Helper()
	out, err := json.Marshal(jsonTestBlock())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if raw == "" {
		delete(m, key)
	} else {
		m[key] = json.RawMessage(raw)
	}
	edited, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(edited)
}

func TestBlockJSONRejects(t *testing.T) {
	small := `{"sender":"a","recipient":"b","amount":1}`
	tooMany := `[` + strings.Repeat(small+",", MaxBlockTxs) + small + `]`
	name := strings.Repeat("n", MaxNameLen)
	bigTx := `{"sender":"` + name + `","recipient":"` + name + `","amount":1,"public_key":"` +
		strings.Repeat("11", 32) + `","signature":"` + strings.Repeat("22", 64) + `"}`
	tooBig := `[` + strings.Repeat(bigTx+",", MaxBlockSize/380) + bigTx + `]`
	for _, tc := range []struct {
		name, key, raw string
		code           ErrorCode
		field          string
	}{
		{"wrong hash", "hash", `"` + Hash{1}.String() + `"`, ErrMalformed, "hash"},
		{"bad hash", "hash", `"00"`, ErrMalformed, "hash"},
		{"wrong target", "target", `"` + strings.Repeat("0", 63) + `1"`, ErrMalformed, "target"},
		{"numeric target", "target", `1`, ErrMalformed, "target"},
		{"wrong difficulty", "difficulty", `1048576`, ErrMalformed, "difficulty"},
		{"string difficulty", "difficulty", `"1048575"`, ErrMalformed, "difficulty"},
		{"huge difficulty", "difficulty", `1e999`, ErrMalformed, "difficulty"},
		{"target for invalid bits", "bits", `4286578687`, ErrMalformed, "target"},
		{"float index", "index", `2.0`, ErrMalformed, "index"},
		{"negative index", "index", `-2`, ErrMalformed, "index"},
		{"overflowing proof", "proof", `18446744073709551616`, ErrMalformed, "proof"},
		{"string proof", "proof", `"7"`, ErrMalformed, "proof"},
		{"bits over 32 bits", "bits", `4294967296`, ErrMalformed, "bits"},
		{"version over 32 bits", "version", `4294967296`, ErrMalformed, "version"},
		{"string timestamp", "timestamp", `"1795478410.5"`, ErrMalformed, "timestamp"},
		{"timestamp out of range", "timestamp", `1e17`, ErrMalformed, "timestamp"},
		{"negative timestamp out of range", "timestamp", `-9223372036854775.8085`, ErrMalformed, "timestamp"},
		{"short previous hash", "previous_hash", `"abcd"`, ErrMalformed, "previous_hash"},
		{"null merkle root", "merkle_root", `null`, ErrMalformed, "merkle_root"},
		{"transactions object", "transactions", `{}`, ErrMalformed, "transactions"},
		{"transactions null", "transactions", `null`, ErrMalformed, "transactions"},
		{"bad transaction", "transactions", `[` + small + `,{"sender":"a","recipient":"b","amount":1.5}]`, ErrMalformed, "transaction 1: amount"},
		{"null transaction", "transactions", `[null]`, ErrMalformed, "transaction 0"},
		{"too many transactions", "transactions", tooMany, ErrTooManyTxs, "transactions"},
		{"too big", "transactions", tooBig, ErrBlockTooBig, "bytes"},
		{"unknown field", "nonce", `1`, ErrMalformed, "nonce"},
		{"case-folded field", "Index", `2`, ErrMalformed, "Index"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := jsonBlockEdit(t, tc.key, tc.raw)
			if tc.key == "bits" && tc.field == "target" {
				// Keep the target, drop the difficulty, so the target is what fails.
				body = jsonBlockEdit(t, "difficulty", "")
				body = strings.Replace(body, `"bits":504365056`, `"bits":4286578687`, 1)
				body = strings.Replace(body, `"hash":"`+jsonTestBlock().Hash().String()+`",`, "", 1)
			}
			var b Block
			err := b.UnmarshalJSON([]byte(body))
			if !errors.Is(err, tc.code) {
				t.Fatalf("got %v, want %v", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
			if !reflect.DeepEqual(b, Block{}) {
				t.Error("failed decode changed the block")
			}
		})
	}
	for _, key := range []string{"index", "previous_hash", "proof", "timestamp", "transactions", "merkle_root", "version", "bits"} {
		t.Run("missing "+key, func(t *testing.T) {
			var b Block
			err := json.Unmarshal([]byte(jsonBlockEdit(t, key, "")), &b)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), key) {
				t.Errorf("got %v, want ErrMalformed naming %s", err, key)
			}
		})
	}
	for _, key := range []string{"hash", "target", "difficulty"} {
		t.Run("optional "+key, func(t *testing.T) {
			var b Block
			if err := json.Unmarshal([]byte(jsonBlockEdit(t, key, "")), &b); err != nil {
				t.Fatal(err)
			}
			if b.Hash() != jsonTestBlock().Hash() {
				t.Error("decoded a different block")
			}
		})
	}
}

func TestJSONSeconds(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		text string
	}{
		{0, "0"}, {1, "0.001"}, {10, "0.01"}, {100, "0.1"}, {999, "0.999"}, {1000, "1"}, {1001, "1.001"},
		{-1, "-0.001"}, {-1000, "-1"}, {1795478400123, "1795478400.123"}, {1795478400000, "1795478400"},
		{math.MaxInt64, "9223372036854775.807"}, {math.MinInt64, "-9223372036854775.808"},
	} {
		if got := jsonSeconds(tc.ms); got != tc.text {
			t.Errorf("jsonSeconds(%d) = %s, want %s", tc.ms, got, tc.text)
		}
		if got, err := jsonMillis(json.RawMessage(tc.text), "timestamp"); err != nil || got != tc.ms {
			t.Errorf("jsonMillis(%s) = %d, %v; want %d", tc.text, got, err, tc.ms)
		}
	}
}

func TestJSONMillisRounding(t *testing.T) {
	for _, tc := range []struct {
		text string
		ms   int64
		ok   bool
	}{
		{"1795478400.1234", 1795478400123, true},
		{"1795478400.1235", 1795478400124, true}, // halves away from zero
		{"1795478400.12349999999999999999", 1795478400123, true},
		{"1795478400.0005", 1795478400001, true},
		{"1.7954784001235e9", 1795478400124, true},
		{"17954784001235E-4", 1795478400124, true},
		{"0.0005", 1, true},
		{"0.0004999", 0, true},
		{"-0.0005", -1, true},
		{"-0.0004", 0, true},
		{"-0", 0, true},
		{"0e99999999999999999999", 0, true},
		{"0.000e-5", 0, true},
		{"5e-1", 500, true},
		{"1E3", 1000000, true},
		{"1e+3", 1000000, true},
		{"1e-400", 0, true},
		{"5e-4", 1, true},
		{"9223372036854775.8074", math.MaxInt64, true},
		{"-9223372036854775.8084", math.MinInt64, true},
		{"9223372036854775.8075", 0, false},
		{"9223372036854775.808", 0, false},
		{"-9223372036854775.809", 0, false},
		{"1e400", 0, false},
		{"1e99999999999999999999", 0, false},
		{"10000000000000000000", 0, false},
		{"18446744073709551.616", 0, false},
		{`"1"`, 0, false},
		{"null", 0, false},
		{"", 0, false},
		{"1.", 0, false},
		{".5", 0, false},
		{"1e", 0, false},
		{"--1", 0, false},
		{"0x10", 0, false},
	} {
		got, err := jsonMillis(json.RawMessage(tc.text), "timestamp")
		if tc.ok && (err != nil || got != tc.ms) {
			t.Errorf("%s: got %d, %v; want %d", tc.text, got, err, tc.ms)
		}
		if !tc.ok && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %d, %v; want ErrMalformed", tc.text, got, err)
		}
	}
}
