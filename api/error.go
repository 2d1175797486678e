package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
)

// Error codes. Each names a kind of failure a client can act on; status
// maps them to HTTP status codes, and nothing else in this package picks
// a status for an error.
const (
	EINVALID     = "invalid"        // the request is wrong: malformed, missing or out-of-range input, a broken rule
	ENOTFOUND    = "not_found"      // no such route, block, transaction
	EMETHOD      = "method"         // the route exists, the method does not
	EUNAUTH      = "unauthorized"   // a state-changing route without the API token
	EFORBIDDEN   = "forbidden"      // a Host the node does not answer to, or a web page of another site changing state
	EMEDIATYPE   = "media_type"     // a POST body that is not JSON (what web forms send)
	ECONFLICT    = "conflict"       // the request is fine but clashes with current state (duplicate, nonce)
	ETOOLARGE    = "too_large"      // the body exceeds maxBody
	ELIMIT       = "limit"          // one sender has too much pending
	EUNAVAILABLE = "unavailable"    // not now: mempool full, tip moved, shutting down
	EUPSTREAM    = "upstream"       // another node or peer this request needed did not answer
	EINTERNAL    = "internal"       // our fault; the message is generic and the cause logged
	internalMsg  = "internal error" // what clients see of an EINTERNAL
)

// Error is the one error type of the HTTP edge (benbjohnson/wtf style):
// a code for the status and a message for the client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorf builds an *Error.
func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// status is the one place error codes become HTTP status codes.
func status(code string) int {
	switch code {
	case EINVALID:
		return http.StatusBadRequest
	case ENOTFOUND:
		return http.StatusNotFound
	case EMETHOD:
		return http.StatusMethodNotAllowed
	case EUNAUTH:
		return http.StatusUnauthorized
	case EFORBIDDEN:
		return http.StatusForbidden
	case EMEDIATYPE:
		return http.StatusUnsupportedMediaType
	case ECONFLICT:
		return http.StatusConflict
	case ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case ELIMIT:
		return http.StatusTooManyRequests
	case EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case EUPSTREAM:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// toError turns any error a handler returns into an *Error: chain rule
// errors and the mempool's refusals get the code that fits, anything
// unrecognised is EINTERNAL (and keeps its cause for the log only).
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errorf(ETOOLARGE, "request body is over %d bytes", mbe.Limit)
	case errors.Is(err, chain.ErrNotFound):
		return errorf(ENOTFOUND, "%v", err)
	case errors.Is(err, chain.ErrTxInPool), errors.Is(err, chain.ErrTxMined):
		return errorf(ECONFLICT, "%v", err)
	case errors.Is(err, chain.ErrSenderLimit):
		return errorf(ELIMIT, "%v", err)
	case errors.Is(err, chain.ErrFeeTooLow):
		// This node's policy: the same transaction with a higher fee
		// goes, so say so rather than "invalid" alone.
		return errorf(EINVALID, "%v; raise the fee, or leave it out when the node signs (it then pays the minimum)", err)
	case errors.Is(err, chain.ErrFeeUnminable), errors.Is(err, chain.ErrTxExpired):
		return errorf(EINVALID, "%v", err)
	case errors.Is(err, chain.ErrMempoolFull), errors.Is(err, chain.ErrStaleTip), errors.Is(err, node.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorf(EUNAVAILABLE, "%v, try again", err)
	}
	if c := chain.CodeOf(err); c != 0 {
		if c.DependsOnState() || c.Transient() {
			// Nonce, balance, duplicate: the transaction may be right
			// on another tip, just not on ours now.
			return errorf(ECONFLICT, "%v", err)
		}
		return errorf(EINVALID, "%v", err)
	}
	return &Error{Code: EINTERNAL, Message: internalMsg}
}
