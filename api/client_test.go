package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// clientFixture is a real node (network not started) behind api.New and
// a Client of it.
type clientFixture struct {
	n   *node.Node
	srv *httptest.Server
	c   *api.Client
}

func newClientFixture(t *testing.T, p *chain.Params, srvOpts []api.Option, clientOpts ...api.ClientOption) *clientFixture {
	t.Helper()
	n := newNode(t, p)
	srv := httptest.NewServer(api.New(n, append([]api.Option{api.WithContext(context.Background())}, srvOpts...)...))
	t.Cleanup(srv.Close)
	c, err := api.NewClient(srv.URL, clientOpts...)
	if err != nil {
		t.Fatal(err)
	}
	return &clientFixture{n: n, srv: srv, c: c}
}

func remoteErr(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var re *api.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T), want *api.RemoteError", err, err)
	}
	if re.StatusCode != code || !strings.Contains(re.Message, msg) {
		t.Fatalf("remote error %d %q, want %d and a message containing %q", re.StatusCode, re.Message, code, msg)
	}
	if !strings.Contains(err.Error(), re.Message) || !strings.Contains(err.Error(), re.Status) {
		t.Errorf("error text %q lacks the node's message or the status", err)
	}
}

// TestClientReads: Status, Peers, Balance, Mempool and Chain decode what
// a real node answers.
func TestClientReads(t *testing.T) {
	ctx := t.Context()
	f := newClientFixture(t, chain.RegTest(), nil)
	st, err := f.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := chain.RegTest()
	if st.Network != "regtest" || st.NetworkID != p.NetworkID().String() || st.Height != 0 || st.Wallet != f.n.WalletAddress() {
		t.Fatalf("status %+v: want regtest, id %s, height 0, wallet %s", st, p.NetworkID(), f.n.WalletAddress())
	}
	peers, err := f.c.Peers(ctx)
	if err != nil || len(peers) != 0 {
		t.Fatalf("peers of an unstarted node: %v, %v", peers, err)
	}
	for range 3 {
		if _, err := f.c.Mine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	bal, err := f.c.Balance(ctx, f.n.WalletAddress())
	if err != nil || bal.Balance != 150 || bal.Nonce != 0 {
		t.Fatalf("wallet balance %+v, %v: want 150, nonce 0", bal, err)
	}
	page, err := f.c.Chain(ctx, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if page.Length != 4 || len(page.Blocks) != 2 || page.Blocks[0].Header.Height != 1 || page.Blocks[1].Header.Height != 2 {
		t.Fatalf("chain page from 1 limit 2: length %d, %d blocks", page.Length, len(page.Blocks))
	}
	tip, err := f.n.Chain().BlockAt(3)
	if err != nil {
		t.Fatal(err)
	}
	page, err = f.c.Chain(ctx, 3, 100)
	if err != nil || len(page.Blocks) != 1 || page.Blocks[0].Hash() != tip.Hash() {
		t.Fatalf("chain page at the tip: %v, %v", page, err)
	}
	page, err = f.c.Chain(ctx, 10, 5)
	if err != nil || len(page.Blocks) != 0 || page.Length != 4 {
		t.Fatalf("chain page past the tip: %+v, %v", page, err)
	}
	raw, err := f.c.Raw(ctx, "/status", nil)
	if err != nil || !json.Valid(raw) || !strings.Contains(string(raw), `"network":"regtest"`) {
		t.Fatalf("raw status %s, %v", raw, err)
	}
	raw, err = f.c.RawChain(ctx, 0, 1)
	if err != nil || !strings.Contains(string(raw), `"length":4`) {
		t.Fatalf("raw chain %s, %v", raw, err)
	}
}

// TestClientSubmitTx: a transaction signed on the client side with the
// nonce from Balance and Mempool is accepted, shows in the mempool and
// is mined; the node's refusals come back as *RemoteError with its
// message and status.
func TestClientSubmitTx(t *testing.T) {
	ctx := t.Context()
	f := newClientFixture(t, chain.RegTest(), nil)
	sender := testwallet.Random(t)
	from, key := sender.Addr, sender.Key
	to := testwallet.Random(t).Addr
	if _, err := f.c.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.n.Send(ctx, from, 30, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	netID := chain.RegTest().NetworkID()
	var ids []chain.Hash
	for i := range 2 {
		bal, err := f.c.Balance(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		pool, err := f.c.Mempool(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nonce := bal.Nonce
		for _, tx := range pool {
			if tx.Sender == from {
				nonce++
			}
		}
		if nonce != uint64(i) {
			t.Fatalf("nonce %d for transaction %d", nonce, i)
		}
		tx := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: 5, Fee: 1, Nonce: nonce}
		tx.Sign(netID, key)
		sub, err := f.c.SubmitTx(ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		if sub.BlockIndex != 3 || sub.Transaction.ID() != tx.ID() {
			t.Fatalf("submitted: block index %d, id %s; want 3, %s", sub.BlockIndex, sub.Transaction.ID(), tx.ID())
		}
		ids = append(ids, tx.ID())
		if i == 0 {
			_, err := f.c.SubmitTx(ctx, tx)
			remoteErr(t, err, http.StatusConflict, "")
		}
	}
	// Signed for another network, with a fee this node takes (the fee is
	// checked first): the node refuses it as invalid.
	wrong := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: 1, Fee: 1, Nonce: 2}
	wrong.Sign(chain.DevNet().NetworkID(), key)
	_, err := f.c.SubmitTx(ctx, wrong)
	remoteErr(t, err, http.StatusBadRequest, "signature")

	b, err := f.c.Mine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Transactions) != 3 || b.Transactions[1].ID() != ids[0] || b.Transactions[2].ID() != ids[1] {
		t.Fatalf("mined block holds %d transactions, want the coinbase and both transfers", len(b.Transactions))
	}
	bal, err := f.c.Balance(ctx, to)
	if err != nil || bal.Balance != 10 {
		t.Fatalf("recipient %+v, %v: want 10", bal, err)
	}
}

// TestClientToken: with --api-token set on the node, Mine and SubmitTx
// need it and carry it; reads neither need nor carry it.
func TestClientToken(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	authOnGet := map[string]string{}
	n, err := node.New(node.Config{Params: chain.RegTest(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	h := api.New(n, api.WithToken("s3cret"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			mu.Lock()
			authOnGet[r.URL.Path] = r.Header.Get("Authorization")
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	anon, err := api.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = anon.Mine(ctx)
	remoteErr(t, err, http.StatusUnauthorized, "Bearer")
	wrong, _ := api.NewClient(srv.URL, api.WithClientToken("guess"))
	_, err = wrong.Mine(ctx)
	remoteErr(t, err, http.StatusUnauthorized, "")

	c, err := api.NewClient(srv.URL+"/", api.WithClientToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Mine(ctx); err != nil {
		t.Fatalf("mine with the token: %v", err)
	}
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Balance(ctx, n.WalletAddress()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(authOnGet) != 2 {
		t.Errorf("GETs seen: %v", authOnGet)
	}
	for path, auth := range authOnGet {
		if auth != "" {
			t.Errorf("GET %s carried Authorization %q", path, auth)
		}
	}
}

// TestClientRemoteError: a 4xx from the node is a *RemoteError with the
// node's own message; a non-JSON error body is shown by its text.
func TestClientRemoteError(t *testing.T) {
	ctx := t.Context()
	f := newClientFixture(t, chain.RegTest(), nil)
	_, err := f.c.Balance(ctx, "gc00")
	remoteErr(t, err, http.StatusBadRequest, "not a valid address")
	_, err = f.c.Chain(ctx, 0, 0)
	if err == nil {
		t.Fatal("Chain with limit 0: no error")
	}
	_, err = f.c.Raw(ctx, "/nowhere", nil)
	remoteErr(t, err, http.StatusNotFound, "no route /nowhere")

	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream node is down", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	c, _ := api.NewClient(proxy.URL)
	_, err = c.Status(ctx)
	remoteErr(t, err, http.StatusBadGateway, "upstream node is down")
}

// TestClientEscapesPath: an open network's account name with a slash or
// a space is one path segment, not two.
func TestClientEscapesPath(t *testing.T) {
	ctx := t.Context()
	f := newClientFixture(t, chain.OpenNet(), nil)
	for _, name := range []string{"Alice Smith", "a/b", "50%", "é"} {
		bal, err := f.c.Balance(ctx, name)
		if err != nil || bal.Address != name || bal.Balance != 0 {
			t.Errorf("balance of %q: %+v, %v", name, bal, err)
		}
	}
}

// TestClientBoundsAnswers: a server that is not a well-behaved node
// cannot make the client read without limit, follow a redirect, or pass
// off a page it did not ask for.
func TestClientBoundsAnswers(t *testing.T) {
	ctx := t.Context()
	real := newClientFixture(t, chain.RegTest(), nil)
	for range 3 {
		if _, err := real.c.Mine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pageJSON := func(from, limit uint64) []byte {
		raw, err := real.c.RawChain(ctx, from, limit)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	var reversed []byte
	{
		var page struct {
			Chain  []json.RawMessage `json:"chain"`
			Length uint64            `json:"length"`
		}
		if err := json.Unmarshal(pageJSON(0, 3), &page); err != nil {
			t.Fatal(err)
		}
		page.Chain[0], page.Chain[2] = page.Chain[2], page.Chain[0]
		reversed, _ = json.Marshal(page)
	}
	fake := func(body []byte, code int) *api.Client {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if code == http.StatusFound {
				http.Redirect(w, r, "http://192.0.2.1/steal", code)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			w.Write(body)
		}))
		t.Cleanup(srv.Close)
		c, err := api.NewClient(srv.URL, api.WithHTTPClient(&http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	huge := []byte(`{"peer_id":"` + strings.Repeat("x", 1<<20) + `"}`)
	tests := []struct {
		name string
		call func(c *api.Client) error
		body []byte
		code int
	}{
		{"status over 1 MiB", func(c *api.Client) error { _, err := c.Status(ctx); return err }, huge, http.StatusOK},
		{"status not JSON", func(c *api.Client) error { _, err := c.Status(ctx); return err }, []byte("<html>"), http.StatusOK},
		{"more blocks than asked", func(c *api.Client) error { _, err := c.Chain(ctx, 0, 2); return err }, pageJSON(0, 3), http.StatusOK},
		{"blocks from another height", func(c *api.Client) error { _, err := c.Chain(ctx, 1, 3); return err }, pageJSON(0, 3), http.StatusOK},
		{"blocks out of order", func(c *api.Client) error { _, err := c.Chain(ctx, 0, 3); return err }, reversed, http.StatusOK},
		{"balance of another address", func(c *api.Client) error { _, err := c.Balance(ctx, real.n.WalletAddress()); return err },
			[]byte(`{"address":"someone","balance":5,"nonce":0}`), http.StatusOK},
		{"a different transaction back", func(c *api.Client) error {
			_, err := c.SubmitTx(ctx, &chain.Transaction{Version: chain.TxVersion, Sender: "a", Recipient: "b", Amount: 2})
			return err
		}, []byte(`{"message":"ok","block_index":1,"transaction":{"sender":"a","recipient":"b","amount":1}}`), http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(fake(tt.body, tt.code)); !errors.Is(err, api.ErrBadAnswer) {
				t.Fatalf("error %v, want ErrBadAnswer", err)
			}
		})
	}
	t.Run("redirect not followed", func(t *testing.T) {
		c, _ := api.NewClient(fake(nil, http.StatusFound).URL())
		_, err := c.Status(ctx)
		remoteErr(t, err, http.StatusFound, "not followed")
	})
}

func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, _ := api.NewClient(srv.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Status(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("status from a silent server: %v, want the deadline", err)
	}
	short, _ := api.NewClient(srv.URL, api.WithHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}))
	if _, err := short.Status(t.Context()); err == nil {
		t.Fatal("status from a silent server: no error despite the client's timeout")
	}
}

func TestNewClientURL(t *testing.T) {
	for _, u := range []string{"127.0.0.1:5000", "ftp://127.0.0.1", "http://", "http://u:p@127.0.0.1:5000", "http://127.0.0.1:5000/?x=1", "http://h/#f", "%zz"} {
		if _, err := api.NewClient(u); err == nil {
			t.Errorf("NewClient(%q): no error", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:5000", "https://node.example/api/", "http://[::1]:5000"} {
		if _, err := api.NewClient(u); err != nil {
			t.Errorf("NewClient(%q): %v", u, err)
		}
	}
}
