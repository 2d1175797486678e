package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/protocol/pb"
)

// The fuzz targets feed raw bytes to a Reader, as a peer's stream would,
// and every message it accepts through the conversions a node applies.
// Properties: nothing panics; every error is a clean end, a cut stream or
// ErrBadMessage (or, for an Error response, ErrRemote); and whatever is
// accepted encodes back to a message that is accepted as the same value.
//
//	go test ./protocol -run '^$' -fuzz FuzzReadRequest -fuzztime 30s
//	go test ./protocol -run '^$' -fuzz FuzzReadResponse -fuzztime 30s

// maxFuzzMessages bounds how many messages one input is read as.
const maxFuzzMessages = 4

func addGoldenSeeds(f *testing.F, prefix string) {
	vals := goldenValues(f)
	var all []byte
	for name, b := range vals {
		if strings.HasPrefix(name, prefix) {
			f.Add(b)
			all = append(all, b...)
		}
	}
	f.Add(all)
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{0x81, 0x00})
	f.Add(bytes.Repeat([]byte{0xff}, 12))
}

// checkReadErr fails on an error that is neither the stream's end nor
// the peer's fault.
func checkReadErr(t *testing.T, err error) {
	t.Helper()
	if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrBadMessage) {
		t.Fatalf("unclassified read error: %v", err)
	}
}

func checkConvErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrBadMessage) && !errors.Is(err, ErrRemote) {
		t.Fatalf("unclassified error: %v", err)
	}
}

func FuzzReadRequest(f *testing.F) {
	addGoldenSeeds(f, "request.")
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for range maxFuzzMessages {
			req, err := r.ReadRequest()
			if err != nil {
				checkReadErr(t, err)
				return
			}
			if n := proto.Size(req); n > MaxRequestSize {
				t.Fatalf("accepted a %d-byte request", n)
			}
			checkRequest(t, req)
		}
	})
}

func checkRequest(t *testing.T, req *pb.Request) {
	switch b := req.Body.(type) {
	case *pb.Request_Status:
		s, err := StatusFromPB(b.Status)
		if err != nil {
			checkConvErr(t, err)
			return
		}
		again, err := StatusFromPB(roundTripRequest(t, StatusRequest(s)).GetStatus())
		if err != nil || !statusEqual(again, s) {
			t.Fatalf("status %+v re-encodes as %+v, %v", s, again, err)
		}
	case *pb.Request_GetHeaders:
		gh, err := ValidateGetHeaders(b.GetHeaders)
		if err != nil {
			checkConvErr(t, err)
			return
		}
		again, err := ValidateGetHeaders(roundTripRequest(t, GetHeadersRequest(gh)).GetGetHeaders())
		if err != nil || !reflect.DeepEqual(again, gh) {
			t.Fatalf("GetHeaders %+v re-encodes as %+v, %v", gh, again, err)
		}
	case *pb.Request_GetBlocks:
		hs, err := ValidateGetBlocks(b.GetBlocks)
		if err != nil {
			checkConvErr(t, err)
			return
		}
		again, err := ValidateGetBlocks(roundTripRequest(t, GetBlocksRequest(hs)).GetGetBlocks())
		if err != nil || !reflect.DeepEqual(again, hs) {
			t.Fatalf("GetBlocks %v re-encodes as %v, %v", hs, again, err)
		}
	default:
		t.Fatalf("ReadRequest accepted a request with body %T", b)
	}
}

func FuzzReadResponse(f *testing.F) {
	addGoldenSeeds(f, "response.")
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for range maxFuzzMessages {
			resp, err := r.ReadResponse()
			if err != nil {
				checkReadErr(t, err)
				return
			}
			if n := proto.Size(resp); n > MaxMessageSize {
				t.Fatalf("accepted a %d-byte response", n)
			}
			checkResponse(t, resp)
		}
	})
}

func checkResponse(t *testing.T, resp *pb.Response) {
	// Every reader takes every response without panicking; only the one
	// for its kind may accept it.
	req := testGetHeaders() // the golden headers build on its locator
	_, errS := StatusFromResponse(resp)
	_, errH := HeadersFromResponse(resp, req)
	_, errB := BlockFromResponse(resp, hashOf("no such block"))
	for _, err := range []error{errS, errH, errB} {
		if err != nil {
			checkConvErr(t, err)
		}
	}
	switch b := resp.Body.(type) {
	case *pb.Response_Status:
		s, err := StatusFromPB(b.Status)
		if err != nil {
			return
		}
		again, err := StatusFromResponse(roundTripResponse(t, StatusResponse(s)))
		if err != nil || !statusEqual(again, s) {
			t.Fatalf("status %+v re-encodes as %+v, %v", s, again, err)
		}
	case *pb.Response_Headers:
		hs, err := HeadersFromPB(b.Headers, req)
		if err != nil {
			return
		}
		if got := HeadersToPB(hs).Headers; len(hs) > 0 && !reflect.DeepEqual(got, b.Headers.Headers) {
			t.Fatalf("headers re-encode differently")
		}
		again, err := HeadersFromResponse(roundTripResponse(t, HeadersResponse(hs)), req)
		if err != nil || !reflect.DeepEqual(again, hs) {
			t.Fatalf("headers re-encode as %+v, %v", again, err)
		}
	case *pb.Response_Block:
		blk, err := BlockFromPB(b.Block)
		if err != nil {
			return
		}
		if !bytes.Equal(blk.Encode(), b.Block.Block) {
			t.Fatalf("block re-encodes differently")
		}
		if !errors.Is(errB, ErrUnrequested) {
			t.Fatalf("block accepted for another hash: %v", errB)
		}
		again, err := BlockFromResponse(roundTripResponse(t, BlockResponse(blk)), blk.Hash())
		if err != nil || !reflect.DeepEqual(again, blk) {
			t.Fatalf("block re-encodes as %+v, %v", again, err)
		}
	case *pb.Response_Error:
		re, err := ErrorFromPB(b.Error)
		if err != nil {
			return
		}
		if !errors.Is(errS, ErrRemote) {
			t.Fatalf("valid Error read as %v", errS)
		}
		again, err := ErrorFromPB(ErrorToPB(re.Code, re.Message))
		if err != nil || *again != *re {
			t.Fatalf("error %+v re-encodes as %+v, %v", re, again, err)
		}
	default:
		t.Fatalf("ReadResponse accepted a response with body %T", b)
	}
}
