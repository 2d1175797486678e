package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// newNode opens a node on p in a temporary directory without starting
// its network: SubmitTx, Send and MineOne work without peers.
func newNode(t testing.TB, p *chain.Params) *node.Node {
	t.Helper()
	n, err := node.New(node.Config{Params: p, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func newServer(t *testing.T, p *chain.Params) (*node.Node, *httptest.Server) {
	t.Helper()
	n := newNode(t, p)
	srv := httptest.NewServer(api.New(n, api.WithContext(context.Background())))
	t.Cleanup(srv.Close)
	return n, srv
}

// do sends a request and decodes the JSON answer into a map.
func do(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: status %d, body not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func mine(t *testing.T, srv *httptest.Server) map[string]any {
	t.Helper()
	code, out := do(t, srv, http.MethodPost, "/mine", "")
	if code != http.StatusOK {
		t.Fatalf("mine: %d %v", code, out)
	}
	return out
}

func balance(t *testing.T, srv *httptest.Server, addr string) float64 {
	t.Helper()
	code, out := do(t, srv, http.MethodGet, "/balance/"+addr, "")
	if code != http.StatusOK || out["address"] != addr {
		t.Fatalf("balance %s: %d %v", addr, code, out)
	}
	return out["balance"].(float64)
}

// TestClassicFlow: create-transaction (node signs), mine, the chain and
// balances show it; the transaction is found pending, then confirmed.
func TestClassicFlow(t *testing.T) {
	n, srv := newServer(t, chain.RegTest())
	wallet := n.WalletAddress()
	to := testwallet.Random(t).Addr

	out := mine(t, srv)
	if out["message"] != "Successfully Mined the new Block" || out["block_data"].(map[string]any)["index"] != 1.0 {
		t.Fatalf("mine: %v", out)
	}
	if got := balance(t, srv, wallet); got != 50 {
		t.Fatalf("wallet balance %v, want 50", got)
	}

	code, out := do(t, srv, http.MethodPost, "/create-transaction", fmt.Sprintf(`{"recipient":%q,"amount":10}`, to))
	if code != http.StatusCreated || out["message"] != "Transaction has been submitted successfully" || out["block_index"] != 2.0 {
		t.Fatalf("create-transaction: %d %v", code, out)
	}
	tx := out["transaction"].(map[string]any)
	id := tx["id"].(string)
	if tx["sender"] != wallet || tx["recipient"] != to || tx["amount"] != 10.0 || tx["signature"] == nil {
		t.Fatalf("transaction %v", tx)
	}
	// The wallet address named explicitly also means "node signs".
	code, out = do(t, srv, http.MethodPost, "/create-transaction", fmt.Sprintf(`{"sender":%q,"recipient":%q,"amount":5,"fee":1}`, wallet, to))
	if code != http.StatusCreated {
		t.Fatalf("create-transaction from wallet: %d %v", code, out)
	}

	code, out = do(t, srv, http.MethodGet, "/mempool", "")
	if code != http.StatusOK || out["count"] != 2.0 || len(out["transactions"].([]any)) != 2 {
		t.Fatalf("mempool: %d %v", code, out)
	}
	code, out = do(t, srv, http.MethodGet, "/transaction/"+id, "")
	if code != http.StatusOK || out["status"] != "pending" {
		t.Fatalf("pending transaction: %d %v", code, out)
	}

	mine(t, srv)
	code, out = do(t, srv, http.MethodGet, "/chain", "")
	if code != http.StatusOK || out["length"] != 3.0 {
		t.Fatalf("chain: %d %v", code, out)
	}
	blocks := out["chain"].([]any)
	last := blocks[2].(map[string]any)
	if len(last["transactions"].([]any)) != 3 || last["previous_hash"] != blocks[1].(map[string]any)["hash"] {
		t.Fatalf("last block %v", last)
	}
	if got := balance(t, srv, to); got != 15 {
		t.Fatalf("recipient balance %v, want 15", got)
	}
	if got := balance(t, srv, wallet); got != 50+50+1-16 {
		t.Fatalf("wallet balance %v, want 85", got)
	}
	code, out = do(t, srv, http.MethodGet, "/transaction/"+id, "")
	if code != http.StatusOK || out["status"] != "confirmed" || out["block_index"] != 2.0 {
		t.Fatalf("confirmed transaction: %d %v", code, out)
	}
	if n.Mempool().Len() != 0 {
		t.Fatalf("mempool holds %d after mining", n.Mempool().Len())
	}
}

// TestClientSigned: a sender other than the wallet signs its own
// transaction and posts it with public_key, signature and nonce.
func TestClientSigned(t *testing.T) {
	n, srv := newServer(t, chain.RegTest())
	sender := testwallet.Random(t)
	from, key := sender.Addr, sender.Key
	to := testwallet.Random(t).Addr
	mine(t, srv)
	if code, out := do(t, srv, http.MethodPost, "/create-transaction", fmt.Sprintf(`{"recipient":%q,"amount":20}`, from)); code != http.StatusCreated {
		t.Fatalf("fund: %d %v", code, out)
	}
	mine(t, srv)

	tx := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: 7, Fee: 1}
	tx.Sign(n.Chain().Params().NetworkID(), key)
	body, err := json.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	code, out := do(t, srv, http.MethodPost, "/create-transaction", string(body))
	if code != http.StatusCreated || out["transaction"].(map[string]any)["id"] != tx.ID().String() {
		t.Fatalf("signed: %d %v", code, out)
	}
	// The same again is a duplicate: 409, nothing changes.
	code, out = do(t, srv, http.MethodPost, "/create-transaction", string(body))
	if code != http.StatusConflict || out["error"] == nil {
		t.Fatalf("duplicate: %d %v", code, out)
	}
	// Unsigned from a foreign sender: 400.
	code, out = do(t, srv, http.MethodPost, "/create-transaction", fmt.Sprintf(`{"sender":%q,"recipient":%q,"amount":1}`, from, to))
	if code != http.StatusBadRequest || !strings.Contains(out["error"].(string), "missing") {
		t.Fatalf("unsigned foreign: %d %v", code, out)
	}
	// A nonce far ahead: 409 (depends on state).
	tx2 := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: 1, Fee: 1, Nonce: 100}
	tx2.Sign(n.Chain().Params().NetworkID(), key)
	body, _ = json.Marshal(tx2)
	if code, out := do(t, srv, http.MethodPost, "/create-transaction", string(body)); code != http.StatusConflict || out["error"] == nil {
		t.Fatalf("nonce gap: %d %v", code, out)
	}
	// A nonce just ahead: held until the one before it comes, 202.
	tx4 := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: 1, Fee: 1, Nonce: 2}
	tx4.Sign(n.Chain().Params().NetworkID(), key)
	body, _ = json.Marshal(tx4)
	if code, out := do(t, srv, http.MethodPost, "/create-transaction", string(body)); code != http.StatusAccepted ||
		!strings.Contains(out["message"].(string), "queued") || out["transaction"].(map[string]any)["id"] != tx4.ID().String() {
		t.Fatalf("queued: %d %v", code, out)
	}
	if n.Mempool().Len() != 1 || n.Mempool().Queued() != 1 {
		t.Fatalf("mempool holds %d pending and %d queued, want 1 and 1", n.Mempool().Len(), n.Mempool().Queued())
	}
	// Overspending: 409.
	tx3 := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: 1000, Fee: 1, Nonce: 1}
	tx3.Sign(n.Chain().Params().NetworkID(), key)
	body, _ = json.Marshal(tx3)
	if code, out := do(t, srv, http.MethodPost, "/create-transaction", string(body)); code != http.StatusConflict || out["error"] == nil {
		t.Fatalf("overspend: %d %v", code, out)
	}
	if n.Mempool().Len() != 1 {
		t.Fatalf("mempool holds %d, want 1", n.Mempool().Len())
	}
	// Nonce 1 fills the gap: both it and the held nonce 2 are pending.
	tx5 := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: 1, Fee: 1, Nonce: 1}
	tx5.Sign(n.Chain().Params().NetworkID(), key)
	body, _ = json.Marshal(tx5)
	if code, out := do(t, srv, http.MethodPost, "/create-transaction", string(body)); code != http.StatusCreated {
		t.Fatalf("gap filled: %d %v", code, out)
	}
	if n.Mempool().Len() != 3 || n.Mempool().Queued() != 0 {
		t.Fatalf("mempool holds %d pending and %d queued, want 3 and 0", n.Mempool().Len(), n.Mempool().Queued())
	}
	mine(t, srv)
	if got := balance(t, srv, to); got != 9 {
		t.Fatalf("recipient balance %v, want 9", got)
	}
}

// TestOpenNetwork: any sender, no signature, identical transfers get
// distinct ids.
func TestOpenNetwork(t *testing.T) {
	n, srv := newServer(t, chain.OpenNet())
	body := `{"sender":"alice","recipient":"bob","amount":5}`
	ids := map[any]bool{}
	for range 2 {
		code, out := do(t, srv, http.MethodPost, "/create-transaction", body)
		if code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, out)
		}
		ids[out["transaction"].(map[string]any)["id"]] = true
	}
	if len(ids) != 2 || n.Mempool().Len() != 2 {
		t.Fatalf("ids %v, mempool %d", ids, n.Mempool().Len())
	}
	// Balances of any name, negative allowed by the teaching rules.
	if code, out := do(t, srv, http.MethodGet, "/balance/alice", ""); code != http.StatusOK || out["balance"] != 0.0 {
		t.Fatalf("balance: %d %v", code, out)
	}
	// A signature on the open network is refused.
	sig := strings.Repeat("00", 64)
	key := strings.Repeat("00", 32)
	code, out := do(t, srv, http.MethodPost, "/create-transaction",
		fmt.Sprintf(`{"sender":"a","recipient":"b","amount":1,"public_key":%q,"signature":%q}`, key, sig))
	if code != http.StatusBadRequest || out["error"] == nil {
		t.Fatalf("signed on open: %d %v", code, out)
	}
}

// TestBadInput: every bad request gets its status and a JSON error, and
// changes neither the mempool nor the tip.
func TestBadInput(t *testing.T) {
	n, srv := newServer(t, chain.RegTest())
	mine(t, srv)
	to := testwallet.Random(t).Addr
	big := `{"recipient":"` + to + `","amount":1,"fee":0` + strings.Repeat(" ", 2<<20) + `}`
	tests := []struct {
		name, method, path, body string
		code                     int
		contains                 string
	}{
		{"malformed json", "POST", "/create-transaction", `{"recipient":`, 400, "not valid JSON"},
		{"not an object", "POST", "/create-transaction", `[1,2]`, 400, "JSON array"},
		{"null body", "POST", "/create-transaction", `null`, 400, "body is null"},
		{"empty body", "POST", "/create-transaction", ``, 400, "JSON object"},
		{"empty object", "POST", "/create-transaction", `{}`, 400, "recipient"},
		{"unknown field", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":1,"memo":"x"}`, 400, "memo"},
		{"case-folded field", "POST", "/create-transaction", `{"recipient":"` + to + `","Amount":1}`, 400, "Amount"},
		{"duplicate field", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":1,"amount":2}`, 400, "amount"},
		{"float amount", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":1.5}`, 400, "amount"},
		{"exponent amount", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":1e3}`, 400, "amount"},
		{"negative amount", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":-5}`, 400, "amount"},
		{"zero amount", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":0}`, 400, "amount"},
		{"overflow amount", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":18446744073709551616}`, 400, "amount"},
		{"amount above MaxAmount", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":9007199254740992}`, 400, "amount"},
		{"string amount", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":"5"}`, 400, "amount"},
		{"missing amount", "POST", "/create-transaction", `{"recipient":"` + to + `"}`, 400, "amount"},
		{"missing recipient", "POST", "/create-transaction", `{"amount":5}`, 400, "recipient"},
		{"bad recipient", "POST", "/create-transaction", `{"recipient":"bob","amount":5}`, 400, "recipient"},
		{"null sender", "POST", "/create-transaction", `{"sender":null,"recipient":"` + to + `","amount":5}`, 400, "sender"},
		{"wallet with nonce", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":5,"nonce":0}`, 400, "nonce"},
		{"overspend", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":51}`, 409, "Insufficient"},
		{"trailing garbage", "POST", "/create-transaction", `{"recipient":"` + to + `","amount":1} x`, 400, "JSON"},
		{"2 MiB body", "POST", "/create-transaction", big, 413, "limit"},
		{"2 MiB body to mine", "POST", "/mine", big, 413, "limit"},
		{"get create-transaction", "GET", "/create-transaction", "", 405, "POST"},
		{"post chain", "POST", "/chain", "", 405, "GET"},
		{"delete mine", "DELETE", "/mine", "", 405, "GET, POST"},
		{"unknown route", "GET", "/nope", "", 404, "/nope"},
		{"unknown block height", "GET", "/block/99", "", 404, "99"},
		{"unknown block hash", "GET", "/block/" + strings.Repeat("ab", 32), "", 404, "abab"},
		{"bad block id", "GET", "/block/xyz", "", 400, "xyz"},
		{"negative block", "GET", "/block/-1", "", 400, "-1"},
		{"unknown transaction", "GET", "/transaction/" + strings.Repeat("cd", 32), "", 404, "cdcd"},
		{"bad transaction id", "GET", "/transaction/zz", "", 400, "zz"},
		{"bad balance address", "GET", "/balance/bob", "", 400, "bob"},
		{"chain bad from", "GET", "/chain?from=-1", "", 400, "from"},
		{"chain bad limit", "GET", "/chain?limit=abc", "", 400, "limit"},
		{"chain zero limit", "GET", "/chain?limit=0", "", 400, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tip, pool := n.Chain().Tip().Hash, n.Mempool().Len()
			code, out := do(t, srv, tt.method, tt.path, tt.body)
			msg, _ := out["error"].(string)
			if code != tt.code || msg == "" || len(out) != 1 {
				t.Fatalf("got %d %v, want %d and {\"error\"}", code, out, tt.code)
			}
			if !strings.Contains(msg, tt.contains) {
				t.Errorf("error %q does not mention %q", msg, tt.contains)
			}
			if n.Chain().Tip().Hash != tip || n.Mempool().Len() != pool {
				t.Errorf("state changed: tip %v -> %v, mempool %d -> %d", tip, n.Chain().Tip().Hash, pool, n.Mempool().Len())
			}
		})
	}
}

// TestReads covers the read routes on a short chain: paging, blocks by
// height and hash, sync without peers.
func TestReads(t *testing.T) {
	n, srv := newServer(t, chain.RegTest())
	for range 5 {
		mine(t, srv)
	}
	tests := []struct {
		path    string
		length  float64
		indexes []float64
	}{
		{"/chain", 6, []float64{0, 1, 2, 3, 4, 5}},
		{"/chain?from=2", 6, []float64{2, 3, 4, 5}},
		{"/chain?from=1&limit=2", 6, []float64{1, 2}},
		{"/chain?limit=100000", 6, []float64{0, 1, 2, 3, 4, 5}},
		{"/chain?from=10", 6, []float64{}},
		{"/sync-chain", 6, []float64{0, 1, 2, 3, 4, 5}},
	}
	for _, tt := range tests {
		code, out := do(t, srv, http.MethodGet, tt.path, "")
		if code != http.StatusOK || out["length"] != tt.length {
			t.Fatalf("%s: %d %v", tt.path, code, out)
		}
		blocks := out["chain"].([]any)
		if len(blocks) != len(tt.indexes) {
			t.Fatalf("%s: %d blocks, want %d", tt.path, len(blocks), len(tt.indexes))
		}
		for i, b := range blocks {
			if got := b.(map[string]any)["index"]; got != tt.indexes[i] {
				t.Fatalf("%s: block %d has index %v", tt.path, i, got)
			}
		}
	}
	if _, out := do(t, srv, http.MethodGet, "/sync-chain", ""); out["message"] != "Chain is already up to date" {
		t.Fatalf("sync-chain: %v", out)
	}

	b3, err := n.Chain().BlockAt(3)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"3", b3.Hash().String()} {
		code, out := do(t, srv, http.MethodGet, "/block/"+id, "")
		if code != http.StatusOK || out["hash"] != b3.Hash().String() || out["index"] != 3.0 {
			t.Fatalf("block %s: %d %v", id, code, out)
		}
	}
	// The coinbase of block 3 is a confirmed transaction.
	cb := b3.Transactions[0].ID().String()
	if code, out := do(t, srv, http.MethodGet, "/transaction/"+cb, ""); code != http.StatusOK || out["block_hash"] != b3.Hash().String() {
		t.Fatalf("coinbase: %d %v", code, out)
	}
	if code, out := do(t, srv, http.MethodGet, "/mempool", ""); code != http.StatusOK || out["count"] != 0.0 || out["transactions"] == nil {
		t.Fatalf("empty mempool: %d %v", code, out)
	}
	if code, out := do(t, srv, http.MethodGet, "/mine", ""); code != http.StatusOK || out["block_data"].(map[string]any)["index"] != 6.0 {
		t.Fatalf("GET /mine: %d %v", code, out)
	}
}

// TestServerTimeouts: the helper sets every timeout.
func TestServerTimeouts(t *testing.T) {
	s := api.Server("127.0.0.1:0", http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 {
		t.Fatalf("timeouts not set: %+v", s)
	}
}

// TestShutdownCancels: a request's context ends with the node's.
func TestShutdownCancels(t *testing.T) {
	n := newNode(t, chain.RegTest())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv := httptest.NewServer(api.New(n, api.WithContext(ctx)))
	t.Cleanup(srv.Close)
	code, out := do(t, srv, http.MethodGet, "/mine", "")
	if code != http.StatusServiceUnavailable || out["error"] == nil {
		t.Fatalf("mine after shutdown: %d %v", code, out)
	}
	if n.Chain().Tip().Height() != 0 {
		t.Fatal("mined after shutdown")
	}
}

// TestRequestsEndWithNode: served by api.Server (the node's context is
// every connection's base) or by a plain http.Server (route ties each
// request to it), a request's context ends with the node's: an open
// event stream ends, and a /mine after the end is refused.
func TestRequestsEndWithNode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(h http.Handler) *http.Server
	}{
		{"api.Server", func(h http.Handler) *http.Server { return api.Server("", h) }},
		{"http.Server", func(h http.Handler) *http.Server { return &http.Server{Handler: h} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, chain.RegTest())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := tc.serve(api.New(n, api.WithContext(ctx)))
			go srv.Serve(ln)
			defer srv.Close()
			url := "http://" + ln.Addr().String()

			resp, err := http.Get(url + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			first := make([]byte, len("retry:"))
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatalf("the stream's first bytes: %v", err)
			}
			ended := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, resp.Body)
				ended <- err
			}()
			cancel()
			select {
			case err := <-ended:
				if err != nil {
					t.Fatalf("the stream ended with %v, want its end", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the event stream outlived the node's context")
			}
			mined, err := http.Post(url+"/mine", "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			mined.Body.Close()
			if mined.StatusCode != http.StatusServiceUnavailable || n.Chain().Tip().Height() != 0 {
				t.Fatalf("mine after the node's end: %d, height %d", mined.StatusCode, n.Chain().Tip().Height())
			}
		})
	}
}

// *node.Node is an api.Node.
var _ api.Node = (*node.Node)(nil)

// TestChunkedBodyTooLarge: a body without Content-Length is cut off at
// 1 MiB as it is read.
func TestChunkedBodyTooLarge(t *testing.T) {
	n, srv := newServer(t, chain.RegTest())
	body := io.MultiReader(strings.NewReader(`{"recipient":"x","amount":1,"fee":0`), strings.NewReader(strings.Repeat(" ", 2<<20)+"}"))
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/create-transaction", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || out["error"] == "" {
		t.Fatalf("got %d %v (%v)", resp.StatusCode, out, err)
	}
	if n.Mempool().Len() != 0 {
		t.Fatal("mempool changed")
	}
}

// TestToken: with a token, the routes that change state answer 401
// without it (and change nothing) and work with it; reads stay open.
func TestToken(t *testing.T) {
	n := newNode(t, chain.RegTest())
	h := api.New(n, api.WithToken("s3cret"))
	do := func(method, path, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.Host = "localhost"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	tip := n.Chain().Tip().Hash
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Basic s3cret"} {
		if rec := do(http.MethodPost, "/mine", auth); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"error"`) {
			t.Fatalf("/mine with %q: %d %s", auth, rec.Code, rec.Body)
		}
	}
	if n.Chain().Tip().Hash != tip {
		t.Fatal("an unauthorised /mine mined")
	}
	for _, path := range []string{"/register-node", "/create-transaction"} {
		if rec := do(http.MethodPost, path, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without the token: %d %s", path, rec.Code, rec.Body)
		}
	}
	if rec := do(http.MethodGet, "/sync-chain", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("/sync-chain without the token: %d", rec.Code)
	}
	for _, path := range []string{"/status", "/peers", "/metrics", "/mempool"} {
		if rec := do(http.MethodGet, path, ""); rec.Code != http.StatusOK {
			t.Errorf("%s without the token: %d, want reads open", path, rec.Code)
		}
	}
	if rec := do(http.MethodGet, "/chain", ""); rec.Code != http.StatusOK {
		t.Fatalf("/chain without token: %d", rec.Code)
	}
	if rec := do(http.MethodPost, "/mine", "Bearer s3cret"); rec.Code != http.StatusOK {
		t.Fatalf("/mine with the token: %d %s", rec.Code, rec.Body)
	}
}
