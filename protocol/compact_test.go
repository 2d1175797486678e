package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// manyTxBlock is testBlock with n-1 distinct transfers after its coinbase.
func manyTxBlock(n int) *chain.Block {
	b := testBlock()
	tmpl := *b.Transactions[1]
	b.Transactions = b.Transactions[:1]
	for i := 1; i < n; i++ {
		tx := tmpl
		tx.Nonce = uint64(i)
		b.Transactions = append(b.Transactions, &tx)
	}
	return b
}

func TestCompactBlockRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		txs     int
		prefill func(int) bool
	}{
		{"coinbase only", 1, nil},
		{"short ids", 5, nil},
		{"every other prefilled", 9, func(i int) bool { return i%2 == 1 }},
		{"all prefilled", 4, func(int) bool { return true }},
		{"last prefilled", 300, func(i int) bool { return i == 299 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := manyTxBlock(tc.txs)
			c := NewCompactBlock(b, 0x0102030405060708, tc.prefill)
			if c.TxCount() != tc.txs || c.Prefilled[0].Index != 0 {
				t.Fatalf("TxCount %d, first prefilled %d", c.TxCount(), c.Prefilled[0].Index)
			}
			enc := c.Encode()
			back, err := DecodeCompactBlock(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Encode(), enc) {
				t.Fatal("decode then encode changed the bytes")
			}
			if !back.Matches(b) {
				t.Fatal("the decoded compact block does not match its block")
			}
			other := manyTxBlock(tc.txs)
			other.Transactions[tc.txs-1].Amount++
			if back.Matches(other) {
				t.Fatal("matches a block with another last transaction")
			}
		})
	}
}

// The short id is BIP152's construction on our header: pinned, so a
// second implementation can check its own against these bytes.
func TestShortIDGolden(t *testing.T) {
	b := testBlock()
	k0, k1 := ShortIDKeys(&b.Header, 7)
	got := fmt.Sprintf("%016x %016x %012x", k0, k1, ShortID(k0, k1, b.Transactions[1].ID()))
	const want = "413606e6de1bd668 48b03a47a6719f2a 5155b5bc7f04"
	if got != want {
		t.Fatalf("keys and short id %s, want %s (docs/protocol.md §16.6)", got, want)
	}
	if ShortID(k0, k1, b.Transactions[1].ID()) >= 1<<48 {
		t.Fatal("short id over 48 bits")
	}
}

func TestDecodeCompactBlockRefuses(t *testing.T) {
	good := NewCompactBlock(manyTxBlock(3), 1, nil).Encode()
	hdrNonce := good[:chain.HeaderSize+8]
	with := func(tail ...byte) []byte { return append(bytes.Clone(hdrNonce), tail...) }
	coinbase := testBlock().Transactions[0].Encode()
	cases := map[string][]byte{
		"empty":                   nil,
		"header only":             good[:chain.HeaderSize],
		"no counts":               hdrNonce,
		"padded short id count":   with(0x80, 0x00),
		"short ids past the end":  with(2, 1, 2, 3, 4, 5, 6),
		"too many short ids":      with(0x80, 0x20),
		"no prefilled":            with(0, 0),
		"coinbase not at index 0": append(with(1, 1, 2, 3, 4, 5, 6, 1, 1), coinbase...),
		"prefilled past the end":  append(with(0, 1, 1), coinbase...),
		"prefilled count too big": with(0, 5, 0),
		"trailing byte":           append(bytes.Clone(good), 0),
		"over the size limit":     make([]byte, MaxBlockMessageSize+1),
		"truncated":               good[:len(good)-1],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeCompactBlock(data); !errors.Is(err, ErrBadMessage) {
				t.Fatalf("err %v, want ErrBadMessage", err)
			}
		})
	}
}

// The largest compact block sends every transaction of a maximal block
// whole: the block's bytes, the nonce, an empty short-id count and a
// one-byte index difference per transaction over them. It fits the block
// topic's limit, and so do the largest blocktxn messages.
func TestLargestCompactBlockFits(t *testing.T) {
	b := manyTxBlock(50)
	enc := NewCompactBlock(b, 0, func(int) bool { return true }).Encode()
	if got, want := len(enc), b.EncodedSize()+8+1+len(b.Transactions); got != want {
		t.Fatalf("all-prefilled compact block of %d bytes, want %d", got, want)
	}
	if largest := chain.MaxBlockSize + 8 + 1 + chain.MaxBlockTxs; largest > MaxBlockMessageSize {
		t.Fatalf("largest compact block %d bytes, limit %d", largest, MaxBlockMessageSize)
	}
	req := &BlockTxnRequest{Block: b.Hash()}
	for i := 1; i < chain.MaxBlockTxs; i++ {
		req.Indexes = append(req.Indexes, i)
	}
	req.Indexes[len(req.Indexes)-1] = chain.MaxBlockTxs - 1
	if n := len(req.Encode()); n > MaxBlockTxnRequestSize {
		t.Fatalf("request of %d bytes, limit %d", n, MaxBlockTxnRequestSize)
	}
	// A response's transactions fit in a block, so its size is at most a
	// block's less the header, plus the hash and count.
	if largest := chain.HashSize + 2 + chain.MaxBlockSize - chain.HeaderSize; largest > MaxBlockTxnResponseSize {
		t.Fatalf("largest response %d bytes, limit %d", largest, MaxBlockTxnResponseSize)
	}
}

func TestBlockTxnRoundTrip(t *testing.T) {
	b := manyTxBlock(200)
	req := &BlockTxnRequest{Block: b.Hash(), Indexes: []int{0, 1, 130, 199}}
	back, err := DecodeBlockTxnRequest(req.Encode())
	if err != nil || !reflect.DeepEqual(back, req) {
		t.Fatalf("request %+v, %v; want %+v", back, err, req)
	}
	resp := &BlockTxnResponse{Block: b.Hash()}
	for _, i := range req.Indexes {
		resp.Txs = append(resp.Txs, b.Transactions[i])
	}
	got, err := DecodeBlockTxnResponse(resp.Encode(), req)
	if err != nil || !bytes.Equal(got.Encode(), resp.Encode()) {
		t.Fatalf("response %v", err)
	}
	short := &BlockTxnResponse{Block: b.Hash(), Txs: resp.Txs[:3]}
	if _, err := DecodeBlockTxnResponse(short.Encode(), req); !errors.Is(err, ErrUnrequested) {
		t.Fatalf("a short answer: %v, want ErrUnrequested", err)
	}
	other := &BlockTxnResponse{Block: hashOf("other"), Txs: resp.Txs}
	if _, err := DecodeBlockTxnResponse(other.Encode(), req); !errors.Is(err, ErrUnrequested) {
		t.Fatalf("another block's answer: %v, want ErrUnrequested", err)
	}
	h := b.Hash()
	for name, data := range map[string][]byte{
		"no indexes":        append(h[:], 0),
		"index past limit":  append(h[:], 1, 0x80, 0x20),
		"padded index":      append(h[:], 1, 0x80, 0x00),
		"trailing":          append(h[:], 1, 0, 0),
		"short":             h[:31],
		"count over bytes":  append(h[:], 3, 0),
		"over the limit":    make([]byte, MaxBlockTxnRequestSize+1),
		"sum past the end":  append(append(h[:], 2), hexBytes(t, "ff1f01")...),
		"count over limits": append(h[:], 0x80, 0x20),
	} {
		if _, err := DecodeBlockTxnRequest(data); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v, want ErrBadMessage", name, err)
		}
	}
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadToEnd(t *testing.T) {
	if b, err := ReadToEnd(bytes.NewReader(make([]byte, 10)), 10); err != nil || len(b) != 10 {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	if _, err := ReadToEnd(bytes.NewReader(make([]byte, 11)), 10); !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, ErrBadMessage) {
		t.Fatalf("over the limit: %v", err)
	}
}

// Fuzz the compact block and blocktxn decoders: nothing panics, every
// refusal is ErrBadMessage, and whatever decodes encodes back to the same
// bytes (one encoding per message, so one gossip message id).
//
//	go test ./protocol -run '^$' -fuzz FuzzDecodeCompactBlock -fuzztime 30s
//	go test ./protocol -run '^$' -fuzz FuzzDecodeBlockTxn -fuzztime 30s
func FuzzDecodeCompactBlock(f *testing.F) {
	f.Add(NewCompactBlock(manyTxBlock(3), 1, nil).Encode())
	f.Add(NewCompactBlock(manyTxBlock(5), 2, func(i int) bool { return i > 2 }).Encode())
	f.Add(NewCompactBlock(manyTxBlock(1), 3, nil).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCompactBlock(data)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error not ErrBadMessage: %v", err)
			}
			return
		}
		if !bytes.Equal(c.Encode(), data) {
			t.Fatalf("re-encoding changed the bytes")
		}
		if c.TxCount() > chain.MaxBlockTxs || c.Prefilled[0].Index != 0 {
			t.Fatalf("decoded %d transactions, first prefilled %d", c.TxCount(), c.Prefilled[0].Index)
		}
		for i := 1; i < len(c.Prefilled); i++ {
			if c.Prefilled[i].Index <= c.Prefilled[i-1].Index || c.Prefilled[i].Index >= c.TxCount() {
				t.Fatalf("prefilled index %d after %d of %d", c.Prefilled[i].Index, c.Prefilled[i-1].Index, c.TxCount())
			}
		}
	})
}

func FuzzDecodeBlockTxn(f *testing.F) {
	b := manyTxBlock(4)
	req := &BlockTxnRequest{Block: b.Hash(), Indexes: []int{1, 3}}
	f.Add(req.Encode(), true)
	f.Add((&BlockTxnResponse{Block: b.Hash(), Txs: []*chain.Transaction{b.Transactions[1], b.Transactions[3]}}).Encode(), false)
	f.Fuzz(func(t *testing.T, data []byte, isRequest bool) {
		if isRequest {
			r, err := DecodeBlockTxnRequest(data)
			if err != nil {
				if !errors.Is(err, ErrBadMessage) {
					t.Fatalf("error not ErrBadMessage: %v", err)
				}
				return
			}
			if !bytes.Equal(r.Encode(), data) {
				t.Fatal("re-encoding changed the request")
			}
			for i, idx := range r.Indexes {
				if idx >= chain.MaxBlockTxs || (i > 0 && idx <= r.Indexes[i-1]) {
					t.Fatalf("indexes %v", r.Indexes)
				}
			}
			return
		}
		r, err := DecodeBlockTxnResponse(data, req)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error not ErrBadMessage: %v", err)
			}
			return
		}
		if !bytes.Equal(r.Encode(), data) || len(r.Txs) != len(req.Indexes) {
			t.Fatal("re-encoding changed the response")
		}
	})
}

// TestBlockTxnAnswerBound: a right answer for n transactions of the
// largest size fits the bound, and the bound never passes the largest
// answer of all.
func TestBlockTxnAnswerBound(t *testing.T) {
	for _, n := range []int{0, 1, 2, 100, 2000, chain.MaxBlockTxs - 1, chain.MaxBlockTxs} {
		b := BlockTxnAnswerBound(n)
		if b > MaxBlockTxnResponseSize {
			t.Errorf("bound for %d: %d, over the largest answer %d", n, b, MaxBlockTxnResponseSize)
		}
		if need := chain.HashSize + binary.MaxVarintLen16 + n*chain.MaxTxSize; need <= MaxBlockTxnResponseSize && b < need {
			t.Errorf("bound for %d: %d, below the %d an answer of largest transactions takes", n, b, need)
		}
	}
}
