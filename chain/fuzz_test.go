package chain

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Fuzz targets for every decoder of outside data. Each is seeded with the
// golden vectors. Run one with, for example:
//
//	go test ./chain -run '^$' -fuzz FuzzDecodeBlock -fuzztime 30s
//
// Properties: no panic; every error carries a rule code; what decodes
// re-encodes to exactly the bytes consumed (one encoding per value, so
// content-hash message ids cannot be varied by re-encoding); JSON decode,
// encode, decode is stable, accepts only valid JSON and fits the binary
// limits.

// fuzzCheckCode fails t unless err carries one of the allowed codes.
func fuzzCheckCode(t *testing.T, err error, allowed ...ErrorCode) {
	t.Helper()
	code := CodeOf(err)
	for _, c := range allowed {
		if code == c {
			return
		}
	}
	t.Fatalf("error %v has code %v, want one of %v", err, code, allowed)
}

func fuzzSeedBinary(f *testing.F) {
	g := newGoldenVectors()
	hdr := g.block.Header.Encode()
	f.Add(hdr[:])
	f.Add(g.tx.Encode())
	f.Add(g.coinbase.Encode())
	f.Add(g.block.Encode())
	for _, p := range []*Params{DevNet(), OpenNet(), RegTest()} {
		f.Add(p.Genesis().Encode())
	}
	f.Add(jsonTestBlock().Encode())
	f.Add([]byte{})
}

func FuzzDecodeHeader(f *testing.F) {
	fuzzSeedBinary(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeHeader(data)
		if err != nil {
			fuzzCheckCode(t, err, ErrMalformed)
			return
		}
		if enc := h.Encode(); !bytes.Equal(enc[:], data) {
			t.Fatalf("re-encoded %x, input %x", enc, data)
		}
	})
}

func FuzzDecodeTransaction(f *testing.F) {
	fuzzSeedBinary(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		PeekFee(data) // any input: no panic, no read past the end
		tx, used, err := DecodeTransaction(data)
		if err != nil {
			fuzzCheckCode(t, err, ErrMalformed)
			return
		}
		if used < 0 || used > len(data) || used > MaxTxSize {
			t.Fatalf("used %d of %d bytes (limit %d)", used, len(data), MaxTxSize)
		}
		if enc := tx.Encode(); !bytes.Equal(enc, data[:used]) {
			t.Fatalf("re-encoded %x, consumed %x", enc, data[:used])
		}
		if tx.EncodedSize() != used {
			t.Fatalf("EncodedSize %d, used %d", tx.EncodedSize(), used)
		}
		if fee, ok := PeekFee(data); !ok || fee != tx.Fee {
			t.Fatalf("PeekFee %d, %v; the decoder read fee %d", fee, ok, tx.Fee)
		}
	})
}

func FuzzDecodeBlock(f *testing.F) {
	fuzzSeedBinary(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBlock(data)
		if err != nil {
			fuzzCheckCode(t, err, ErrMalformed, ErrBlockTooBig, ErrTooManyTxs)
			return
		}
		if enc := b.Encode(); !bytes.Equal(enc, data) {
			t.Fatalf("re-encoded %x, input %x", enc, data)
		}
		if b.EncodedSize() != len(data) {
			t.Fatalf("EncodedSize %d, input %d bytes", b.EncodedSize(), len(data))
		}
	})
}

func fuzzSeedJSON(f *testing.F, values ...json.Marshaler) {
	for _, v := range values {
		out, err := v.MarshalJSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out)
	}
}

func FuzzTransactionJSON(f *testing.F) {
	g := newGoldenVectors()
	fuzzSeedJSON(f, g.tx, g.coinbase, jsonTestTx())
	for _, s := range []string{
		`{"sender":"a","recipient":"b","amount":1}`,
		`{"sender":"\ud83d\ude00","recipient":"\u00e9\\","amount":1e3,"fee":-0,"nonce":"1"}`,
		`{"sender":"a","recipient":"b","amount":1,"Amount":1,"amount":2}`,
		`{"sender":null,"public_key":"","signature":null,"version":255}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tx Transaction
		if err := tx.UnmarshalJSON(data); err != nil {
			fuzzCheckCode(t, err, ErrMalformed)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		out, err := json.Marshal(&tx)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", tx, err)
		}
		var again Transaction
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("own output %s does not decode: %v", out, err)
		}
		out2, err := json.Marshal(&again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("unstable: %s then %s (%v)", out, out2, err)
		}
		bin := tx.Encode()
		if !bytes.Equal(again.Encode(), bin) {
			t.Fatalf("JSON round trip changed the transaction: %x then %x", bin, again.Encode())
		}
		back, used, err := DecodeTransaction(bin)
		if err != nil || used != len(bin) || !bytes.Equal(back.Encode(), bin) {
			t.Fatalf("binary decoder refuses what JSON accepted: %x: %v", bin, err)
		}
	})
}

func FuzzBlockJSON(f *testing.F) {
	g := newGoldenVectors()
	fuzzSeedJSON(f, g.block, jsonTestBlock(), DevNet().Genesis(), RegTest().Genesis())
	for _, s := range []string{
		`{"index":0,"previous_hash":"0000000000000000000000000000000000000000000000000000000000000000","proof":0,"timestamp":-1e-3,"transactions":[],"merkle_root":"0000000000000000000000000000000000000000000000000000000000000000","version":0,"bits":4286578687}`,
		`{"index":1,"previous_hash":"0000000000000000000000000000000000000000000000000000000000000000","proof":1,"timestamp":9223372036854775.807,"transactions":[{"sender":"a","recipient":"b","amount":1}],"merkle_root":"0000000000000000000000000000000000000000000000000000000000000000","version":1,"bits":33554432,"difficulty":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Block
		if err := b.UnmarshalJSON(data); err != nil {
			fuzzCheckCode(t, err, ErrMalformed, ErrBlockTooBig, ErrTooManyTxs)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		out, err := json.Marshal(&b)
		if err != nil {
			t.Fatalf("decoded a block that cannot be encoded: %v", err)
		}
		var again Block
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("own output %s does not decode: %v", out, err)
		}
		out2, err := json.Marshal(&again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("unstable: %s then %s (%v)", out, out2, err)
		}
		bin := b.Encode()
		if !bytes.Equal(again.Encode(), bin) {
			t.Fatalf("JSON round trip changed the block")
		}
		back, err := DecodeBlock(bin)
		if err != nil || !bytes.Equal(back.Encode(), bin) {
			t.Fatalf("binary decoder refuses what JSON accepted: %x: %v", bin, err)
		}
	})
}
