package protocol

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// field appends one length-delimited field: a tag of BytesType and v.
func field(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func varintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeEdgeCases pins what the sync decoder does with protobuf that
// is well-formed but not what our encoder writes, as protocol.md 17.1
// states it: a known field of the wrong wire type is an unknown field and is
// dropped; a oneof member after another replaces it, and the same member
// twice merges (scalars: last wins; repeated fields: appended); a string
// that is not UTF-8 makes the whole message bad.
func TestDecodeEdgeCases(t *testing.T) {
	status := mustMarshal(t, StatusToPB(testStatus()))
	errMsg := mustMarshal(t, ErrorToPB(CodeBadRequest, "no"))
	g := testStatus().Genesis
	hdrs := testHeaders(testGenesis, 3)
	first := mustMarshal(t, HeadersToPB(hdrs[:2]))
	second := mustMarshal(t, HeadersToPB(hdrs[2:]))

	for _, tc := range []struct {
		name  string
		body  []byte
		check func(t *testing.T, m *pb.Response, err error)
	}{
		{
			"wrong wire type, inner fields: Status.height as bytes and total_work as varint are dropped",
			field(nil, 1, varintField(field(field(nil, 1, g[:]), 3, []byte{5}), 4, 1)),
			func(t *testing.T, m *pb.Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				s := m.GetStatus()
				if s.GetHeight() != 0 || !bytes.Equal(s.GetGenesis(), g[:]) || len(s.ProtoReflect().GetUnknown()) != 0 {
					t.Errorf("got %v, want genesis kept, height 0, nothing kept unknown", s)
				}
			},
		},
		{
			"wrong wire type, inner field: Status.height as bytes after a valid height keeps the valid one",
			field(nil, 1, field(varintField(nil, 3, 9), 3, []byte{5})),
			func(t *testing.T, m *pb.Response, err error) {
				if err != nil || m.GetStatus().GetHeight() != 9 {
					t.Fatalf("got %v, %v; want height 9", m, err)
				}
			},
		},
		{
			"wrong wire type, body member: Response.status as varint leaves the body unset",
			varintField(nil, 1, 1),
			func(t *testing.T, _ *pb.Response, err error) {
				if !errors.Is(err, ErrBadMessage) || !errors.Is(err, ErrUnknownBody) {
					t.Fatalf("err %v, want ErrBadMessage and ErrUnknownBody", err)
				}
			},
		},
		{
			"two oneof members: the later replaces the earlier",
			field(field(nil, 1, status), 4, errMsg),
			func(t *testing.T, m *pb.Response, err error) {
				if err != nil || m.GetError() == nil || m.GetStatus() != nil {
					t.Fatalf("got %T, %v; want the Error member", m.GetBody(), err)
				}
			},
		},
		{
			"same oneof member twice: merged, last scalar wins",
			field(field(nil, 1, status), 1, varintField(nil, 3, 7)),
			func(t *testing.T, m *pb.Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				s, err := StatusFromResponse(m)
				if err != nil || s.Height != 7 || s.Genesis != testStatus().Genesis || s.Tip != testStatus().Tip {
					t.Fatalf("got %+v, %v; want the first status with height 7", s, err)
				}
			},
		},
		{
			"same oneof member twice: repeated fields appended",
			field(field(nil, 2, first), 2, second),
			func(t *testing.T, m *pb.Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				got, err := HeadersFromResponse(m, GetHeaders{Locator: []chain.Hash{testGenesis}, Max: 10})
				if err != nil || len(got) != 3 || got[2] != hdrs[2] {
					t.Fatalf("got %d headers, %v; want the 3 of both members", len(got), err)
				}
			},
		},
		{
			"Error.message not UTF-8: the whole message is bad, not a remote error",
			field(nil, 4, field(varintField(nil, 1, uint64(CodeBadRequest)), 2, []byte{0xff, 'a'})),
			func(t *testing.T, _ *pb.Response, err error) {
				var remote *RemoteError
				if !errors.Is(err, ErrBadMessage) || errors.As(err, &remote) {
					t.Fatalf("err %v, want ErrBadMessage from the decoder", err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := append(prefix(uint64(len(tc.body))), tc.body...)
			m, err := NewReader(bytes.NewReader(stream)).ReadResponse()
			tc.check(t, m, err)
		})
	}
}
