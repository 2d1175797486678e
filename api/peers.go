package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/internal/strictjson"
	"github.com/gossipchain/gossipchain/node"
)

// GET /status
func (s *server) getStatus(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, statusOf(s.n.Status()))
	return nil
}

// GET /peers
func (s *server) getPeers(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, peersOf(s.n.Peers()))
	return nil
}

// GET /netmap
func (s *server) getNetMap(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, netMapOf(s.n.NetMap()))
	return nil
}

// GET /propagation
func (s *server) getPropagation(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, propagationOf(s.n.Propagation()))
	return nil
}

// statusFetchTimeout bounds resolving an http:// address through the
// other node's API.
const statusFetchTimeout = 5 * time.Second

// POST /register-node {"address": A}: A is a full multiaddr of a peer
// (/ip4/.../tcp/.../p2p/<id>) or the http:// URL of another node's API,
// whose /status gives its multiaddrs. The node dials the peer now and
// keeps it connected.
func (s *server) registerNode(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Address *string `json:"address"`
	}
	if err := decodeStrict(r.Body, &req, "address"); err != nil {
		return err
	}
	if req.Address == nil {
		return errorf(EINVALID, `address is missing: want {"address": "/ip4/.../tcp/.../p2p/<peer id>"} or {"address": "http://host:port"}`)
	}
	addr := strings.TrimSpace(*req.Address)
	var addrs []multiaddr.Multiaddr
	switch {
	case strings.HasPrefix(addr, "/"):
		a, err := multiaddr.NewMultiaddr(addr)
		if err != nil {
			return errorf(EINVALID, "address %q is not a multiaddr: %v", clip(addr), err)
		}
		addrs = []multiaddr.Multiaddr{a}
	case strings.HasPrefix(addr, "http://"), strings.HasPrefix(addr, "https://"):
		var err error
		if addrs, err = s.resolveAPI(r.Context(), addr); err != nil {
			return err
		}
	default:
		return errorf(EINVALID, "address %q is neither a multiaddr (/ip4/.../p2p/<peer id>) nor an http:// URL", clip(addr))
	}
	id, err := s.n.AddPeer(r.Context(), addrs)
	switch {
	case errors.Is(err, node.ErrBadPeerAddr):
		return errorf(EINVALID, "%v", err)
	case errors.Is(err, node.ErrUnreachable):
		return errorf(EUPSTREAM, "%v", err)
	case errors.Is(err, node.ErrNotStarted):
		return errorf(EUNAVAILABLE, "%v", err)
	case err != nil:
		return err
	}
	resp := Registered{Message: "New node has been added", PeerID: id.String(), Nodes: []string{}}
	for _, p := range s.n.Peers() {
		if p.Addr != "" {
			resp.Nodes = append(resp.Nodes, p.Addr+"/p2p/"+p.ID)
		}
	}
	resp.NodeCount = len(resp.Nodes)
	s.writeJSON(w, r, http.StatusCreated, resp)
	return nil
}

// resolveAPI asks the node API at base for its /status, with the
// package's own Client, and returns the multiaddrs it lists.
func (s *server) resolveAPI(ctx context.Context, base string) ([]multiaddr.Multiaddr, error) {
	c, err := NewClient(base, WithHTTPClient(s.client))
	if err != nil {
		return nil, errorf(EINVALID, "address %q is not a plain http://host:port URL", clip(base))
	}
	u := c.URL()
	ctx, cancel := context.WithTimeout(ctx, statusFetchTimeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return nil, errorf(EUPSTREAM, "ask %s for its addresses: %v", u, err)
	}
	var addrs []multiaddr.Multiaddr
	for _, a := range st.Addrs {
		if m, err := multiaddr.NewMultiaddr(a); err == nil {
			addrs = append(addrs, m)
		}
	}
	if len(addrs) == 0 {
		return nil, errorf(EUPSTREAM, "%s lists no peer addresses (is its network started?)", u)
	}
	return addrs, nil
}

// decodeStrict decodes one JSON object with exactly the members named
// in fields (each at most once, names matched exactly) into v, with the
// strict decoder chain uses too. Every refusal is an EINVALID a client
// can read: unknown or repeated members, wrong types, trailing data, an
// empty body.
func decodeStrict(r io.Reader, v any, fields ...string) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err // *http.MaxBytesError, or the client went away
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || bytes.Equal(body, []byte("null")) {
		return errorf(EINVALID, "body is empty; want a JSON object")
	}
	err = strictjson.Decode(body, v, fields...)
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Kind {
	case strictjson.UnknownField:
		return errorf(EINVALID, "unknown field %q; want %s", strictjson.Shorten(se.Field), strings.Join(fields, ", "))
	case strictjson.RepeatedField:
		return errorf(EINVALID, "field %q appears twice", se.Field)
	case strictjson.TrailingData:
		return errorf(EINVALID, "body has data after the JSON object")
	case strictjson.NotObject:
		if se.Err == nil { // valid JSON of another kind: say which
			var m map[string]json.RawMessage
			if err := json.Unmarshal(body, &m); err != nil {
				return jsonError(err)
			}
			return errorf(EINVALID, "body is not a JSON object")
		}
	}
	return jsonError(se.Err)
}

// jsonError says what is wrong with a body encoding/json refused.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return errorf(EINVALID, "%s must be a %s, not a JSON %s", te.Field, te.Type, te.Value)
	case errors.As(err, &te):
		return errorf(EINVALID, "body is a JSON %s; want an object", te.Value)
	case errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value"):
		return errorf(EINVALID, "body has data after the JSON object")
	}
	return errorf(EINVALID, "body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}
