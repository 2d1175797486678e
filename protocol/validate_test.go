package protocol

import (
	"bytes"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// checkErr fails unless err is nil when want is nil, and otherwise is
// every one of want.
func checkErr(t *testing.T, err error, want ...error) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %v, want %v", err, w)
		}
	}
}

func bytesOf(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func TestStatusFromPB(t *testing.T) {
	good := func() *pb.Status { return StatusToPB(testStatus()) }
	for _, tc := range []struct {
		name string
		edit func(*pb.Status)
		want []error
	}{
		{"good", func(*pb.Status) {}, nil},
		{"32-byte work", func(m *pb.Status) { m.TotalWork = bytesOf(32, 0xff) }, nil},
		{"1-byte work", func(m *pb.Status) { m.TotalWork = []byte{1} }, nil},
		{"at genesis", func(m *pb.Status) { m.Tip, m.Height = m.Genesis, 0 }, nil},
		{"genesis 31 bytes", func(m *pb.Status) { m.Genesis = m.Genesis[:31] }, []error{ErrBadMessage}},
		{"genesis 33 bytes", func(m *pb.Status) { m.Genesis = append(m.Genesis, 0) }, []error{ErrBadMessage}},
		{"no genesis", func(m *pb.Status) { m.Genesis = nil }, []error{ErrBadMessage}},
		{"no tip", func(m *pb.Status) { m.Tip = nil }, []error{ErrBadMessage}},
		{"tip 31 bytes", func(m *pb.Status) { m.Tip = m.Tip[:31] }, []error{ErrBadMessage}},
		{"height 0 past genesis", func(m *pb.Status) { m.Height = 0 }, []error{ErrBadMessage}},
		{"genesis as tip at height 5", func(m *pb.Status) { m.Tip, m.Height = m.Genesis, 5 }, []error{ErrBadMessage}},
		{"no work", func(m *pb.Status) { m.TotalWork = nil }, []error{ErrBadMessage}},
		{"33-byte work", func(m *pb.Status) { m.TotalWork = bytesOf(33, 0x01) }, []error{ErrBadMessage}},
		{"work with a leading zero", func(m *pb.Status) { m.TotalWork = []byte{0, 1} }, []error{ErrBadMessage}},
		{"work of zero bytes", func(m *pb.Status) { m.TotalWork = []byte{0} }, []error{ErrBadMessage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.edit(m)
			s, err := StatusFromPB(m)
			checkErr(t, err, tc.want...)
			if err == nil && !statusEqual(s, mustStatus(t, StatusToPB(s))) {
				t.Errorf("%+v does not round-trip", s)
			}
		})
	}
	if _, err := StatusFromPB(nil); !errors.Is(err, ErrBadMessage) {
		t.Errorf("nil status: %v", err)
	}
	// Work that cannot be sent encodes as none, which is refused: a node
	// that builds such a status has a bug, and learns it from its tests.
	for _, w := range []*big.Int{nil, new(big.Int), big.NewInt(-1)} {
		s := testStatus()
		s.Work = w
		if _, err := StatusFromPB(StatusToPB(s)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("work %v: %v", w, err)
		}
	}
}

func mustStatus(t *testing.T, m *pb.Status) Status {
	t.Helper()
	s, err := StatusFromPB(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateGetHeaders(t *testing.T) {
	good := func() *pb.GetHeaders { return GetHeadersToPB(testGetHeaders()) }
	maxLocator := make([][]byte, MaxLocatorLen)
	for i := range maxLocator {
		maxLocator[i] = bytesOf(32, byte(i))
	}
	for _, tc := range []struct {
		name string
		edit func(*pb.GetHeaders)
		want []error
	}{
		{"good", func(*pb.GetHeaders) {}, nil},
		{"one locator hash", func(m *pb.GetHeaders) { m.Locator = m.Locator[2:] }, nil},
		{"MaxLocatorLen hashes", func(m *pb.GetHeaders) { m.Locator = maxLocator }, nil},
		{"stop", func(m *pb.GetHeaders) { m.Stop = bytesOf(32, 7) }, nil},
		{"max 1", func(m *pb.GetHeaders) { m.Max = 1 }, nil},
		{"no locator", func(m *pb.GetHeaders) { m.Locator = nil }, []error{ErrBadMessage}},
		{"MaxLocatorLen+1 hashes", func(m *pb.GetHeaders) { m.Locator = append(maxLocator, bytesOf(32, 0xee)) }, []error{ErrBadMessage}},
		{"locator hash 31 bytes", func(m *pb.GetHeaders) { m.Locator[1] = m.Locator[1][:31] }, []error{ErrBadMessage}},
		{"locator hash empty", func(m *pb.GetHeaders) { m.Locator[2] = nil }, []error{ErrBadMessage}},
		{"stop 31 bytes", func(m *pb.GetHeaders) { m.Stop = bytesOf(31, 7) }, []error{ErrBadMessage}},
		{"stop 33 bytes", func(m *pb.GetHeaders) { m.Stop = bytesOf(33, 7) }, []error{ErrBadMessage}},
		{"max 0", func(m *pb.GetHeaders) { m.Max = 0 }, []error{ErrBadMessage}},
		{"max over the limit", func(m *pb.GetHeaders) { m.Max = MaxHeadersPerResponse + 1 }, []error{ErrBadMessage}},
		{"max 2^32-1", func(m *pb.GetHeaders) { m.Max = 1<<32 - 1 }, []error{ErrBadMessage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.edit(m)
			req, err := ValidateGetHeaders(m)
			checkErr(t, err, tc.want...)
			if err != nil {
				return
			}
			again, err := ValidateGetHeaders(GetHeadersToPB(req))
			if err != nil || !reflect.DeepEqual(again, req) {
				t.Errorf("%+v does not round-trip: %+v, %v", req, again, err)
			}
		})
	}
}

// The response-side bound: a Headers answer is checked against what we
// asked, not only against the protocol's maxima.
func TestHeadersFromPB(t *testing.T) {
	req := testGetHeaders() // the fork point is the second locator hash
	hdrs := testHeaders(req.Locator[1], 5)
	raw := func(hs []chain.Header) [][]byte { return HeadersToPB(hs).Headers }
	withStop := func(i int) GetHeaders { r := req; r.Stop = hdrs[i].Hash(); return r }
	withMax := func(n int) GetHeaders { r := req; r.Max = n; return r }
	relinked := func(edit func(hs []chain.Header)) [][]byte {
		hs := append([]chain.Header(nil), hdrs...)
		edit(hs)
		return raw(hs)
	}
	// A locator whose newest hash is the third header: an answer after an
	// older locator hash that passes it was not the server's main chain's.
	passing := GetHeaders{Locator: []chain.Hash{hdrs[2].Hash(), req.Locator[1], testGenesis}, Max: MaxHeadersPerResponse}
	short, long := raw(hdrs), raw(hdrs)
	short[2] = short[2][:chain.HeaderSize-1]
	long[0] = append(long[0], 0)
	for _, tc := range []struct {
		name    string
		headers [][]byte
		req     GetHeaders
		want    []error
	}{
		{"good", raw(hdrs), req, nil},
		{"none", nil, req, nil},
		{"on the first locator hash", raw(testHeaders(req.Locator[0], 2)), req, nil},
		{"on genesis, the last locator hash", raw(testHeaders(testGenesis, 2)), req, nil},
		{"exactly max", raw(hdrs), withMax(5), nil},
		{"ends at stop", raw(hdrs), withStop(4), nil},
		{"stop not reached", raw(hdrs[:3]), withStop(4), nil},
		{"more than max", raw(hdrs), withMax(4), []error{ErrBadMessage, ErrUnrequested}},
		{"more than the protocol allows", raw(testHeaders(req.Locator[1], MaxHeadersPerResponse+1)), withMax(1 << 20), []error{ErrBadMessage, ErrUnrequested}},
		{"past stop", raw(hdrs), withStop(2), []error{ErrBadMessage, ErrUnrequested}},
		{"not on a locator hash", raw(testHeaders(hashOf("elsewhere"), 2)), req, []error{ErrBadMessage, ErrUnrequested}},
		{"short of an earlier locator hash", raw(hdrs[:2]), passing, nil},
		{"passes an earlier locator hash", raw(hdrs), passing, []error{ErrBadMessage, ErrUnrequested}},
		{"a header of 95 bytes", short, req, []error{ErrBadMessage}},
		{"a header of 97 bytes", long, req, []error{ErrBadMessage}},
		{"unlinked", relinked(func(hs []chain.Header) { hs[3].PrevHash = hashOf("gap") }), req, []error{ErrBadMessage}},
		{"height gap", relinked(func(hs []chain.Header) { hs[2].Height++ }), req, []error{ErrBadMessage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HeadersFromPB(&pb.Headers{Headers: tc.headers}, tc.req)
			checkErr(t, err, tc.want...)
			if err == nil && len(tc.headers) > 0 && !reflect.DeepEqual(raw(got), tc.headers) {
				t.Errorf("headers do not re-encode to what was read")
			}
		})
	}
}

func TestValidateGetBlocks(t *testing.T) {
	hashes := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			h := hashOf(strings.Repeat("b", i+1))
			out[i] = h[:]
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		hashes [][]byte
		want   []error
	}{
		{"one", hashes(1), nil},
		{"MaxBlocksPerRequest", hashes(MaxBlocksPerRequest), nil},
		{"none", nil, []error{ErrBadMessage}},
		{"MaxBlocksPerRequest+1", hashes(MaxBlocksPerRequest + 1), []error{ErrBadMessage}},
		{"31-byte hash", append(hashes(2), bytesOf(31, 1)), []error{ErrBadMessage}},
		{"33-byte hash", append(hashes(2), bytesOf(33, 1)), []error{ErrBadMessage}},
		{"empty hash", append(hashes(2), nil), []error{ErrBadMessage}},
		{"duplicate", append(hashes(3), hashes(2)[1]), []error{ErrBadMessage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ValidateGetBlocks(&pb.GetBlocks{Hashes: tc.hashes})
			checkErr(t, err, tc.want...)
			if err == nil && !reflect.DeepEqual(GetBlocksToPB(got).Hashes, tc.hashes) {
				t.Errorf("hashes do not re-encode to what was read")
			}
		})
	}
}

func TestBlockFromPB(t *testing.T) {
	enc := testBlock().Encode()
	for _, tc := range []struct {
		name  string
		block []byte
		want  []error
	}{
		{"good", enc, nil},
		{"empty", nil, []error{ErrBadMessage, chain.ErrMalformed}},
		{"header only", enc[:chain.HeaderSize], []error{ErrBadMessage, chain.ErrMalformed}},
		{"cut in a transaction", enc[:len(enc)-1], []error{ErrBadMessage, chain.ErrMalformed}},
		{"trailing byte", append(append([]byte(nil), enc...), 0), []error{ErrBadMessage, chain.ErrMalformed}},
		{"over MaxBlockSize", append(append([]byte(nil), enc...), make([]byte, chain.MaxBlockSize)...), []error{ErrBadMessage, chain.ErrBlockTooBig}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := BlockFromPB(&pb.Block{Block: tc.block})
			checkErr(t, err, tc.want...)
			if err == nil && !bytes.Equal(b.Encode(), tc.block) {
				t.Error("block does not re-encode to what was read")
			}
		})
	}
}

// The client's side of every exchange: the answer must be the kind asked
// for, an Error becomes a *RemoteError, and a block must be the one asked.
func TestFromResponse(t *testing.T) {
	blk := testBlock()
	req := testGetHeaders()
	status := StatusResponse(testStatus())
	headers := HeadersResponse(testHeaders(req.Locator[1], 2))
	block := BlockResponse(blk)
	refusal := ErrorResponse(CodeBadRequest, "no")
	badRefusal := &pb.Response{Body: &pb.Response_Error{Error: &pb.Error{Message: "no code"}}}
	empty := &pb.Response{}

	type reader func(*pb.Response) error
	readStatus := func(m *pb.Response) error { _, err := StatusFromResponse(m); return err }
	readHeaders := func(m *pb.Response) error { _, err := HeadersFromResponse(m, req); return err }
	readBlock := func(want chain.Hash) reader {
		return func(m *pb.Response) error { _, err := BlockFromResponse(m, want); return err }
	}
	for _, tc := range []struct {
		name string
		read reader
		resp *pb.Response
		want []error
	}{
		{"status", readStatus, status, nil},
		{"headers", readHeaders, headers, nil},
		{"block", readBlock(blk.Hash()), block, nil},
		{"status: headers", readStatus, headers, []error{ErrBadMessage, ErrUnrequested}},
		{"headers: block", readHeaders, block, []error{ErrBadMessage, ErrUnrequested}},
		{"block: status", readBlock(blk.Hash()), status, []error{ErrBadMessage, ErrUnrequested}},
		{"block: another block", readBlock(hashOf("another block")), block, []error{ErrBadMessage, ErrUnrequested}},
		{"status: empty", readStatus, empty, []error{ErrBadMessage, ErrUnrequested}},
		{"status: refusal", readStatus, refusal, []error{ErrRemote}},
		{"headers: refusal", readHeaders, refusal, []error{ErrRemote}},
		{"block: refusal", readBlock(blk.Hash()), refusal, []error{ErrRemote}},
		{"block: refusal without a code", readBlock(blk.Hash()), badRefusal, []error{ErrBadMessage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.read(tc.resp)
			checkErr(t, err, tc.want...)
			if errors.Is(err, ErrRemote) && errors.Is(err, ErrBadMessage) {
				t.Errorf("a refusal blames the peer: %v", err)
			}
		})
	}
}

func TestErrorFromPB(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *pb.Error
		want []error
	}{
		{"good", &pb.Error{Code: uint32(CodeUnavailable), Message: "shutting down"}, nil},
		{"no message", &pb.Error{Code: uint32(CodeBadRequest)}, nil},
		{"unknown code", &pb.Error{Code: 77, Message: "future"}, nil},
		{"longest message", &pb.Error{Code: 1, Message: strings.Repeat("x", MaxErrorMessageLen)}, nil},
		{"no code", &pb.Error{Message: "hm"}, []error{ErrBadMessage}},
		{"nil", nil, []error{ErrBadMessage}},
		{"message too long", &pb.Error{Code: 1, Message: strings.Repeat("x", MaxErrorMessageLen+1)}, []error{ErrBadMessage}},
		{"message not UTF-8", &pb.Error{Code: 1, Message: "\xff"}, []error{ErrBadMessage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re, err := ErrorFromPB(tc.m)
			checkErr(t, err, tc.want...)
			if err == nil && (uint32(re.Code) != tc.m.Code || re.Message != tc.m.Message) {
				t.Errorf("got %+v from %v", re, tc.m)
			}
		})
	}
}

// Whatever a server puts in an Error, what it sends passes ErrorFromPB.
func TestErrorToPB(t *testing.T) {
	for _, msg := range []string{
		"",
		"plain",
		strings.Repeat("é", MaxErrorMessageLen), // 2 bytes a rune: cut mid-rune at 256
		strings.Repeat("x", MaxErrorMessageLen-1) + "€",
		"bad \xff byte",
		strings.Repeat("\xff", 1000),
	} {
		m := ErrorToPB(CodeUnavailable, msg)
		if _, err := ErrorFromPB(m); err != nil {
			t.Errorf("ErrorToPB(%.20q…): %v", msg, err)
		}
		if len(msg) <= MaxErrorMessageLen && strings.ToValidUTF8(msg, "\uFFFD") == msg && m.Message != msg {
			t.Errorf("ErrorToPB changed a valid message %q to %q", msg, m.Message)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	for c := CodeBadRequest; c <= CodeUnavailable; c++ {
		if s := c.String(); strings.HasPrefix(s, "ErrorCode(") {
			t.Errorf("code %d has no name; run go generate ./protocol", c)
		}
	}
	if s := ErrorCode(0).String(); s != "ErrorCode(0)" {
		t.Errorf("code 0 is %q", s)
	}
	err := error(&RemoteError{Code: CodeRateLimited, Message: "later"})
	var re *RemoteError
	if !errors.Is(err, ErrRemote) || !errors.As(err, &re) || re.Code != CodeRateLimited {
		t.Errorf("%v: not ErrRemote or not a *RemoteError", err)
	}
	if want := `peer refused the request: RateLimited: "later"`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}
