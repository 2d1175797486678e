package protocol

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gossipchain/gossipchain/protocol/pb"
)

//go:generate stringer -type=ErrorCode -trimprefix=Code

// Sentinel errors. Every error this package returns about a peer's message
// wraps ErrBadMessage, and some also a finer sentinel, so a caller decides
// with errors.Is whether the peer pays for it. Errors of the stream itself
// (io.EOF at a message boundary, io.ErrUnexpectedEOF, resets, deadlines)
// pass through unchanged: a dropped connection is not misbehaviour.
var (
	// ErrBadMessage: the bytes do not decode, or break a limit or rule of
	// the sync protocol. Always the sender's fault.
	ErrBadMessage = errors.New("bad sync message")

	// ErrMessageTooLarge: a length prefix over the reader's limit, or a
	// message we were about to send over the peer's. Reading also wraps
	// ErrBadMessage; writing does not, as the fault is ours.
	ErrMessageTooLarge = errors.New("message too large")

	// ErrUnrequested: a response that does not answer the request made:
	// the wrong kind of message, more items than asked, headers that do
	// not start at the locator, a block that is not the one asked for.
	// Also wraps ErrBadMessage.
	ErrUnrequested = errors.New("response does not answer the request")

	// ErrUnknownBody: a Request or Response with no body this version
	// knows. It decodes (protobuf skips unknown fields), so it may be a
	// newer peer's message kind rather than garbage: the server answers
	// CodeBadRequest and neither side bans for it. Also wraps
	// ErrBadMessage.
	ErrUnknownBody = errors.New("message of a kind this version does not know")

	// ErrRemote: the peer answered with an Error response. Not in itself
	// misbehaviour (it may be rate-limiting us); errors.As gives the
	// *RemoteError and its code.
	ErrRemote = errors.New("peer refused the request")
)

func badMessage(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadMessage}, args...)...)
}

func unrequested(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{ErrBadMessage, ErrUnrequested}, args...)...)
}

// ErrorCode says why a server refused a request, so the client can tell
// its own fault from the server's and decide whether to retry.
type ErrorCode uint32

// Error codes. Zero is not a code: an Error without one is malformed.
// Clients treat a code they do not know like CodeUnavailable, so new codes
// can be added without a protocol version.
const (
	// CodeBadRequest: the request broke a limit or rule of this package.
	// The client is at fault; the server also penalises it.
	CodeBadRequest ErrorCode = iota + 1
	// CodeRateLimited: the client sent too many requests; it may retry
	// later or ask another peer.
	CodeRateLimited
	// CodeUnavailable: the server cannot answer now (shutting down, a
	// store error). Not the client's fault.
	CodeUnavailable
)

// RemoteError is an Error response received from a peer.
type RemoteError struct {
	Code    ErrorCode
	Message string // at most MaxErrorMessageLen bytes of valid UTF-8
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s: %s: %q", ErrRemote, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrRemote) hold for every *RemoteError.
func (e *RemoteError) Is(target error) bool { return target == ErrRemote }

// ErrorFromPB checks an Error response: a non-zero code and a message of
// at most MaxErrorMessageLen bytes. The message is the peer's text, only
// fit for a log line.
func ErrorFromPB(m *pb.Error) (*RemoteError, error) {
	if m.GetCode() == 0 {
		return nil, badMessage("error response without a code")
	}
	if n := len(m.GetMessage()); n > MaxErrorMessageLen {
		return nil, badMessage("error message of %d bytes, limit %d", n, MaxErrorMessageLen)
	}
	// proto3 strings are checked for UTF-8 when decoded; this guards
	// messages built in code.
	if !utf8.ValidString(m.GetMessage()) {
		return nil, badMessage("error message is not UTF-8")
	}
	return &RemoteError{Code: ErrorCode(m.GetCode()), Message: m.GetMessage()}, nil
}

// ErrorToPB builds an Error. A message longer than MaxErrorMessageLen is
// cut at a rune boundary, and invalid UTF-8 replaced, so what a server
// sends always passes ErrorFromPB.
func ErrorToPB(code ErrorCode, message string) *pb.Error {
	message = truncateUTF8(message, MaxErrorMessageLen)
	return &pb.Error{Code: uint32(code), Message: message}
}

// truncateUTF8 returns s as valid UTF-8 of at most n bytes.
func truncateUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) { // only a cut rune at the end can be invalid
		s = s[:len(s)-1]
	}
	return s
}
