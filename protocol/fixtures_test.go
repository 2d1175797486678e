package protocol

import (
	"bytes"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// Fixed test values. Nothing here needs to pass chain's rules (proof of
// work, signatures): this package checks encodings, sizes and links only.

// hashOf returns SHA-256 of label: a stable, distinct, non-zero hash.
func hashOf(label string) chain.Hash { return sha256.Sum256([]byte(label)) }

var (
	testGenesis = hashOf("genesis")
	testTip     = hashOf("tip")
)

func testStatus() Status {
	work, _ := new(big.Int).SetString("1d1a94a20000", 16) // 32,000,000,000,000
	return Status{Genesis: testGenesis, Tip: testTip, Height: 1000, Work: work}
}

// testHeaders returns n headers linked to each other, the first building
// on parent at height 501.
func testHeaders(parent chain.Hash, n int) []chain.Header {
	out := make([]chain.Header, n)
	prev := parent
	for i := range out {
		out[i] = chain.Header{
			Version:    chain.HeaderVersion,
			Height:     501 + uint64(i),
			PrevHash:   prev,
			MerkleRoot: hashOf("merkle" + string(rune('a'+i%26))),
			Timestamp:  1795478400000 + 5000*int64(501+i),
			Bits:       0x1f00ffff,
			Nonce:      uint64(7919 * (i + 1)),
		}
		prev = out[i].Hash()
	}
	return out
}

// testGetHeaders is a request answered by testHeaders(hashOf("loc 1"), n)
// for n up to MaxHeadersPerResponse: the server's fork point is the second
// locator hash.
func testGetHeaders() GetHeaders {
	return GetHeaders{
		Locator: []chain.Hash{hashOf("loc 0"), hashOf("loc 1"), testGenesis},
		Max:     MaxHeadersPerResponse,
	}
}

// testBlock is a block with a coinbase and one transfer; the key and
// signature are fixed bytes, not a real signature.
func testBlock() *chain.Block {
	return &chain.Block{
		Header: testHeaders(hashOf("loc 1"), 1)[0],
		Transactions: []*chain.Transaction{
			{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: "miner", Amount: 50, Nonce: 501},
			{
				Version: chain.TxVersion, Sender: "alice", Recipient: "bob", Amount: 10, Fee: 1, Nonce: 3,
				PublicKey: bytes.Repeat([]byte{0xaa}, 32),
				Signature: bytes.Repeat([]byte{0x55}, 64),
			},
		},
	}
}

// roundTripRequest writes m with Writer and reads it back with Reader.
func roundTripRequest(t testing.TB, m *pb.Request) *pb.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := NewWriter(&buf).WriteRequest(m); err != nil {
		t.Fatalf("WriteRequest: %v", err)
	}
	got, err := NewReader(&buf).ReadRequest()
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	return got
}

// roundTripResponse writes m with Writer and reads it back with Reader.
func roundTripResponse(t testing.TB, m *pb.Response) *pb.Response {
	t.Helper()
	var buf bytes.Buffer
	if err := NewWriter(&buf).WriteResponse(m); err != nil {
		t.Fatalf("WriteResponse: %v", err)
	}
	got, err := NewReader(&buf).ReadResponse()
	if err != nil {
		t.Fatalf("ReadResponse: %v", err)
	}
	return got
}
