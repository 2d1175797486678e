package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/node"
)

// GET /status
func (s *server) getStatus(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, s.n.Status())
	return nil
}

// GET /peers
func (s *server) getPeers(w http.ResponseWriter, r *http.Request) error {
	peers := s.n.Peers()
	s.writeJSON(w, r, http.StatusOK, struct {
		Peers []node.PeerInfo `json:"peers"`
		Count int             `json:"count"`
	}{peers, len(peers)})
	return nil
}

// registerResponse is the classic app's answer to /register-node, with
// the peer it connected to. Nodes are the connected peers, each as the
// full multiaddr of its connection: in gossipchain the peer set is what
// a registered node joins.
type registerResponse struct {
	Message   string   `json:"message"`
	PeerID    string   `json:"peer_id"`
	NodeCount int      `json:"node_count"`
	Nodes     []string `json:"nodes"`
}

// Limits on resolving an http:// address through the other node's API.
const (
	statusFetchTimeout = 5 * time.Second
	maxStatusBody      = 64 << 10
)

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
	resp := registerResponse{Message: "New node has been added", PeerID: id.String(), Nodes: []string{}}
	for _, p := range s.n.Peers() {
		if p.Addr != "" {
			resp.Nodes = append(resp.Nodes, p.Addr+"/p2p/"+p.ID)
		}
	}
	resp.NodeCount = len(resp.Nodes)
	s.writeJSON(w, r, http.StatusCreated, resp)
	return nil
}

// resolveAPI asks the node API at base for its /status and returns the
// multiaddrs it lists.
func (s *server) resolveAPI(ctx context.Context, base string) ([]multiaddr.Multiaddr, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errorf(EINVALID, "address %q is not a plain http://host:port URL", clip(base))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/status"
	ctx, cancel := context.WithTimeout(ctx, statusFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errorf(EINVALID, "address %q: %v", clip(base), err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, errorf(EUPSTREAM, "ask %s for its addresses: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errorf(EUPSTREAM, "ask %s for its addresses: status %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody+1))
	if err != nil {
		return nil, errorf(EUPSTREAM, "ask %s for its addresses: %v", u, err)
	}
	if len(body) > maxStatusBody {
		return nil, errorf(EUPSTREAM, "ask %s for its addresses: answer over %d bytes", u, maxStatusBody)
	}
	var st struct {
		Addrs []string `json:"addrs"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, errorf(EUPSTREAM, "%s is not a gossipchain node's status: %v", u, err)
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
// in fields (each at most once, names matched exactly, unlike
// encoding/json's case-insensitive matching) into v. Anything else is an
// error a client can read: unknown or repeated members, wrong types,
// trailing data, an empty body.
func decodeStrict(r io.Reader, v any, fields ...string) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err // *http.MaxBytesError, or the client went away
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || bytes.Equal(body, []byte("null")) {
		return errorf(EINVALID, "body is empty; want a JSON object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return jsonError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the '{' Unmarshal has seen
		return jsonError(err)
	}
	seen := make(map[string]bool, len(members))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		name := tok.(string) // inside an object every other token is a key
		if !slices.Contains(fields, name) {
			return errorf(EINVALID, "unknown field %q; want %s", clip(name), strings.Join(fields, ", "))
		}
		if seen[name] {
			return errorf(EINVALID, "field %q appears twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return jsonError(err)
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
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
