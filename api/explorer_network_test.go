package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// TestExplorerNetwork: on a line of three nodes a–b–c with the map on,
// b's page draws its two peers with each connection's kind and gossip
// counters, the map of all three coloured by tip, and the propagation of
// a's blocks (first seen from a, lags reported by all three); a's page
// draws c, which it is not connected to, from b's answer. Counts and
// labels are read from the SVG and the table in the DOM.
func TestExplorerNetwork(t *testing.T) {
	bin := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, aSrv := mapServer(t, true)
	b, bSrv := mapServer(t, true)
	c, cSrv := mapServer(t, true)
	register(t, aSrv, b)
	register(t, bSrv, c)
	aID, bID, cID := a.Host().ID().String(), b.Host().ID().String(), c.Host().ID().String()
	// Once a block reaches c from b, the whole line's mesh is up; a few
	// more blocks fill the histogram.
	mineUntilGossiped(t, aSrv, cSrv, bID)
	for range 5 {
		mineSeen(t, aSrv, bSrv, aID)
	}

	br := startBrowser(t, ctx, bin)
	p := br.newPage(ctx, 1280, 800)
	p.navigate(ctx, bSrv.URL+"/")
	p.eval(ctx, `window.edge = (id) => document.querySelector('#view-peers line.edge[data-peer="' + id + '"]')`)
	// b dialled c and was dialled by a; both over TCP, neither relayed;
	// a's blocks came from a, accepted, and b forwarded them to c.
	p.waitFor(ctx, "b's peer graph", fmt.Sprintf(`edge(%s) && edge(%s)
		&& edge(%s).dataset.direction === 'inbound' && edge(%s).dataset.direction === 'outbound'
		&& edge(%s).dataset.transport === 'tcp' && edge(%s).dataset.relayed === '0'
		&& Number(edge(%s).dataset.accepted) > 0 && Number(edge(%s).dataset.sent) > 0
		&& edge(%s).dataset.score !== ''
		&& document.querySelectorAll('#view-peers polygon.arrow').length === 2`,
		js(aID), js(cID), js(aID), js(cID), js(aID), js(cID), js(aID), js(cID), js(aID)))
	tip := b.Chain().Tip()
	p.waitFor(ctx, "b's map: three nodes on one tip, two edges", fmt.Sprintf(`(() => {
		const ns = [...document.querySelectorAll('#view-map circle.node')];
		return ns.length === 3 && ns.every((n) => n.dataset.tip === %s && n.classList.contains('tip0'))
			&& document.querySelectorAll('#view-map line.edge').length === 2
			&& document.querySelectorAll('#map-legend .sw').length === 1;
	})()`, js(tip.Hash.String())))
	p.waitFor(ctx, "b's propagation: a's blocks with the lags of three nodes", fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll('#prop-body tr[data-from]')];
		const bars = [...document.querySelectorAll('#chart-lag svg .pt.bar')].reduce((n, r) => n + Number(r.dataset.y), 0);
		return rows.length >= 6 && rows.every((r) => r.dataset.from === %s)
			&& document.getElementById('lag-name').textContent.startsWith('Lag') && bars >= 6
			&& rows[0].querySelector('td').textContent === '#' + %d;
	})()`, js(aID), tip.Height()))
	p.eval(ctx, `document.getElementById('network-panel').scrollIntoView()`)
	p.checkProblems(t)
	saveScreenshot(t, "explorer-network.png", p.screenshot(ctx, t, "explorer-network.png", 1280, 800))

	// a is connected to b only: c is on its map through b's answer,
	// with the tip b last heard from it, and the edge b–c.
	q := br.newPage(ctx, 1280, 800)
	q.navigate(ctx, aSrv.URL+"/")
	q.waitFor(ctx, "a's map with c from b's answer", fmt.Sprintf(`(() => {
		const n = document.querySelector('#view-map circle.node[data-id="' + %s + '"]');
		const e = [...document.querySelectorAll('#view-map line.edge')].map((l) => [l.dataset.a, l.dataset.b].sort().join(' '));
		return n && !n.classList.contains('asked') && n.dataset.tip !== ''
			&& e.includes([%s, %s].sort().join(' ')) && e.includes([%s, %s].sort().join(' '))
			&& document.querySelectorAll('#view-peers line.edge').length === 1;
	})()`, js(cID), js(aID), js(bID), js(bID), js(cID)))
	q.checkProblems(t)
}

// TestExplorerMapForkAndMarkup: the map colours each tip apart, the
// highest first, and draws what a map answer names as text only. The
// page's fetch of /netmap is answered by the test (an answer no node
// could give: the node checks peer IDs, but the page must not rely on it).
func TestExplorerMapForkAndMarkup(t *testing.T) {
	bin := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, srv := explorerServer(t, ctx, chain.RegTest())
	const t1, t2 = "aaaa000000000000000000000000000000000000000000000000000000000001", "bbbb000000000000000000000000000000000000000000000000000000000002"
	const evil = `<img src=x onerror="window.pwned=1">`
	fake := fmt.Sprintf(`{"enabled": true,
		"self": {"id": "SELF", "height": 6, "tip": %q, "peers": [{"id": "PEERB", "direction": "outbound", "transport": "tcp", "height": 5, "tip": %q}]},
		"nodes": [{"id": "PEERB", "height": 5, "tip": %q, "peers": [
			{"id": "SELF", "direction": "inbound", "transport": "tcp", "height": 6, "tip": %q},
			{"id": "PEERC", "direction": "outbound", "transport": "quic-v1", "height": 5, "tip": %q},
			{"id": %q, "direction": "inbound", "transport": "tcp", "height": 0, "tip": ""}]}]}`,
		t1, t2, t2, t1, t2, evil)
	br := startBrowser(t, ctx, bin)
	p := br.newPage(ctx, 1280, 800)
	p.call(ctx, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": fmt.Sprintf(`(() => {
		const real = window.fetch, body = %s;
		window.fetch = (url, opts) => String(url).endsWith('/netmap')
			? Promise.resolve(new Response(body, {status: 200, headers: {'Content-Type': 'application/json'}}))
			: real(url, opts);
	})()`, js(fake))}, nil)
	p.navigate(ctx, srv.URL+"/")
	p.waitFor(ctx, "the map of a fork", fmt.Sprintf(`(() => {
		const cls = (id) => document.querySelector('#view-map circle.node[data-id="' + CSS.escape(id) + '"]').classList;
		return document.querySelectorAll('#view-map circle.node').length === 4
			&& cls('SELF').contains('tip0') && cls('PEERB').contains('tip1') && cls('PEERC').contains('tip1')
			&& cls(%s).contains('tipx') && document.querySelectorAll('#view-map line.edge').length === 3
			&& document.querySelectorAll('#map-legend .sw').length === 2;
	})()`, js(evil)))
	var got struct {
		Pwned bool
		Imgs  int
	}
	p.evalInto(ctx, `({Pwned: 'pwned' in window, Imgs: document.images.length})`, &got)
	if got.Pwned || got.Imgs != 0 {
		t.Errorf("markup in a map answer was not kept as text: %+v", got)
	}
	p.checkProblems(t)
}
