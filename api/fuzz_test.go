package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
)

// fuzzPost posts body to path on h and checks the answer is never a
// 500, always JSON, and an {"error"} whenever the status is not want.
func fuzzPost(t *testing.T, h http.Handler, path, body string, want int) int {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Host = "127.0.0.1" // httptest's example.com is refused by the Host check
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 && rec.Code != http.StatusBadGateway && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("POST %s %q: status %d %s", path, body, rec.Code, rec.Body)
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("POST %s %q: status %d, body not JSON: %q", path, body, rec.Code, rec.Body)
	}
	if msg, _ := out["error"].(string); rec.Code != want && msg == "" {
		t.Fatalf("POST %s %q: status %d without an error message: %s", path, body, rec.Code, rec.Body)
	}
	return rec.Code
}

// FuzzCreateTransaction feeds arbitrary bodies to /create-transaction on
// a signed and on the open network: never a 500, and a refused request
// changes nothing.
func FuzzCreateTransaction(f *testing.F) {
	for _, s := range []string{
		`{"sender":"Alice","recipient":"Bob","amount":5}`,
		`{"recipient":"gc0000000000000000000000000000000000000000000000","amount":1,"fee":0}`,
		`{"sender":"a","recipient":"b","amount":1,"nonce":3,"public_key":"00","signature":"00"}`,
		`{"amount":18446744073709551616}`, `[]`, `null`, `{"amount":1e3}`, `{"sender":null}`,
	} {
		f.Add(s)
	}
	signed := newNode(f, chain.RegTest())
	open := newNode(f, chain.OpenNet())
	if _, err := signed.MineOne(f.Context()); err != nil {
		f.Fatal(err)
	}
	hs := []http.Handler{api.New(signed), api.New(open)}
	pools := []interface{ Len() int }{signed.Mempool(), open.Mempool()}
	f.Fuzz(func(t *testing.T, body string) {
		for i, h := range hs {
			before := pools[i].Len()
			if code := fuzzPost(t, h, "/create-transaction", body, http.StatusCreated); code != http.StatusCreated && pools[i].Len() != before {
				t.Fatalf("refused (%d) but the mempool changed: %q", code, body)
			}
		}
	})
}

// FuzzRegisterNode feeds arbitrary bodies to /register-node on a node
// whose network is not started, so no address is ever dialled: never a
// 500, always a JSON answer. Bodies naming a URL are skipped, since
// resolving one is a real HTTP request to wherever it points.
func FuzzRegisterNode(f *testing.F) {
	for _, s := range []string{
		`{"address":"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLuCZSrJoUx4MwbLb7Kt1KdFfT27crVYJdTDzrMzW4FHH"}`,
		`{"address":"/ip4/127.0.0.1/tcp/1"}`, `{"address":"/dns4/x/udp/1/quic-v1"}`, `{"address":5}`, `{}`, `[]`,
	} {
		f.Add(s)
	}
	h := api.New(newNode(f, chain.RegTest()))
	f.Fuzz(func(t *testing.T, body string) {
		var probe struct{ Address any }
		if json.Unmarshal([]byte(body), &probe) == nil {
			if s, ok := probe.Address.(string); ok && strings.Contains(strings.ToLower(s), "http") {
				t.Skip("a URL would be fetched")
			}
		}
		fuzzPost(t, h, "/register-node", body, http.StatusCreated)
	})
}
