package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	lptest "github.com/libp2p/go-libp2p/core/test"
	"github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// testPeerID is a random peer ID (a hashed one, as RSA keys have).
func testPeerID(t testing.TB) peer.ID { return lptest.RandPeerIDFatal(t) }

// longestPeerID is a valid peer ID of MaxPeerIDBytes: an identity
// multihash of random bytes.
func longestPeerID(t testing.TB, i int) peer.ID {
	h, err := multihash.Sum(bytes.Repeat([]byte{byte(i), 7}, (MaxPeerIDBytes-2)/2), multihash.IDENTITY, -1)
	if err != nil || len(h) != MaxPeerIDBytes {
		t.Fatalf("identity multihash of %d bytes: %v", len(h), err)
	}
	return peer.ID(h)
}

// fullPeerList is a PeerList at every limit of §19.2–19.3.
func fullPeerList(t testing.TB) PeerList {
	l := PeerList{Height: 1<<64 - 1, Tip: chain.Hash{1}}
	for i := range MaxMapPeers {
		l.Peers = append(l.Peers, MapPeer{ID: longestPeerID(t, i), Inbound: true, Transport: strings.Repeat("q", MaxTransportLen),
			Height: 1<<64 - 1, Tip: chain.Hash{byte(i)}, HasTip: true})
	}
	for i := range MaxMapSeen {
		l.Seen = append(l.Seen, SeenBlock{Hash: chain.Hash{byte(i), 1}, At: time.UnixMilli(1<<62 + int64(i))})
	}
	return l
}

// TestMaxPeerListFits: the largest valid answer is under MaxPeerListSize
// and reads back as it was written.
func TestMaxPeerListFits(t *testing.T) {
	l := fullPeerList(t)
	size := proto.Size(PeerListToPB(l))
	if size > MaxPeerListSize {
		t.Fatalf("a full peer list is %d bytes, limit %d", size, MaxPeerListSize)
	}
	t.Logf("a full peer list is %d bytes of %d", size, MaxPeerListSize)
	var buf bytes.Buffer
	if err := NewWriter(&buf).WritePeerList(l); err != nil {
		t.Fatal(err)
	}
	got, err := NewReader(&buf).ReadPeerList(testPeerID(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Fatal("the full peer list read back differs")
	}
}

// TestPeerListRules: every rule of §19.2–19.3 refuses what breaks it, as
// ErrBadMessage, the sender's fault.
func TestPeerListRules(t *testing.T) {
	sender, other := testPeerID(t), testPeerID(t)
	valid := func() *pb.PeerList {
		return &pb.PeerList{Height: 3, Tip: make([]byte, 32),
			Peers: []*pb.MapPeer{{Id: []byte(other), Transport: "tcp", Height: 2, Tip: make([]byte, 32)}},
			Seen:  []*pb.SeenBlock{{Hash: make([]byte, 32), UnixMs: 1}}}
	}
	tests := []struct {
		name   string
		break_ func(m *pb.PeerList)
	}{
		{"short tip", func(m *pb.PeerList) { m.Tip = m.Tip[:31] }},
		{"too many peers", func(m *pb.PeerList) {
			for range MaxMapPeers {
				m.Peers = append(m.Peers, &pb.MapPeer{Id: []byte(testPeerID(t))})
			}
		}},
		{"too many seen", func(m *pb.PeerList) {
			for i := range MaxMapSeen {
				m.Seen = append(m.Seen, &pb.SeenBlock{Hash: bytes.Repeat([]byte{byte(i + 1)}, 32), UnixMs: 1})
			}
		}},
		{"empty id", func(m *pb.PeerList) { m.Peers[0].Id = nil }},
		{"bogus id", func(m *pb.PeerList) { m.Peers[0].Id = []byte("not a multihash") }},
		{"huge id", func(m *pb.PeerList) { m.Peers[0].Id = make([]byte, MaxPeerIDBytes+1) }},
		{"repeated peer", func(m *pb.PeerList) { m.Peers = append(m.Peers, m.Peers[0]) }},
		{"the sender itself", func(m *pb.PeerList) { m.Peers[0].Id = []byte(sender) }},
		{"long transport", func(m *pb.PeerList) { m.Peers[0].Transport = strings.Repeat("t", MaxTransportLen+1) }},
		{"odd transport", func(m *pb.PeerList) { m.Peers[0].Transport = "<b>" }},
		{"short peer tip", func(m *pb.PeerList) { m.Peers[0].Tip = []byte{1} }},
		{"height without tip", func(m *pb.PeerList) { m.Peers[0].Tip = nil }},
		{"short seen hash", func(m *pb.PeerList) { m.Seen[0].Hash = nil }},
		{"seen at zero", func(m *pb.PeerList) { m.Seen[0].UnixMs = 0 }},
		{"seen twice", func(m *pb.PeerList) { m.Seen = append(m.Seen, m.Seen[0]) }},
	}
	if _, err := PeerListFromPB(valid(), sender); err != nil {
		t.Fatalf("the valid list: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.break_(m)
			if _, err := PeerListFromPB(m, sender); !errors.Is(err, ErrBadMessage) {
				t.Fatalf("err = %v, want ErrBadMessage", err)
			}
		})
	}
}

// TestReadPeerListOversized: a length prefix over MaxPeerListSize is
// refused before the body is read, as the sender's fault; a stream that
// ends at once is a clean io.EOF (the server gave no answer).
func TestReadPeerListOversized(t *testing.T) {
	prefix := []byte{0x81, 0x80, 0x01} // 16 KiB + 1
	if _, err := NewReader(bytes.NewReader(prefix)).ReadPeerList(""); !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, ErrBadMessage) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := NewReader(bytes.NewReader(nil)).ReadPeerList(""); err != io.EOF {
		t.Fatalf("empty stream: %v, want io.EOF", err)
	}
}

// FuzzReadPeerList: any bytes as a map answer. Nothing panics; an error
// is a clean end, a cut stream or ErrBadMessage; an accepted list is
// within the limits and reads back as the same value.
//
//	go test ./protocol -run '^$' -fuzz FuzzReadPeerList -fuzztime 30s
func FuzzReadPeerList(f *testing.F) {
	var buf bytes.Buffer
	if err := NewWriter(&buf).WritePeerList(fullPeerList(f)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	small := PeerList{Height: 1, Tip: chain.Hash{2}, Peers: []MapPeer{{ID: testPeerID(f), Transport: "tcp"}}}
	if err := NewWriter(&buf).WritePeerList(small); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := NewReader(bytes.NewReader(data)).ReadPeerList("")
		if err != nil {
			if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrBadMessage) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(l.Peers) > MaxMapPeers || len(l.Seen) > MaxMapSeen {
			t.Fatalf("accepted %d peers, %d seen", len(l.Peers), len(l.Seen))
		}
		var out bytes.Buffer
		if err := NewWriter(&out).WritePeerList(l); err != nil {
			t.Fatalf("an accepted list does not encode: %v", err)
		}
		again, err := NewReader(&out).ReadPeerList("")
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("an accepted list reads back as %+v, %v", again, err)
		}
	})
}
