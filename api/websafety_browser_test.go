package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// attackPage is a page of another site that tries what issue 10 found
// working against the default node: a no-cors POST (text/plain, so no
// preflight) making the node sign a transfer, an <img> on /mine, a form
// POST, a cross-origin read of /status, and a CORS POST with a JSON body
// (which needs a preflight). window.results says what the page saw.
const attackPage = `<!doctype html>
<html><body>
<iframe name="sink" id="sink"></iframe>
<script>
const api = %s, to = %s;
window.results = {};
const done = (k, v) => { window.results[k] = v; };
fetch(api + '/create-transaction', {method: 'POST', mode: 'no-cors',
    body: JSON.stringify({recipient: to, amount: 5})})
  .then((r) => done('nocors', 'sent ' + r.type), (e) => done('nocors', 'error ' + e));
const img = new Image();
img.onload = () => done('img', 'loaded');
img.onerror = () => done('img', 'error');
img.src = api + '/mine';
const f = document.createElement('form');
f.method = 'POST'; f.action = api + '/create-transaction'; f.enctype = 'text/plain'; f.target = 'sink';
const i = document.createElement('input');
i.name = '{"recipient":"' + to + '","amount":7,"x":"'; i.value = '"}';
f.appendChild(i); document.body.appendChild(f);
document.getElementById('sink').onload = () => done('form', 'submitted');
f.submit();
fetch(api + '/status').then((r) => r.text()).then((t) => done('read', 'read ' + t), (e) => done('read', 'blocked'));
fetch(api + '/status', {mode: 'no-cors'}).then((r) => r.text()).then((t) => done('opaque', 'read ' + t.length), (e) => done('opaque', 'error'));
fetch(api + '/mine', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})
  .then((r) => done('cors', 'status ' + r.status), (e) => done('cors', 'blocked'));
</script></body></html>`

// hit is one request that reached the node's HTTP server.
type hit struct {
	method, path, site string
	status             int
}

// recorder wraps the API handler and keeps every request with the
// status it got, so the test sees that the browser really sent the
// attack and that the node refused it.
type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	hits []hit
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	rec.h.ServeHTTP(sw, r)
	rec.mu.Lock()
	rec.hits = append(rec.hits, hit{r.Method, r.URL.Path, r.Header.Get("Sec-Fetch-Site"), sw.code})
	rec.mu.Unlock()
}

func (rec *recorder) find(method, path string) []hit {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []hit
	for _, h := range rec.hits {
		if h.method == method && h.path == path {
			out = append(out, h)
		}
	}
	return out
}

// TestWebSafetyBrowser: in headless Chromium, a page of another site
// tries to spend from the node's wallet, mine, and read the node, and a
// DNS-rebound name tries to reach it as same-origin; the node's chain,
// mempool and wallet are unchanged and the page reads nothing. Then the
// node's own explorer page, in the same browser, still sends and mines.
func TestWebSafetyBrowser(t *testing.T) {
	bin := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNode(t, chain.RegTest())
	if _, err := n.MineOne(ctx); err != nil { // coins for the wallet
		t.Fatal(err)
	}
	apiCtx, stop := context.WithCancel(ctx)
	rec := &recorder{h: api.New(n, api.WithContext(apiCtx))}
	node := httptest.NewServer(rec)
	t.Cleanup(node.Close)
	t.Cleanup(stop)
	to := testwallet.Random(t).Addr
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, attackPage, js(node.URL), js(to))
	}))
	defer attacker.Close()
	// The attacker's page is on localhost, the node on 127.0.0.1: two
	// sites to the browser. rebind.test resolves to 127.0.0.1 as an
	// attacker's DNS would after rebinding.
	au, _ := url.Parse(attacker.URL)
	nu, _ := url.Parse(node.URL)
	b := startBrowser(t, ctx, bin, "--host-resolver-rules=MAP rebind.test 127.0.0.1")

	tip, wallet := n.Chain().Tip().Hash, n.WalletAddress()
	balance, err := n.Chain().Account(wallet)
	if err != nil {
		t.Fatal(err)
	}

	p := b.newPage(ctx, 1024, 700)
	p.navigate(ctx, "http://localhost:"+au.Port()+"/")
	p.waitFor(ctx, "attack finished", `['nocors','img','form','read','opaque','cors'].every((k) => k in window.results)`)
	var results map[string]string
	p.evalInto(ctx, `window.results`, &results)
	t.Logf("the attack page saw %v", results)
	// No answer reaches the page: CORS keeps it from reads, and
	// Cross-Origin-Resource-Policy from no-cors ones (which fail whole).
	if results["read"] != "blocked" || results["cors"] != "blocked" || results["opaque"] != "error" || results["img"] != "error" ||
		!strings.HasPrefix(results["nocors"], "error") {
		t.Errorf("the page could read or use the node: %v", results)
	}
	// The browser sent each attack; the node refused each.
	for _, c := range []struct {
		method, path string
		want         int // or 415 for a form body
		count        int
	}{
		{http.MethodPost, "/create-transaction", http.StatusForbidden, 2}, // no-cors fetch, form (text/plain)
		{http.MethodGet, "/mine", http.StatusForbidden, 1},
		{http.MethodOptions, "/mine", http.StatusForbidden, 1}, // the CORS preflight, refused
	} {
		hits := rec.find(c.method, c.path)
		if len(hits) != c.count {
			t.Errorf("%s %s reached the node %d times, want %d: %v", c.method, c.path, len(hits), c.count, hits)
		}
		for _, h := range hits {
			if h.status != c.want && (c.method != http.MethodPost || h.status != http.StatusUnsupportedMediaType) {
				t.Errorf("%s %s from the page: %d, want %d", c.method, c.path, h.status, c.want)
			}
		}
	}
	if hits := rec.find(http.MethodPost, "/mine"); len(hits) != 0 {
		t.Errorf("the CORS POST passed its preflight: %v", hits)
	}

	// DNS rebinding: the browser takes rebind.test:PORT for the node's own
	// origin, the node does not answer to that name.
	p.navigate(ctx, "http://rebind.test:"+nu.Port()+"/")
	p.waitFor(ctx, "rebound name refused", `document.body.innerText.includes('--api-allow-host')`)
	var rebound string
	p.evalInto(ctx, `fetch('/status').then((r) => r.text())`, &rebound)
	if strings.Contains(rebound, wallet) || !strings.Contains(rebound, "not served") {
		t.Errorf("a rebound page read /status: %s", rebound)
	}
	var mineStatus int
	p.evalInto(ctx, `fetch('/mine', {method: 'POST'}).then((r) => r.status)`, &mineStatus)
	if mineStatus != http.StatusForbidden {
		t.Errorf("a rebound page's POST /mine: %d, want 403", mineStatus)
	}

	after, err := n.Chain().Account(wallet)
	if err != nil {
		t.Fatal(err)
	}
	if n.Chain().Tip().Hash != tip || n.Mempool().Len() != 0 || after != balance {
		t.Fatalf("the node changed: tip %s (was %s), mempool %d, wallet %+v (was %+v)",
			n.Chain().Tip().Hash, tip, n.Mempool().Len(), after, balance)
	}

	// The node's own page, same browser: mine and send work.
	p.navigate(ctx, node.URL+"/")
	p.waitFor(ctx, "explorer loaded", `$('conn').dataset.state === 'live' && $('st-height').textContent === '1'`)
	p.eval(ctx, `$('mine-btn').click()`)
	p.waitFor(ctx, "mined by button", `$('result').classList.contains('ok') && $('result').textContent.startsWith('Mined block #2')`)
	p.eval(ctx, fmt.Sprintf(`$('recipient').value = %s; $('amount').value = '3'; $('fee').value = '1'; $('send-btn').click()`, js(to)))
	p.waitFor(ctx, "sent", `$('result').classList.contains('ok') && $('result').textContent.includes('submitted')`)
	if txs := n.Mempool().Txs(); len(txs) != 1 || txs[0].Recipient != to || txs[0].Amount != 3 {
		t.Fatalf("mempool after the explorer's send: %v", txs)
	}
	if h := n.Chain().Tip().Height(); h != 2 {
		t.Fatalf("tip at %d after the explorer's mine, want 2", h)
	}
	for _, h := range append(rec.find(http.MethodPost, "/mine"), rec.find(http.MethodPost, "/create-transaction")...) {
		if h.site == "same-origin" && h.status >= 400 {
			t.Errorf("the explorer's own %s %s: %d", h.method, h.path, h.status)
		}
	}
}
