package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// Bounds on what the client reads from a node, so a broken or hostile
// server cannot make it allocate without limit.
const (
	// maxClientBody bounds an answer of fixed shape (status, balance, a
	// submitted transaction, peers).
	maxClientBody = 1 << 20
	// maxClientListBody bounds a /chain page and /mempool: up to
	// maxChainPage blocks, or the mempool's 10,000 transactions of about
	// 450 bytes of JSON each. A page of many full blocks can still be
	// larger; the error then says to ask for fewer.
	maxClientListBody = 32 << 20
	// defaultClientTimeout covers a whole request, body included.
	defaultClientTimeout = 30 * time.Second
	// maxRemoteMessage clips an error message echoed from a server.
	maxRemoteMessage = 512
)

// ErrBadAnswer wraps an answer that is not what a gossipchain node
// sends: not JSON, over the size bound, or inconsistent with the request.
var ErrBadAnswer = errors.New("not a gossipchain node's answer")

// ErrTryLater matches (errors.Is) a RemoteError that refused for now
// what may be accepted later: 503 (the node's mempool is full, of its
// own clients' transactions among others; the tip moved; it is
// stopping) or 429 (the sender has too many pending). Nothing was kept:
// offer the same transaction again after RemoteError.RetryAfter.
var ErrTryLater = errors.New("refused for now, try again later")

// maxRetryAfter bounds the wait a node's Retry-After may ask for.
const maxRetryAfter = time.Hour

// RemoteError is an answer with a status other than 2xx: the node's
// {"error": "..."} message and the HTTP status. Callers read it with
// errors.As.
type RemoteError struct {
	Method     string // of the request
	Path       string // of the request, without the query
	StatusCode int
	Status     string // "409 Conflict"
	Message    string // the node's "error" member, or the start of a non-JSON body
	// RetryAfter is the node's Retry-After in seconds (at most an
	// hour), zero when it sent none or one that is not a number.
	RetryAfter time.Duration
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", e.Method, e.Path, e.Status, e.Message)
}

// Is makes a 503 or 429 match ErrTryLater.
func (e *RemoteError) Is(target error) bool {
	return target == ErrTryLater && (e.StatusCode == http.StatusServiceUnavailable || e.StatusCode == http.StatusTooManyRequests)
}

// Client talks to one node's HTTP API. It is safe for concurrent use:
// after NewClient nothing in it changes.
type Client struct {
	base  *url.URL
	hc    *http.Client
	token string
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithClientToken sends "Authorization: Bearer <token>" on the requests
// that change the node's state (create-transaction, mine), as a node run
// with --api-token requires. Reads never carry it, so they cannot leak it
// to a node that does not need it.
func WithClientToken(token string) ClientOption { return func(c *Client) { c.token = token } }

// WithHTTPClient replaces the default http.Client (a 30 s timeout, no
// redirects followed).
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// NewClient returns a client of the API at baseURL, an http:// or
// https:// URL (a path prefix is kept, a query is not allowed).
func NewClient(baseURL string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(baseURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("api url %q: %w", baseURL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("api url %q: want http:// or https://", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("api url %q: no host", baseURL)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("api url %q: want only scheme, host, port and path", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, hc: &http.Client{
		Timeout: defaultClientTimeout,
		// A redirect would be a misconfigured URL; following it could
		// send a transaction somewhere the user did not name.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// URL returns the base URL the client talks to.
func (c *Client) URL() string { return c.base.String() }

// Status asks GET /status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.getJSON(ctx, "/status", nil, maxClientBody, &st)
	return st, err
}

// Peers asks GET /peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var out Peers
	err := c.getJSON(ctx, "/peers", nil, maxClientBody, &out)
	return out.Peers, err
}

// Balance asks GET /balance/{addr}.
func (c *Client) Balance(ctx context.Context, addr string) (Balance, error) {
	var b Balance
	if err := c.getJSON(ctx, "/balance/"+url.PathEscape(addr), nil, maxClientBody, &b); err != nil {
		return Balance{}, err
	}
	if b.Address != addr {
		return Balance{}, fmt.Errorf("%w: asked the balance of %s, got %s's", ErrBadAnswer, addr, b.Address)
	}
	return b, nil
}

// Mempool asks GET /mempool for the pending transactions.
func (c *Client) Mempool(ctx context.Context) ([]*chain.Transaction, error) {
	var out MempoolPage
	err := c.getJSON(ctx, "/mempool", nil, maxClientListBody, &out)
	return out.Transactions, err
}

// Chain asks GET /chain?from=from&limit=limit. The node sends at most
// 1000 blocks whatever the limit. The page is checked: no more blocks
// than asked, heights from from on, each block the child of the one
// before (chain.Block's decoder already checks each hash).
func (c *Client) Chain(ctx context.Context, from, limit uint64) (ChainPage, error) {
	if limit == 0 {
		return ChainPage{}, errors.New("chain: limit must be at least 1")
	}
	var page ChainPage
	if err := c.getJSON(ctx, "/chain", chainQuery(from, limit), maxClientListBody, &page); err != nil {
		return ChainPage{}, err
	}
	if uint64(len(page.Blocks)) > limit {
		return ChainPage{}, fmt.Errorf("%w: asked /chain for %d blocks, got %d", ErrBadAnswer, limit, len(page.Blocks))
	}
	for i, b := range page.Blocks {
		if b == nil {
			return ChainPage{}, fmt.Errorf("%w: /chain block %d is null", ErrBadAnswer, i)
		}
		if want := from + uint64(i); b.Header.Height != want {
			return ChainPage{}, fmt.Errorf("%w: /chain block %d has height %d, want %d", ErrBadAnswer, i, b.Header.Height, want)
		}
		if i > 0 && b.Header.PrevHash != page.Blocks[i-1].Hash() {
			return ChainPage{}, fmt.Errorf("%w: /chain block at height %d is not the child of the one before", ErrBadAnswer, b.Header.Height)
		}
	}
	if n := uint64(len(page.Blocks)); n > 0 && from+n > page.Length {
		return ChainPage{}, fmt.Errorf("%w: /chain sent heights to %d of a chain of length %d", ErrBadAnswer, from+n-1, page.Length)
	}
	return page, nil
}

func chainQuery(from, limit uint64) url.Values {
	return url.Values{"from": {strconv.FormatUint(from, 10)}, "limit": {strconv.FormatUint(limit, 10)}}
}

// SubmitTx posts tx, signed by its sender (or unsigned on a network
// without signatures), to POST /create-transaction. The node must answer
// with the same transaction.
func (c *Client) SubmitTx(ctx context.Context, tx *chain.Transaction) (Submitted, error) {
	body, err := json.Marshal(tx)
	if err != nil {
		return Submitted{}, fmt.Errorf("encode transaction: %w", err)
	}
	var out Submitted
	if err := c.do(ctx, http.MethodPost, "/create-transaction", nil, body, maxClientBody, &out); err != nil {
		return Submitted{}, err
	}
	if out.Transaction == nil || out.Transaction.ID() != tx.ID() {
		return Submitted{}, fmt.Errorf("%w: submitted transaction %s, the node answered with another", ErrBadAnswer, tx.ID())
	}
	return out, nil
}

// Mine asks POST /mine for one block on the node's tip.
func (c *Client) Mine(ctx context.Context) (*chain.Block, error) {
	var out Mined
	if err := c.do(ctx, http.MethodPost, "/mine", nil, nil, maxClientBody, &out); err != nil {
		return nil, err
	}
	if out.BlockData == nil {
		return nil, fmt.Errorf("%w: /mine sent no block_data", ErrBadAnswer)
	}
	return out.BlockData, nil
}

// Raw asks GET path?query and returns the body as the node sent it,
// after checking it is JSON: for callers that print it unchanged.
func (c *Client) Raw(ctx context.Context, path string, query url.Values) (json.RawMessage, error) {
	limit := int64(maxClientBody)
	if path == "/chain" || path == "/mempool" {
		limit = maxClientListBody
	}
	var raw json.RawMessage
	err := c.getJSON(ctx, path, query, limit, &raw)
	return raw, err
}

// RawChain is Raw for GET /chain?from=from&limit=limit.
func (c *Client) RawChain(ctx context.Context, from, limit uint64) (json.RawMessage, error) {
	return c.Raw(ctx, "/chain", chainQuery(from, limit))
}

func (c *Client) getJSON(ctx context.Context, path string, query url.Values, limit int64, v any) error {
	return c.do(ctx, http.MethodGet, path, query, nil, limit, v)
}

// do sends one request to path (escaped) and decodes a 2xx answer of at most limit bytes
// into v; any other status is a *RemoteError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte, limit int64, v any) error {
	// path comes escaped (an open network's account name may hold a
	// "/"), so it is one segment to the server's router.
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	unescaped, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	u.Path = unescaped
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error repeats method and URL in its own words; name
		// them once, with the whole URL, since that is what to check.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return remoteError(method, path, resp, data)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("%w: %s %s: answer over %d bytes", ErrBadAnswer, method, path, limit)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrBadAnswer, method, path, err)
	}
	return nil
}

// remoteError reads the node's {"error": "..."}; a body that is not one
// (a proxy's page, say) is shown by its start.
func remoteError(method, path string, resp *http.Response, body []byte) *RemoteError {
	e := &RemoteError{Method: method, Path: path, StatusCode: resp.StatusCode, Status: resp.Status}
	// Only the delay-seconds form: a node sends nothing else, and a
	// date would trust the two clocks to agree.
	if s, err := strconv.ParseUint(resp.Header.Get("Retry-After"), 10, 32); err == nil {
		e.RetryAfter = min(time.Duration(s)*time.Second, maxRetryAfter)
	}
	var msg struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &msg) == nil && msg.Error != "" {
		e.Message = msg.Error
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	if len(e.Message) > maxRemoteMessage {
		e.Message = strings.ToValidUTF8(e.Message[:maxRemoteMessage], "") + "..."
	}
	if e.Message == "" {
		e.Message = "no message"
	}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
		e.Message += " (redirect to " + loc + ", not followed)"
	}
	return e
}
