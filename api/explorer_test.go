package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// explorerServer starts a node on p (its network not started) and the
// API over it, with opts after WithContext.
func explorerServer(t *testing.T, ctx context.Context, p *chain.Params, opts ...api.Option) (*node.Node, *httptest.Server) {
	t.Helper()
	n := newNode(t, p)
	ctx, cancel := context.WithCancel(ctx)
	srv := httptest.NewServer(api.New(n, append([]api.Option{api.WithContext(ctx)}, opts...)...))
	// Cleanups run last first: cancel ends the event streams, then
	// Close waits for the requests.
	t.Cleanup(srv.Close)
	t.Cleanup(cancel)
	return n, srv
}

// TestExplorerPage: GET / serves the page as HTML under a policy that
// lets only its own inline script and style run, and the page refers
// to nothing outside the node and never parses data as HTML.
func TestExplorerPage(t *testing.T) {
	_, srv := explorerServer(t, context.Background(), chain.RegTest())
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	page := string(body)
	if !strings.HasPrefix(page, "<!doctype html>") || !strings.Contains(page, `id="chain-body"`) {
		t.Fatalf("not the explorer page:\n%.300s", page)
	}

	csp := resp.Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src": "'none'", "connect-src": "'self'", "img-src": "data:",
		"base-uri": "'none'", "form-action": "'none'", "frame-ancestors": "'none'",
	} {
		if directives[name] != want {
			t.Errorf("CSP %s is %q, want %q (policy %q)", name, directives[name], want, csp)
		}
	}
	if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "*") || strings.Contains(csp, "http") {
		t.Errorf("CSP allows too much: %q", csp)
	}
	// The policy names exactly the page's inline script and style.
	for tag, directive := range map[string]string{"script": "script-src", "style": "style-src"} {
		var want []string
		for _, m := range regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(page, -1) {
			sum := sha256.Sum256([]byte(m[1]))
			want = append(want, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		}
		if len(want) == 0 || directives[directive] != strings.Join(want, " ") {
			t.Errorf("CSP %s is %q, want the hashes of the page's <%s>: %q", directive, directives[directive], tag, want)
		}
	}
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("%d script elements, want one inline", n)
	}

	// Nothing from anywhere else: no absolute or scheme-relative URL in
	// an attribute, no CSS import or url(), no http(s) at all.
	external := regexp.MustCompile(`(?i)\b(src|href|action|formaction|poster|srcset|data)\s*=\s*["']?\s*([a-z][a-z0-9+.-]*:)?//`)
	if m := external.FindString(page); m != "" {
		t.Errorf("page refers to another host: %q", m)
	}
	for _, bad := range []string{"http://", "https://", "//cdn", "@import", "url(", "<iframe", "<link rel=\"stylesheet"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Data reaches the DOM as text only.
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('on", "DOMParser"} {
		if strings.Contains(page, bad) {
			t.Errorf("page uses %s", bad)
		}
	}
}

// TestExplorerBrowser loads the page in headless Chromium against a
// node that has mined blocks and holds a transaction, and checks that
// it renders the API's data, follows the event stream, and sends and
// mines through the API with the token.
func TestExplorerBrowser(t *testing.T) {
	bin := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const token = "explorer-test-token"
	n, srv := explorerServer(t, ctx, chain.RegTest(), api.WithToken(token))
	var mined []*chain.Block
	for range 3 {
		b, err := n.MineOne(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mined = append(mined, b)
	}
	to := testwallet.Random(t).Addr
	pendingTx, err := n.Send(ctx, to, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	genesis := chain.RegTest().Genesis().Hash().String()

	b := startBrowser(t, ctx, bin)
	p := b.newPage(ctx, 1280, 900)
	p.navigate(ctx, srv.URL+"/")

	// Status, chain, mempool from the API; the event stream is open.
	p.waitFor(ctx, "first render", fmt.Sprintf(`$('st-wallet').textContent === %s && $('st-height').textContent === '3'
		&& row(%s) && row(%s) && document.querySelector('#mempool-body tr[data-id=%s]')
		&& $('conn').dataset.state === 'live'`,
		js(n.WalletAddress()), js(genesis), js(mined[2].Hash().String()), js(pendingTx.ID().String())))
	var first struct {
		Heights           []string
		PeerID, Network   string
		SenderHidden      bool
		Tip, Log, Mempool string
	}
	p.evalInto(ctx, `({
		Heights: [...document.querySelectorAll('#chain-body tr')].map((r) => r.dataset.height),
		PeerID: $('st-peer-id').textContent, Network: $('network').textContent,
		SenderHidden: $('sender-field').hidden, Tip: $('st-tip').textContent,
		Log: $('log').textContent, Mempool: $('st-mempool').textContent,
	})`, &first)
	if !slices.Equal(first.Heights, []string{"3", "2", "1", "0"}) {
		t.Errorf("chain rows %v, want newest first 3..0", first.Heights)
	}
	if first.PeerID != "network not started" || first.Network != "regtest" || !first.SenderHidden ||
		first.Tip != mined[2].Hash().String() || first.Mempool != "1" || !strings.Contains(first.Log, "event stream open") {
		t.Errorf("first render: %+v", first)
	}

	// A block mined behind the page's back arrives as an event: it is
	// logged, the chain and the mempool refresh.
	b4, err := n.MineOne(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h4 := b4.Hash().String()
	p.waitFor(ctx, "block event", fmt.Sprintf(`row(%s) && $('log').textContent.includes(%s)
		&& !document.querySelector('#mempool-body tr') && $('st-height').textContent === '4'`,
		js(h4), js("#4 "+h4[:10])))

	// Clicking the block shows its transactions.
	p.eval(ctx, fmt.Sprintf(`row(%s).click()`, js(h4)))
	p.waitFor(ctx, "block detail", fmt.Sprintf(`!$('detail').hidden && $('detail-title').textContent === 'Block #4'
		&& document.querySelector('#detail-body tr[data-id=%s]') && row(%s).classList.contains('selected')`,
		js(pendingTx.ID().String()), js(h4)))

	// Without the token the node refuses, and the page says why.
	p.eval(ctx, fmt.Sprintf(`$('recipient').value = %s; $('amount').value = '5'; $('fee').value = '2'; $('send-btn').click()`, js(to)))
	p.waitFor(ctx, "401 shown", `$('result').classList.contains('error') && $('result').textContent.includes('(401)')
		&& $('result').textContent.includes('Set the API token') && $('token-box').open`)
	if got := n.Mempool().Len(); got != 0 {
		t.Fatalf("mempool has %d transactions after a refused send", got)
	}

	// With the token: mine with the button, then send.
	p.eval(ctx, fmt.Sprintf(`$('token').value = %s; $('token-save').click(); $('mine-btn').click()`, js(token)))
	p.waitFor(ctx, "mined by button", `$('result').classList.contains('ok') && $('result').textContent.startsWith('Mined block #5')
		&& $('st-height').textContent === '5' && $('token-state').textContent === 'set'`)
	p.eval(ctx, `$('send-btn').click()`)
	p.waitFor(ctx, "sent", `$('result').classList.contains('ok') && $('result').textContent.includes('submitted')
		&& document.querySelectorAll('#mempool-body tr[data-id]').length === 1 && $('log').textContent.includes('(api)')`)
	if txs := n.Mempool().Txs(); len(txs) != 1 || txs[0].Recipient != to || txs[0].Amount != 5 || txs[0].Fee != 2 {
		t.Fatalf("mempool after send: %v", txs)
	}
	if tip := n.Chain().Tip(); tip.Height() != 5 {
		t.Fatalf("tip at %d after the mine button, want 5", tip.Height())
	}
	p.eval(ctx, `document.activeElement.blur(); $('token-box').open = false`)
	p.checkProblems(t, "401 (Unauthorized)")

	shot := p.screenshot(ctx, t, "explorer.png", 1280, 900)
	saveScreenshot(t, "explorer.png", shot)
	p.resize(ctx, 390, 844)
	p.waitFor(ctx, "narrow layout", `getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length === 1`)
	saveScreenshot(t, "explorer-narrow.png", p.screenshot(ctx, t, "explorer-narrow.png", 390, 844))
}

// TestExplorerBrowserOpenNetwork: on the open network the page asks for
// a sender, and names that are markup stay text.
func TestExplorerBrowserOpenNetwork(t *testing.T) {
	bin := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, srv := explorerServer(t, ctx, chain.OpenNet())
	evil := &chain.Transaction{
		Version: chain.TxVersion, Amount: 3, Nonce: 1,
		Sender:    `<img src=x onerror="window.pwned=1">`,
		Recipient: `</td><script>window.pwned=2</script>`,
	}
	if err := n.SubmitTx(ctx, evil); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, ctx, bin)
	p := b.newPage(ctx, 1280, 900)
	p.navigate(ctx, srv.URL+"/")
	p.waitFor(ctx, "open network render", fmt.Sprintf(`$('network').textContent === 'open' && !$('sender-field').hidden
		&& document.querySelector('#mempool-body tr[data-id=%s]')`, js(evil.ID().String())))
	// The same through the event stream's log line and the detail view.
	evil2 := &chain.Transaction{Version: chain.TxVersion, Amount: 4, Nonce: 2,
		Sender: `<svg onload="window.pwned=3"></svg>`, Recipient: `"><b>bold</b>`}
	if err := n.SubmitTx(ctx, evil2); err != nil {
		t.Fatal(err)
	}
	p.waitFor(ctx, "tx event", `$('log').textContent.includes('<svg o')
		&& document.querySelectorAll('#mempool-body tr[data-id]').length === 2`)
	p.eval(ctx, fmt.Sprintf(`$('find-q').value = %s; $('find').requestSubmit()`, js(evil2.ID().String())))
	p.waitFor(ctx, "transaction detail", fmt.Sprintf(`$('detail-title').textContent === 'Transaction'
		&& $('detail-body').textContent.includes(%s)`, js(evil2.Recipient)))
	var got struct {
		Pwned         bool
		Imgs, Scripts int
		Markup        int
		Sender        string
	}
	// The page's own svg elements are the charts, each the plot of a
	// figure.chart, and the network views, each the graph of a figure.netview.
	p.evalInto(ctx, fmt.Sprintf(`({Pwned: 'pwned' in window, Imgs: document.images.length, Scripts: document.scripts.length,
		Markup: document.querySelectorAll('main :not(figure.chart, figure.netview) > svg, main b, main img, main script').length,
		Sender: document.querySelector('#mempool-body tr[data-id=%s] td:nth-child(2)').title})`,
		js(evil.ID().String())), &got)
	if got.Pwned || got.Imgs != 0 || got.Scripts != 1 || got.Markup != 0 || got.Sender != evil.Sender {
		t.Errorf("markup in names was not kept as text: %+v", got)
	}

	// Sending from the page needs the sender on this network.
	p.eval(ctx, `$('recipient').value = 'bob'; $('amount').value = '4'; $('send-btn').click()`)
	p.waitFor(ctx, "sender required", `$('result').textContent.includes('needs a sender')`)
	p.eval(ctx, `$('sender').value = 'alice'; $('send-btn').click()`)
	p.waitFor(ctx, "open send", `$('result').classList.contains('ok') && document.querySelectorAll('#mempool-body tr[data-id]').length === 3`)
	// Finding a transaction id asks for a block by that hash first.
	p.checkProblems(t, "404 (Not Found) "+srv.URL+"/block/"+evil2.ID().String())
}

// TestExplorerCharts: the page charts the last 100 blocks (interval,
// difficulty, transactions) from the same /chain answer as the table,
// and the hash rate and mempool from its /status samples; a new block
// moves the window. Counts and values are read from the SVG in the DOM.
func TestExplorerCharts(t *testing.T) {
	bin := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, srv := explorerServer(t, ctx, chain.RegTest())
	to := testwallet.Random(t).Addr
	// More blocks than are charted, so the window starts past genesis;
	// the later ones with a few transactions each, so the counts differ
	// from block to block.
	const mined = 105
	for i := 1; i <= mined; i++ {
		if i > 70 {
			for range i % 5 {
				if _, err := n.Send(ctx, to, 1, 1); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := n.MineOne(ctx); err != nil {
			t.Fatal(err)
		}
	}

	b := startBrowser(t, ctx, bin)
	p := b.newPage(ctx, 1280, 900)
	p.navigate(ctx, srv.URL+"/")
	p.eval(ctx, `window.pts = (id) => [...document.querySelectorAll('#chart-' + id + ' svg .pt')]
		.map((c) => [Number(c.dataset.x), Number(c.dataset.y)])`)
	p.waitFor(ctx, "charts", `pts('txs').length === 100 && pts('mempool').length >= 1 && $('st-height').textContent === '105'`)
	checkCharts(ctx, t, p, srv.URL, mined)

	// A block mined behind the page's back: its event moves the window
	// on by one, and the status samples grow.
	var before int
	p.evalInto(ctx, `pts('mempool').length`, &before)
	if _, err := n.Send(ctx, to, 2, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	p.waitFor(ctx, "charts after a block", fmt.Sprintf(`pts('txs').at(-1)[0] === %d && pts('interval').at(-1)[0] === %d
		&& pts('difficulty').at(-1)[0] === %d && pts('mempool').length > %d`, mined+1, mined+1, mined+1, before))
	checkCharts(ctx, t, p, srv.URL, mined+1)
	p.checkProblems(t)
	shot := p.screenshot(ctx, t, "explorer-charts.png", 1280, 900)
	saveScreenshot(t, "explorer-charts.png", shot)

	// The narrow layout: one chart a row, each drawn to its own width.
	p.resize(ctx, 390, 844)
	p.waitFor(ctx, "narrow charts", `getComputedStyle(document.querySelector('.charts')).gridTemplateColumns.split(' ').length === 1
		&& [...document.querySelectorAll('svg.plot')].every((s) => s.viewBox.baseVal.width === s.clientWidth
			&& s.getBoundingClientRect().right <= document.documentElement.clientWidth)`)
	var narrow int
	p.evalInto(ctx, `pts('txs').length`, &narrow)
	if narrow != 100 {
		t.Errorf("narrow layout: %d points in the transactions chart, want 100", narrow)
	}
	p.checkProblems(t)
}

// checkCharts compares the page's block charts with the API's last 100
// blocks up to height tip, and checks each chart has axis labels and
// shows its latest value.
func checkCharts(ctx context.Context, t *testing.T, p *page, url string, tip int) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/chain?from=%d&limit=100", url, tip-99))
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Chain []struct {
			Index        int
			Timestamp    float64
			Difficulty   float64
			Transactions []json.RawMessage
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || len(page.Chain) != 100 || page.Chain[99].Index != tip {
		t.Fatalf("GET /chain: %v, %d blocks", err, len(page.Chain))
	}
	var want struct{ Interval, Difficulty, Txs [][2]float64 }
	for i, b := range page.Chain {
		x := float64(b.Index)
		want.Difficulty = append(want.Difficulty, [2]float64{x, b.Difficulty})
		want.Txs = append(want.Txs, [2]float64{x, float64(len(b.Transactions))})
		if i > 0 {
			want.Interval = append(want.Interval, [2]float64{x, max(0, b.Timestamp-page.Chain[i-1].Timestamp)})
		}
	}
	var got struct {
		Interval, Difficulty, Txs [][2]float64
		Labels                    map[string][]string
		Latest                    map[string]string
	}
	p.evalInto(ctx, `({Interval: pts('interval'), Difficulty: pts('difficulty'), Txs: pts('txs'),
		Labels: Object.fromEntries(['interval', 'difficulty', 'txs', 'hashrate', 'mempool'].map((id) =>
			[id, [...document.querySelectorAll('#chart-' + id + ' svg text')].map((e) => e.textContent)])),
		Latest: Object.fromEntries(['interval', 'difficulty', 'txs', 'hashrate', 'mempool'].map((id) =>
			[id, $('chart-' + id + '-latest').textContent]))})`, &got)
	same := func(name string, got, want [][2]float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s chart: %d points, want %d", name, len(got), len(want))
			return
		}
		for i := range want {
			if got[i][0] != want[i][0] || math.Abs(got[i][1]-want[i][1]) > 1e-6 {
				t.Errorf("%s chart: point %d is %v, want %v", name, i, got[i], want[i])
				return
			}
		}
	}
	same("interval", got.Interval, want.Interval)
	same("difficulty", got.Difficulty, want.Difficulty)
	same("transactions", got.Txs, want.Txs)
	first, last := fmt.Sprintf("#%d", tip-99), fmt.Sprintf("#%d", tip)
	for id, labels := range got.Labels {
		// Two or three y labels (0, half, top, the half left out when
		// it is no whole count or rounds like another), the first x
		// and the last.
		if len(labels) < 3 {
			t.Errorf("%s chart labels %q: want y and x axis labels", id, labels)
		}
		if id == "difficulty" || id == "txs" {
			if !slices.Contains(labels, last) || !slices.Contains(labels, first) {
				t.Errorf("%s chart labels %q: want %s and %s", id, labels, first, last)
			}
		}
		if got.Latest[id] == "" || got.Latest[id] == "–" {
			t.Errorf("%s chart: no latest value (%q)", id, got.Latest[id])
		}
	}
	if !strings.HasSuffix(got.Labels["interval"][0], "s") || !strings.HasSuffix(got.Latest["hashrate"], "H/s") ||
		got.Latest["txs"] != fmt.Sprintf("%d tx", len(page.Chain[99].Transactions)) {
		t.Errorf("chart units: interval labels %q, latest %q", got.Labels["interval"], got.Latest)
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s) // a string: cannot fail
	return string(b)
}
