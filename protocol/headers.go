package protocol

import (
	"slices"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// GetHeaders asks for the main-chain headers after the first locator hash
// the server has on its main chain, at most Max, ending early after Stop.
type GetHeaders struct {
	Locator []chain.Hash // newest first, 1 to MaxLocatorLen, genesis last
	Stop    chain.Hash   // zero for none
	Max     int          // 1 to MaxHeadersPerResponse
}

// ValidateGetHeaders checks a GetHeaders on the server before any store
// read: 1 to MaxLocatorLen locator hashes of 32 bytes, a stop hash empty or
// of 32 bytes, and a max from 1 to MaxHeadersPerResponse. An empty locator
// is refused because a client always has genesis to put in it (chain.Locator
// ends with it), and the client checks the answer against it.
func ValidateGetHeaders(m *pb.GetHeaders) (GetHeaders, error) {
	loc := m.GetLocator()
	if len(loc) == 0 || len(loc) > MaxLocatorLen {
		return GetHeaders{}, badMessage("locator of %d hashes, want 1 to %d", len(loc), MaxLocatorLen)
	}
	req := GetHeaders{Locator: make([]chain.Hash, len(loc))}
	for i, b := range loc {
		if err := hashFromBytes(&req.Locator[i], b, "locator hash"); err != nil {
			return GetHeaders{}, err
		}
	}
	if stop := m.GetStop(); len(stop) != 0 {
		if err := hashFromBytes(&req.Stop, stop, "stop hash"); err != nil {
			return GetHeaders{}, err
		}
	}
	if n := m.GetMax(); n < 1 || n > MaxHeadersPerResponse {
		return GetHeaders{}, badMessage("max of %d headers, want 1 to %d", n, MaxHeadersPerResponse)
	}
	req.Max = int(m.GetMax())
	return req, nil
}

// GetHeadersToPB encodes req. A zero Stop encodes as empty: none.
func GetHeadersToPB(req GetHeaders) *pb.GetHeaders {
	m := &pb.GetHeaders{Locator: make([][]byte, len(req.Locator)), Max: uint32(req.Max)}
	for i := range req.Locator {
		m.Locator[i] = req.Locator[i][:]
	}
	if !req.Stop.IsZero() {
		m.Stop = req.Stop[:]
	}
	return m
}

// HeadersFromPB checks a Headers response against the request it answers,
// on the client, before anything else sees the headers: no more than
// req.Max (and MaxHeadersPerResponse), counted before decoding; each
// exactly chain.HeaderSize bytes; the first building on one of the locator
// hashes (the fork point the server found); each next one on the one
// before it, one height higher; none of them a locator hash listed before
// the one the first builds on (the server answers after the first locator
// hash on its main chain); and req.Stop, if met, last. Proof of work
// and every other rule of the headers are chain's to check.
//
// An empty answer is valid: the server has nothing after our locator.
func HeadersFromPB(m *pb.Headers, req GetHeaders) ([]chain.Header, error) {
	raw := m.GetHeaders()
	if limit := min(req.Max, MaxHeadersPerResponse); len(raw) > limit {
		return nil, unrequested("%d headers, asked for at most %d", len(raw), limit)
	}
	out := make([]chain.Header, len(raw))
	var prev chain.Hash
	// earlier are the locator hashes listed before the one the first
	// header follows: the server answers after the first locator hash on
	// its main chain, so none of them is on it, and a header that is one
	// was not its main chain's answer (a peer replaying our own headers
	// from an old locator hash, at no cost of its own).
	var earlier []chain.Hash
	for i, b := range raw {
		if len(b) != chain.HeaderSize {
			return nil, badMessage("header %d is %d bytes, want %d", i, len(b), chain.HeaderSize)
		}
		h, err := chain.DecodeHeader(b)
		if err != nil {
			return nil, badMessage("header %d: %w", i, err)
		}
		switch {
		case i == 0 && !slices.Contains(req.Locator, h.PrevHash):
			return nil, unrequested("first header builds on %s, not on a locator hash", h.PrevHash.Short())
		case i > 0 && h.PrevHash != prev:
			return nil, badMessage("header %d builds on %s, not on header %d %s", i, h.PrevHash.Short(), i-1, prev.Short())
		case i > 0 && h.Height != out[i-1].Height+1:
			return nil, badMessage("header %d at height %d after height %d", i, h.Height, out[i-1].Height)
		}
		if i == 0 {
			earlier = req.Locator[:slices.Index(req.Locator, h.PrevHash)]
		}
		out[i] = h
		prev = h.Hash()
		if slices.Contains(earlier, prev) {
			return nil, unrequested("header %d is the locator's hash %s, listed before the one the answer follows", i, prev.Short())
		}
		if !req.Stop.IsZero() && prev == req.Stop && i != len(raw)-1 {
			return nil, unrequested("%d headers after the stop hash %s", len(raw)-1-i, prev.Short())
		}
	}
	return out, nil
}

// HeadersToPB encodes headers, oldest first, as the server sends them.
func HeadersToPB(headers []chain.Header) *pb.Headers {
	m := &pb.Headers{Headers: make([][]byte, len(headers))}
	for i := range headers {
		b := headers[i].Encode()
		m.Headers[i] = b[:]
	}
	return m
}
