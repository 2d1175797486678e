package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// webRoute is one route of the API as a web page could call it.
type webRoute struct {
	method, path, body string
	changes            bool // the route changes the node's state
}

// webRoutes lists every route; the bodies are valid, so a request that
// passes the web checks reaches the handler and does its work.
func webRoutes(to string) []webRoute {
	return []webRoute{
		{http.MethodPost, "/create-transaction", `{"recipient":"` + to + `","amount":1}`, true},
		{http.MethodGet, "/mine", "", true},
		{http.MethodPost, "/mine", "", true},
		{http.MethodGet, "/sync-chain", "", true},
		// An API URL nobody serves: the handler answers 502 once it ran.
		{http.MethodPost, "/register-node", `{"address":"http://127.0.0.1:1"}`, true},
		{http.MethodGet, "/status", "", false},
		{http.MethodGet, "/chain", "", false},
		{http.MethodGet, "/chain?from=0&limit=1", "", false},
		{http.MethodGet, "/peers", "", false},
		{http.MethodGet, "/mempool", "", false},
		{http.MethodGet, "/balance/" + to, "", false},
		{http.MethodGet, "/block/0", "", false},
		{http.MethodGet, "/metrics", "", false},
		{http.MethodGet, "/healthz", "", false},
		{http.MethodGet, "/readyz", "", false},
		{http.MethodGet, "/", "", false},
		{http.MethodGet, "/no-such-route", "", false},
	}
}

// nodeState is what a refused request must leave as it was.
type nodeState struct {
	tip     chain.Hash
	mempool int
	peers   int
}

func stateOf(n *node.Node) nodeState {
	return nodeState{n.Chain().Tip().Hash, n.Mempool().Len(), len(n.Peers())}
}

// TestWebSafety: every route against requests as browsers and programs
// send them. Pages of other sites and origins cannot change state (403,
// nothing changes), foreign Host names are refused on every route (403),
// form bodies are refused (415), and programs, same-origin pages,
// admitted hosts and admitted origins work as before.
func TestWebSafety(t *testing.T) {
	const admitted = "https://wallet.example"
	n := newNode(t, chain.RegTest())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(api.New(n, api.WithContext(ctx),
		api.WithAllowedHosts("node.lan", "pinned.lan:1"), api.WithCORSOrigins(admitted)))
	defer srv.Close()
	if _, err := n.MineOne(ctx); err != nil { // coins for the wallet's sends
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	own, port := srv.URL, u.Port()
	to := testwallet.Random(t).Addr

	type outcome int
	const (
		pass      outcome = iota // reaches the handler
		forbidden                // 403 on every route
		csrf                     // 403 on routes that change state, reads pass
		csrfGet                  // 403 on GET routes that change state
		media                    // 415 on POST
	)
	for _, c := range []struct {
		name    string
		host    string // "" for the listener's own address
		headers map[string]string
		want    outcome
		cors    bool // reads get Access-Control-Allow-Origin
	}{
		{name: "program (curl, Python): no Origin, no Sec-Fetch", want: pass},
		{name: "program, JSON content type", headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, want: pass},
		{name: "address bar (Sec-Fetch-Site none)", headers: map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}, want: pass},
		{name: "same-origin page", headers: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": own}, want: pass},
		{name: "same-origin page behind TLS proxy", headers: map[string]string{"Origin": "https://127.0.0.1:" + port}, want: pass},
		{name: "localhost name", host: "localhost:" + port, want: pass},
		{name: "IPv6 loopback name", host: "[::1]:" + port, want: pass},
		{name: "admitted host", host: "node.lan:" + port, want: pass},
		{name: "admitted host, any port", host: "NODE.LAN", want: pass},
		{name: "admitted origin, cross-site", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": admitted}, want: pass, cors: true},
		{name: "cross-site page", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, want: csrf},
		{name: "cross-site no-cors, no Origin (img, GET)", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, want: csrf},
		{name: "same-site page (other port)", headers: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:8080"}, want: csrf},
		{name: "other origin, old browser", headers: map[string]string{"Origin": "http://evil.example"}, want: csrf},
		{name: "opaque origin (sandboxed page)", headers: map[string]string{"Origin": "null"}, want: csrf},
		{name: "other origin by Referer only", headers: map[string]string{"Referer": "http://evil.example/page"}, want: csrf},
		// A browser without Fetch Metadata on a page that suppresses its
		// Referer: an <img> on /mine carries nothing but a User-Agent.
		{name: "old browser, no Referer", headers: map[string]string{"User-Agent": "Mozilla/5.0 (Macintosh) Version/15.6 Safari/605.1.15"}, want: csrfGet},
		{name: "current browser, address bar", headers: map[string]string{"User-Agent": "Mozilla/5.0 Chrome/130", "Sec-Fetch-Site": "none"}, want: pass},
		{name: "DNS rebinding: foreign Host", host: "evil.example:" + port, headers: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example:" + port}, want: forbidden},
		{name: "foreign Host, program", host: "evil.example", want: forbidden},
		{name: "loopback name, other port", host: "127.0.0.1:1", want: forbidden},
		{name: "admitted host, other port", host: "pinned.lan:" + port, want: forbidden},
		{name: "unspecified address", host: "0.0.0.0:" + port, want: forbidden},
		{name: "text/plain body", headers: map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, want: media},
		{name: "form body", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: media},
		{name: "multipart body", headers: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, want: media},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range webRoutes(to) {
				before := stateOf(n)
				req, err := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
				if err != nil {
					t.Fatal(err)
				}
				if r.body == "" {
					req.Body, req.ContentLength = http.NoBody, 0
				}
				req.Host = c.host
				for k, v := range c.headers {
					req.Header.Set(k, v)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := c.want
				switch {
				case want == csrf && !r.changes, want == media && r.method != http.MethodPost:
					want = pass
				case want == csrfGet && r.changes && r.method == http.MethodGet:
					want = csrf
				case want == csrfGet:
					want = pass
				}
				switch want {
				case pass:
					if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnsupportedMediaType {
						t.Errorf("%s %s: %d %s, want it served", r.method, r.path, resp.StatusCode, body)
					}
				case forbidden, csrf, media:
					code := http.StatusForbidden
					if want == media {
						code = http.StatusUnsupportedMediaType
					}
					if resp.StatusCode != code || !strings.Contains(string(body), `"error"`) {
						t.Errorf("%s %s: %d %s, want %d with an error", r.method, r.path, resp.StatusCode, body, code)
					}
					if after := stateOf(n); after != before {
						t.Errorf("%s %s refused, but the node changed: %+v -> %+v", r.method, r.path, before, after)
					}
				}
				acao := resp.Header.Get("Access-Control-Allow-Origin")
				if want == forbidden {
					if !strings.Contains(string(body), "--api-allow-host") {
						t.Errorf("%s %s: the refusal does not name --api-allow-host: %s", r.method, r.path, body)
					}
				} else if c.cors != (acao != "") {
					t.Errorf("%s %s: Access-Control-Allow-Origin %q, want it only for an admitted origin", r.method, r.path, acao)
				}
				if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s %s: no nosniff", r.method, r.path)
				}
			}
		})
	}
}

// TestWebSafetyPreflight: a CORS preflight from an admitted origin gets
// the methods and headers the API takes; from any other origin, 403 and
// no CORS headers, so the browser never sends the request.
func TestWebSafetyPreflight(t *testing.T) {
	n := newNode(t, chain.RegTest())
	srv := httptest.NewServer(api.New(n, api.WithCORSOrigins("http://Wallet.example:80")))
	defer srv.Close()
	for _, c := range []struct {
		origin string
		want   int
	}{{"http://wallet.example", http.StatusNoContent}, {"http://evil.example", http.StatusForbidden}} {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/create-transaction", nil)
		req.Header.Set("Origin", c.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != c.want {
			t.Errorf("preflight from %s: %d, want %d", c.origin, resp.StatusCode, c.want)
		}
		admitted := c.want == http.StatusNoContent
		if got := h.Get("Access-Control-Allow-Origin"); (got == c.origin) != admitted {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q", c.origin, got)
		}
		if admitted && (!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST")) {
			t.Errorf("preflight headers %v", h)
		}
	}
}

// TestWebSafetyToken: the web checks come on top of the token: a
// cross-site request with the right token is still refused, and a
// same-origin one still needs the token.
func TestWebSafetyToken(t *testing.T) {
	n := newNode(t, chain.RegTest())
	srv := httptest.NewServer(api.New(n, api.WithToken("s3cret")))
	defer srv.Close()
	for _, c := range []struct {
		site, auth string
		want       int
	}{
		{"cross-site", "Bearer s3cret", http.StatusForbidden},
		{"same-origin", "", http.StatusUnauthorized},
		{"same-origin", "Bearer s3cret", http.StatusOK},
		{"", "Bearer s3cret", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mine", nil)
		if c.site != "" {
			req.Header.Set("Sec-Fetch-Site", c.site)
		}
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("site %q auth %q: %d, want %d", c.site, c.auth, resp.StatusCode, c.want)
		}
	}
}

// TestValidOrigin: what --api-cors-origin accepts.
func TestValidOrigin(t *testing.T) {
	for o, want := range map[string]bool{
		"https://wallet.example": true, "http://192.168.1.5:8080": true, "http://[::1]:3000": true, "HTTP://Node.LAN": true,
		"https://wallet.example/": true, "wallet.example": false, "ftp://x": false, "https://x/path": false,
		"https://user@x": false, "null": false, "*": false, "": false, "https://x?q": false,
	} {
		if got := api.ValidOrigin(o); got != want {
			t.Errorf("ValidOrigin(%q) = %v, want %v", o, got, want)
		}
	}
}
