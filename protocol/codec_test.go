package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/libp2p/go-msgio/pbio"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/protocol/pb"
)

// readAny reads one message of the kind the golden value name says.
func readAny(r *Reader, name string) error {
	if strings.HasPrefix(name, "request.") {
		_, err := r.ReadRequest()
		return err
	}
	_, err := r.ReadResponse()
	return err
}

// failingReader returns the first n bytes of b, then err: a stream reset
// or deadline in the middle of a message (btcd's fixedReader).
type failingReader struct {
	b   []byte
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := copy(p, f.b[:min(f.n, len(f.b))])
	f.b, f.n = f.b[k:], f.n-k
	return k, nil
}

var errStream = errors.New("stream reset")

// Every truncation of every golden message is an error, and the right
// one: a stream cut inside a message is io.ErrUnexpectedEOF, not the
// io.EOF that ends a GetBlocks answer cleanly and not the peer's fault; a
// stream error passes through as it is.
func TestShortReads(t *testing.T) {
	for name, msg := range goldenValues(t) {
		t.Run(name, func(t *testing.T) {
			for i := range len(msg) {
				err := readAny(NewReader(bytes.NewReader(msg[:i])), name)
				switch {
				case i == 0 && err != io.EOF:
					t.Errorf("empty stream: %v, want io.EOF", err)
				case i > 0 && !errors.Is(err, io.ErrUnexpectedEOF):
					t.Errorf("cut after %d of %d bytes: %v, want io.ErrUnexpectedEOF", i, len(msg), err)
				case errors.Is(err, ErrBadMessage):
					t.Errorf("cut after %d bytes: %v blames the peer", i, err)
				}
				err = readAny(NewReader(&failingReader{msg, i, errStream}), name)
				if !errors.Is(err, errStream) {
					t.Errorf("reset after %d of %d bytes: %v, want the stream's error", i, len(msg), err)
				}
			}
			// The whole message, however the stream splits it.
			for _, r := range []io.Reader{
				iotest.OneByteReader(bytes.NewReader(msg)),
				iotest.DataErrReader(bytes.NewReader(msg)),
				iotest.HalfReader(bytes.NewReader(msg)),
			} {
				if err := readAny(NewReader(r), name); err != nil {
					t.Errorf("%T: %v", r, err)
				}
			}
		})
	}
}

// failingWriter accepts nothing.
type failingWriter struct{ writes int }

func (f *failingWriter) Write([]byte) (int, error) { f.writes++; return 0, errStream }

func TestWriterPassesStreamErrors(t *testing.T) {
	fw := new(failingWriter)
	if err := NewWriter(fw).WriteResponse(BlockResponse(testBlock())); !errors.Is(err, errStream) {
		t.Errorf("WriteResponse = %v, want the stream's error", err)
	}
	if fw.writes != 1 {
		t.Errorf("%d writes, want one per message", fw.writes)
	}
}

// countingReader yields endless zero bytes and counts them.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	clear(p)
	c.n += len(p)
	return len(p), nil
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func prefix(n uint64) []byte { return binary.AppendUvarint(nil, n) }

// Attack: a peer claims a message of 1 GiB (or 2^63-1 bytes) in the
// length prefix, hoping we allocate it before reading. The Reader refuses
// the prefix, reads no further, and allocates nothing for the claim.
func TestOversizedPrefixRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		claim uint64
		read  func(*Reader) error
	}{
		{"response MaxMessageSize+1", MaxMessageSize + 1, func(r *Reader) error { _, err := r.ReadResponse(); return err }},
		{"response 1 GiB", 1 << 30, func(r *Reader) error { _, err := r.ReadResponse(); return err }},
		{"response 2^63-1", 1<<63 - 1, func(r *Reader) error { _, err := r.ReadResponse(); return err }},
		{"request MaxRequestSize+1", MaxRequestSize + 1, func(r *Reader) error { _, err := r.ReadRequest(); return err }},
		{"request 1 GiB", 1 << 30, func(r *Reader) error { _, err := r.ReadRequest(); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := new(countingReader)
			var err error
			n := allocated(func() {
				err = tc.read(NewReader(io.MultiReader(bytes.NewReader(prefix(tc.claim)), body)))
			})
			if !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, ErrBadMessage) {
				t.Errorf("err = %v, want ErrMessageTooLarge and ErrBadMessage", err)
			}
			if n > 16<<10 {
				t.Errorf("allocated %d bytes for a refused message", n)
			}
			if body.n > readBufferSize {
				t.Errorf("read %d body bytes of a refused message", body.n)
			}
		})
	}
}

// Attack: a peer claims the largest allowed message, sends a few bytes and
// stalls (or hangs up), once per stream. Each costs us about what it sent,
// not MaxMessageSize.
func TestStalledBodyAllocatesLittle(t *testing.T) {
	stream := append(prefix(MaxMessageSize), make([]byte, 10)...)
	var err error
	n := allocated(func() { _, err = NewReader(bytes.NewReader(stream)).ReadResponse() })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if n > readChunk+16<<10 {
		t.Errorf("allocated %d bytes for 10 bytes received", n)
	}
}

// blockOfSize returns a Response whose encoding is exactly size bytes.
func responseOfSize(t *testing.T, size int) *pb.Response {
	t.Helper()
	for k := size; k > 0; k-- {
		m := &pb.Response{Body: &pb.Response_Block{Block: &pb.Block{Block: make([]byte, k)}}}
		if proto.Size(m) == size {
			return m
		}
	}
	t.Fatalf("no response of %d bytes", size)
	return nil
}

func requestOfSize(t *testing.T, size int) *pb.Request {
	t.Helper()
	for k := size; k > 0; k-- {
		m := &pb.Request{Body: &pb.Request_GetBlocks{GetBlocks: &pb.GetBlocks{Hashes: [][]byte{make([]byte, k)}}}}
		if proto.Size(m) == size {
			return m
		}
	}
	t.Fatalf("no request of %d bytes", size)
	return nil
}

// The limits are inclusive, on both sides, and the Writer refuses what the
// Reader would: our mistake, reported as ours (not ErrBadMessage).
func TestLimitBoundaries(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteResponse(responseOfSize(t, MaxMessageSize)); err != nil {
		t.Fatalf("WriteResponse of MaxMessageSize: %v", err)
	}
	if _, err := NewReader(&buf).ReadResponse(); err != nil {
		t.Errorf("ReadResponse of MaxMessageSize: %v", err)
	}
	err := w.WriteResponse(responseOfSize(t, MaxMessageSize+1))
	if !errors.Is(err, ErrMessageTooLarge) || errors.Is(err, ErrBadMessage) {
		t.Errorf("WriteResponse of MaxMessageSize+1 = %v, want ErrMessageTooLarge only", err)
	}

	buf.Reset()
	if err := w.WriteRequest(requestOfSize(t, MaxRequestSize)); err != nil {
		t.Fatalf("WriteRequest of MaxRequestSize: %v", err)
	}
	if _, err := NewReader(&buf).ReadRequest(); err != nil {
		t.Errorf("ReadRequest of MaxRequestSize: %v", err)
	}
	if err := w.WriteRequest(requestOfSize(t, MaxRequestSize+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("WriteRequest of MaxRequestSize+1 = %v, want ErrMessageTooLarge", err)
	}
	if buf.Len() != 0 {
		t.Errorf("a refused message wrote %d bytes", buf.Len())
	}
	// A request-sized limit applies to requests even if the bytes would
	// make a valid response.
	buf.Reset()
	if err := w.WriteResponse(responseOfSize(t, MaxRequestSize+1)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReader(&buf).ReadRequest(); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("ReadRequest of MaxRequestSize+1 = %v, want ErrMessageTooLarge", err)
	}
}

func TestMalformedFrames(t *testing.T) {
	unknownOnly := protowire.AppendTag(nil, 15, protowire.VarintType)
	unknownOnly = protowire.AppendVarint(unknownOnly, 1)
	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		{"non-minimal prefix", []byte{0x81, 0x00, 0x08}},
		{"prefix over 9 bytes", bytes.Repeat([]byte{0xff}, 10)},
		{"empty message", prefix(0)},
		{"only an unknown field", append(prefix(uint64(len(unknownOnly))), unknownOnly...)},
		{"not protobuf", append(prefix(3), 0xff, 0xff, 0xff)},
		{"wrong wire type for body", append(prefix(2), 0x08, 0x01)},
		{"truncated inner field", append(prefix(3), 0x0a, 0x05, 0x0a)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewReader(bytes.NewReader(tc.stream)).ReadRequest(); !errors.Is(err, ErrBadMessage) {
				t.Errorf("ReadRequest = %v, want ErrBadMessage", err)
			}
			if _, err := NewReader(bytes.NewReader(tc.stream)).ReadResponse(); !errors.Is(err, ErrBadMessage) {
				t.Errorf("ReadResponse = %v, want ErrBadMessage", err)
			}
		})
	}
}

// A newer peer's unknown fields are read past and dropped.
func TestUnknownFieldsDropped(t *testing.T) {
	body, err := proto.Marshal(StatusResponse(testStatus()))
	if err != nil {
		t.Fatal(err)
	}
	body = protowire.AppendTag(body, 99, protowire.BytesType)
	body = protowire.AppendBytes(body, []byte("future"))
	m, err := NewReader(bytes.NewReader(append(prefix(uint64(len(body))), body...))).ReadResponse()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ProtoReflect().GetUnknown()) != 0 {
		t.Error("unknown field kept")
	}
	if _, err := StatusFromResponse(m); err != nil {
		t.Error(err)
	}
}

// A GetBlocks answer: many messages on one stream, then a clean end. The
// Reader reuses its buffer; messages already returned must not change.
func TestReaderSequence(t *testing.T) {
	blk, other := testBlock(), testBlock()
	other.Header.Nonce++ // same size, other bytes: overwrites the buffer in place
	var buf bytes.Buffer
	w := NewWriter(&buf)
	big := responseOfSize(t, 300<<10)
	for _, m := range []*pb.Response{BlockResponse(blk), BlockResponse(other), big} {
		if err := w.WriteResponse(m); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf)
	first, err := r.ReadResponse()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.ReadResponse(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.ReadResponse(); err != io.EOF {
		t.Errorf("after the last message: %v, want io.EOF", err)
	}
	if _, err := BlockFromResponse(first, blk.Hash()); err != nil {
		t.Errorf("first message changed by later reads: %v", err)
	}
}

// The framing is go-msgio's pbio, which go-libp2p's protocols use: each
// side reads what the other writes.
func TestPbioInterop(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			want := encodeCase(t, c)

			var viaPbio bytes.Buffer
			if err := pbio.NewDelimitedWriter(&viaPbio).WriteMsg(c.msg); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(viaPbio.Bytes(), want) {
				t.Errorf("pbio writes %x, Writer %x", viaPbio.Bytes(), want)
			}
			c.check(t, NewReader(&viaPbio))

			got := c.msg.ProtoReflect().New().Interface()
			if err := pbio.NewDelimitedReader(bytes.NewReader(want), MaxMessageSize).ReadMsg(got); err != nil {
				t.Fatalf("pbio ReadMsg: %v", err)
			}
			if !proto.Equal(got, c.msg) {
				t.Errorf("pbio read %v, want %v", got, c.msg)
			}
		})
	}
}
