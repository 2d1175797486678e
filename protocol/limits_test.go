package protocol

import (
	"math"
	"math/big"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// The relations limits.go states: the largest valid message of each kind
// fits the limit its reader applies, and the gossip limits hold the
// payloads they carry with room for pubsub's envelope.
func TestLimitsHoldLargestMessages(t *testing.T) {
	hash := func(i int) chain.Hash { return hashOf(string(rune(i))) }
	hashes := func(n int) []chain.Hash {
		out := make([]chain.Hash, n)
		for i := range out {
			out[i] = hash(i)
		}
		return out
	}
	maxWork := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8*MaxWorkBytes), big.NewInt(1))
	maxStatus := Status{Genesis: hash(1), Tip: hash(2), Height: math.MaxUint64, Work: maxWork}

	requests := map[string]*pb.Request{
		"status":      StatusRequest(maxStatus),
		"get_headers": GetHeadersRequest(GetHeaders{Locator: hashes(MaxLocatorLen), Stop: hash(3), Max: MaxHeadersPerResponse}),
		"get_blocks":  GetBlocksRequest(hashes(MaxBlocksPerRequest)),
	}
	for name, m := range requests {
		if n := proto.Size(m); n > MaxRequestSize {
			t.Errorf("largest %s request is %d bytes, MaxRequestSize %d", name, n, MaxRequestSize)
		}
	}

	headers := make([]chain.Header, MaxHeadersPerResponse)
	for i := range headers {
		headers[i] = chain.Header{Height: math.MaxUint64, Timestamp: math.MaxInt64, Nonce: math.MaxUint64}
	}
	responses := map[string]*pb.Response{
		"status":  StatusResponse(maxStatus),
		"headers": HeadersResponse(headers),
		"block":   {Body: &pb.Response_Block{Block: &pb.Block{Block: make([]byte, chain.MaxBlockSize)}}},
		"error":   ErrorResponse(math.MaxUint32, string(make([]byte, MaxErrorMessageLen))),
	}
	for name, m := range responses {
		if n := proto.Size(m); n > MaxMessageSize {
			t.Errorf("largest %s response is %d bytes, MaxMessageSize %d", name, n, MaxMessageSize)
		}
	}

	// Half the frame limit and a little: a compact block of a maximal
	// block sent whole leaves the envelope ample room.
	if MaxBlockMessageSize > MaxGossipMessageSize/2+16<<10 {
		t.Errorf("a block of %d bytes leaves too little of the %d-byte gossip limit for the envelope", MaxBlockMessageSize, MaxGossipMessageSize)
	}
	if MaxTxMessageSize > MaxBlockMessageSize {
		t.Errorf("a transaction (%d) could not fit in a block (%d)", MaxTxMessageSize, MaxBlockMessageSize)
	}
	if MaxLocatorLen != chain.MaxLocatorLen {
		t.Errorf("MaxLocatorLen %d, chain builds up to %d", MaxLocatorLen, chain.MaxLocatorLen)
	}
}

func TestResponseTimeout(t *testing.T) {
	if got := ResponseTimeout(0); got != ResponseLatency {
		t.Errorf("ResponseTimeout(0) = %v, want %v", got, ResponseLatency)
	}
	got := ResponseTimeout(MaxMessageSize)
	if got < 10*time.Second || got > 20*time.Second {
		t.Errorf("ResponseTimeout(MaxMessageSize) = %v; the comments promise about 13 s", got)
	}
	if whole := MaxBlocksPerRequest * got; whole > 30*time.Minute {
		t.Errorf("a full GetBlocks may take %v", whole)
	}
}
