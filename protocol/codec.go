package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/multiformats/go-varint"
	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/protocol/pb"
)

// Framing: every message on a sync stream is an unsigned varint length
// followed by that many bytes of protobuf, the format of go-msgio's pbio
// and of go-libp2p's own protocols (identify, autonat). The tests check
// that pbio reads what Writer writes and Reader reads what pbio writes.
//
// Reader is not pbio's reader because of three things it does that a
// sync client cannot live with: a stream that ends right after a length
// prefix reads as a clean io.EOF, so a truncated answer looks like a
// complete one; a length over the limit is a bare io.ErrShortBuffer; and
// it allocates the whole claimed length before the first byte arrives.

const (
	// readChunk is how much of a message body Reader allocates before that
	// many bytes have arrived; the buffer then doubles as data comes in, so
	// a peer that claims MaxMessageSize and stalls costs us 64 KiB, not 513.
	readChunk = 64 << 10
	// readBufferSize is the Reader's read-ahead: the varint prefix is read
	// a byte at a time, and a stream read per byte would be a syscall or a
	// lock each. Bodies larger than this bypass it.
	readBufferSize = 4 << 10
)

// Reader reads length-delimited sync messages from one stream. A message
// whose length prefix is over the limit is refused before anything is
// allocated for it. After any error but io.EOF the stream is out of step
// and must be reset. A Reader is not safe for concurrent use.
type Reader struct {
	r   *bufio.Reader
	buf []byte // reused between messages; proto.Unmarshal copies out
}

// NewReader returns a Reader on r, typically a libp2p stream with a
// deadline set.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, readBufferSize)}
}

// ReadRequest reads one Request of at most MaxRequestSize bytes. It
// returns io.EOF, unwrapped, only if the stream ended before a message
// began.
func (r *Reader) ReadRequest() (*pb.Request, error) {
	m := new(pb.Request)
	if err := r.read(m, MaxRequestSize); err != nil {
		return nil, err
	}
	if m.Body == nil {
		return nil, fmt.Errorf("%w: %w: request", ErrBadMessage, ErrUnknownBody)
	}
	return m, nil
}

// ReadResponse reads one Response of at most MaxMessageSize bytes. It
// returns io.EOF, unwrapped, only if the stream ended cleanly between
// messages: the end of a GetBlocks answer.
func (r *Reader) ReadResponse() (*pb.Response, error) {
	m := new(pb.Response)
	if err := r.read(m, MaxMessageSize); err != nil {
		return nil, err
	}
	if m.Body == nil {
		return nil, fmt.Errorf("%w: %w: response", ErrBadMessage, ErrUnknownBody)
	}
	return m, nil
}

// unmarshal drops unknown fields: a newer peer's additions are not ours
// to keep in memory or pass on.
var unmarshal = proto.UnmarshalOptions{DiscardUnknown: true}

func (r *Reader) read(m proto.Message, limit int) error {
	n, err := varint.ReadUvarint(r.r)
	switch {
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("reading length prefix: %w", io.ErrUnexpectedEOF)
	case errors.Is(err, varint.ErrOverflow), errors.Is(err, varint.ErrNotMinimal):
		return badMessage("length prefix: %w", err)
	case err != nil:
		return err
	case n > uint64(limit):
		return fmt.Errorf("%w: %w: length prefix %d, limit %d", ErrBadMessage, ErrMessageTooLarge, n, limit)
	}
	body, err := r.readBody(int(n))
	if err != nil {
		return err
	}
	if err := unmarshal.Unmarshal(body, m); err != nil {
		return badMessage("%w", err)
	}
	return nil
}

// readBody reads exactly n bytes, n already checked against the limit,
// growing the buffer only as bytes arrive.
func (r *Reader) readBody(n int) ([]byte, error) {
	buf := r.buf[:0]
	for len(buf) < n {
		want := min(n, max(2*len(buf), readChunk))
		if cap(buf) < want {
			grown := make([]byte, len(buf), want)
			copy(grown, buf)
			buf = grown
		}
		got, err := io.ReadFull(r.r, buf[len(buf):want])
		buf = buf[:len(buf)+got]
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = io.ErrUnexpectedEOF // the prefix promised more
			}
			return nil, fmt.Errorf("reading %d-byte message, got %d: %w", n, len(buf), err)
		}
	}
	r.buf = buf
	return buf, nil
}

// Writer writes length-delimited sync messages to one stream, each with a
// single Write so a message never straddles transport frames needlessly
// (a server holding several small ones in a buffer writes them together).
// It refuses a message the peer's Reader would refuse, so an oversized
// message is our bug reported here, not a mystery reset there. A Writer is
// not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte // reused between messages
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteRequest writes one Request of at most MaxRequestSize bytes.
func (w *Writer) WriteRequest(m *pb.Request) error { return w.write(m, MaxRequestSize) }

// WriteResponse writes one Response of at most MaxMessageSize bytes.
func (w *Writer) WriteResponse(m *pb.Response) error { return w.write(m, MaxMessageSize) }

func (w *Writer) write(m proto.Message, limit int) error {
	size := proto.Size(m)
	if size > limit {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, size, limit)
	}
	buf := binary.AppendUvarint(w.buf[:0], uint64(size))
	buf, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, m)
	if err != nil {
		return fmt.Errorf("encoding %T: %w", m, err)
	}
	w.buf = buf
	_, err = w.w.Write(buf)
	return err
}
