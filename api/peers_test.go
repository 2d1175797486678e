package api_test

import (
	"bufio"
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
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// startedServer runs a regtest node with its libp2p host on loopback
// (mDNS off) and serves its API.
func startedServer(t *testing.T) (*node.Node, *httptest.Server) {
	t.Helper()
	return serveNode(t, node.Config{Params: chain.RegTest(), DataDir: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
}

// serveNode starts a node of cfg and serves its API until the test ends.
func serveNode(t *testing.T, cfg node.Config) (*node.Node, *httptest.Server) {
	t.Helper()
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(n, api.WithContext(ctx)))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		n.Close()
	})
	return n, srv
}

// TestStatusAndPeers: /register-node by multiaddr and by the other
// node's API URL connects the nodes; /status and /peers show it.
func TestStatusAndPeers(t *testing.T) {
	a, aSrv := startedServer(t)
	b, bSrv := startedServer(t)
	c, _ := startedServer(t)
	mine(t, aSrv)

	code, st := do(t, aSrv, http.MethodGet, "/status", "")
	if code != http.StatusOK || st["peer_id"] != a.Host().ID().String() || st["network"] != "regtest" ||
		st["height"] != 1.0 || st["tip"] != a.Chain().Tip().Hash.String() || st["peers"] != 0.0 ||
		st["wallet"] != a.WalletAddress() || st["total_work"] != a.Chain().Tip().Work.String() || st["mempool"] != 0.0 {
		t.Fatalf("status: %d %v", code, st)
	}
	addrs := st["addrs"].([]any)
	if len(addrs) == 0 || !strings.HasSuffix(addrs[0].(string), "/p2p/"+a.Host().ID().String()) {
		t.Fatalf("status addrs %v: want full multiaddrs", addrs)
	}

	// b registers a by multiaddr, as the classic {"address": ...}.
	code, out := do(t, bSrv, http.MethodPost, "/register-node", fmt.Sprintf(`{"address":%q}`, addrs[0]))
	if code != http.StatusCreated || out["message"] != "New node has been added" || out["peer_id"] != a.Host().ID().String() ||
		out["node_count"] != 1.0 || len(out["nodes"].([]any)) != 1 ||
		!strings.HasSuffix(out["nodes"].([]any)[0].(string), "/p2p/"+a.Host().ID().String()) {
		t.Fatalf("register-node by multiaddr: %d %v", code, out)
	}
	// c registers b by its API URL: c asks b's /status for its addresses.
	cSrv := httptest.NewServer(api.New(c))
	defer cSrv.Close()
	code, out = do(t, cSrv, http.MethodPost, "/register-node", fmt.Sprintf(`{"address":%q}`, bSrv.URL))
	if code != http.StatusCreated || out["peer_id"] != b.Host().ID().String() || out["node_count"] != 1.0 {
		t.Fatalf("register-node by URL: %d %v", code, out)
	}

	// b sees both once its event loop has logged c's connection and
	// identify has told it the addresses each announces.
	var peers []any
	testutil.Eventually(t, 10*time.Second, "b's /peers lists a and c with their announced addresses", func() bool {
		code, out := do(t, bSrv, http.MethodGet, "/peers", "")
		if code != http.StatusOK {
			t.Fatalf("b's peers: %d %v", code, out)
		}
		peers = out["peers"].([]any)
		for _, p := range peers {
			if len(p.(map[string]any)["addrs"].([]any)) == 0 {
				return false
			}
		}
		return out["count"] == 2.0 && len(peers) == 2
	})
	sources, dirs := map[string]string{}, map[string]string{}
	for _, p := range peers {
		p := p.(map[string]any)
		sources[p["id"].(string)] = p["source"].(string)
		dirs[p["id"].(string)] = p["direction"].(string)
		if p["addr"] == "" || p["since"] == "" || p["transport"] != "tcp" || p["relayed"] != false {
			t.Errorf("peer %v: want its address, since, and a direct tcp connection", p)
		}
		g, ok := p["gossip"].(map[string]any)
		for _, k := range []string{"received", "accepted", "rejected", "ignored", "duplicates", "sent"} {
			if _, isNum := g[k].(float64); !ok || !isNum {
				t.Errorf("peer %v: gossip.%s missing", p, k)
			}
		}
	}
	if sources[a.Host().ID().String()] != "register" || sources[c.Host().ID().String()] != "inbound" {
		t.Errorf("b's peer sources %v: want a by register, c inbound", sources)
	}
	if dirs[a.Host().ID().String()] != "outbound" || dirs[c.Host().ID().String()] != "inbound" {
		t.Errorf("b's peer directions %v: want a outbound (b dialled), c inbound", dirs)
	}
	testutil.Eventually(t, 10*time.Second, "b reports GossipSub's score of each peer", func() bool {
		_, out := do(t, bSrv, http.MethodGet, "/peers", "")
		for _, p := range out["peers"].([]any) {
			if _, ok := p.(map[string]any)["gossip"].(map[string]any)["score"].(float64); !ok {
				return false
			}
		}
		return true
	})
	// Registered nodes sync: the block a mined reaches c through b.
	testutil.Eventually(t, 20*time.Second, "c on a's tip", func() bool { return c.Chain().Tip().Hash == a.Chain().Tip().Hash })
}

// TestRegisterNodeBadInput: every mistake is a JSON error with the right
// status, and no peer is added.
func TestRegisterNodeBadInput(t *testing.T) {
	n, srv := startedServer(t)
	self := n.Host().FullAddrs()[0].String()
	notNode := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>hello</html>")
	}))
	defer notNode.Close()
	redirect := httptest.NewServer(http.RedirectHandler(srv.URL, http.StatusFound))
	defer redirect.Close()
	unstarted := httptest.NewServer(api.New(newNode(t, chain.RegTest())))
	defer unstarted.Close()
	const peerID = "12D3KooWLuCZSrJoUx4MwbLb7Kt1KdFfT27crVYJdTDzrMzW4FHH"
	tests := []struct {
		name, body string
		code       int
		contains   string
	}{
		{"empty body", ``, 400, "empty"},
		{"not json", `{"address":`, 400, "JSON"},
		{"array", `[]`, 400, "array"},
		{"missing address", `{}`, 400, "address is missing"},
		{"number", `{"address":5}`, 400, "address must be a string"},
		{"unknown field", `{"address":"/ip4/127.0.0.1/tcp/1/p2p/` + peerID + `","x":1}`, 400, "x"},
		{"trailing data", `{"address":"/ip4/127.0.0.1/tcp/1/p2p/` + peerID + `"} {}`, 400, "after"},
		{"case-folded field", `{"Address":"/ip4/127.0.0.1/tcp/1/p2p/` + peerID + `"}`, 400, "Address"},
		{"duplicate field", `{"address":"/ip4/127.0.0.1/tcp/1/p2p/` + peerID + `","address":"x"}`, 400, "twice"},
		{"null address", `{"address":null}`, 400, "missing"},
		{"neither", `{"address":"127.0.0.1:9310"}`, 400, "neither"},
		{"bad multiaddr", `{"address":"/ip4/999.0.0.1/tcp/1"}`, 400, "not a multiaddr"},
		{"no peer id", `{"address":"/ip4/127.0.0.1/tcp/1"}`, 400, "bad peer address"},
		{"self", fmt.Sprintf(`{"address":%q}`, self), 400, "this node"},
		{"unreachable", `{"address":"/ip4/127.0.0.1/tcp/1/p2p/` + peerID + `"}`, 502, "unreachable"},
		{"url with query", `{"address":"http://127.0.0.1:1/?x=1"}`, 400, "plain"},
		{"url refused", `{"address":"http://127.0.0.1:1"}`, 502, "127.0.0.1:1"},
		{"url not a node", fmt.Sprintf(`{"address":%q}`, notNode.URL), 502, "not a gossipchain node"},
		{"url redirects", fmt.Sprintf(`{"address":%q}`, redirect.URL), 502, "302"},
		{"url without peers", fmt.Sprintf(`{"address":%q}`, unstarted.URL), 502, "no peer addresses"},
		{"2 MiB body", `{"address":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := do(t, srv, http.MethodPost, "/register-node", tt.body)
			msg, _ := out["error"].(string)
			if code != tt.code || msg == "" || len(out) != 1 {
				t.Fatalf("got %d %v, want %d and {\"error\"}", code, out, tt.code)
			}
			if !strings.Contains(msg, tt.contains) {
				t.Errorf("error %q does not mention %q", msg, tt.contains)
			}
			if p := n.Peers(); len(p) != 0 {
				t.Errorf("peers %v after a refused register-node", p)
			}
		})
	}
	if code, out := do(t, unstarted, http.MethodPost, "/register-node", `{"address":"/ip4/127.0.0.1/tcp/1/p2p/`+peerID+`"}`); code != 503 {
		t.Errorf("register-node on a node without network: %d %v, want 503", code, out)
	}
}

// sseEvent is one server-sent event as read off the wire.
type sseEvent struct {
	id, kind string
	data     api.Event
	raw      json.RawMessage
}

// readEvents parses a text/event-stream into ch until the body ends.
func readEvents(t *testing.T, body io.Reader, ch chan<- sseEvent) {
	defer close(ch)
	sc := bufio.NewScanner(body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.kind != "" {
				ch <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.raw = json.RawMessage(line[6:])
			if err := json.Unmarshal(ev.raw, &ev.data); err != nil {
				t.Errorf("event data %q: %v", line, err)
			}
		}
	}
}

// TestEvents: /events streams the node's events as SSE, filtered by
// ?types, and ends when the node shuts down.
func TestEvents(t *testing.T) {
	n := newNode(t, chain.RegTest())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(api.New(n, api.WithContext(ctx)))
	defer srv.Close()

	open := func(path string) (chan sseEvent, *http.Response) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		ch := make(chan sseEvent, 16)
		go readEvents(t, resp.Body, ch)
		return ch, resp
	}
	all, allResp := open("/events")
	defer allResp.Body.Close()
	blocks, blocksResp := open("/events?types=block")
	defer blocksResp.Body.Close()
	// Both streams are subscribed once the node counts them.
	testutil.Eventually(t, 5*time.Second, "two subscribers", func() bool { return n.Stats().Subscribers == 2 })

	to := testwallet.Random(t).Addr
	mine(t, srv)
	if code, out := do(t, srv, http.MethodPost, "/create-transaction", fmt.Sprintf(`{"recipient":%q,"amount":2}`, to)); code != http.StatusCreated {
		t.Fatalf("create-transaction: %d %v", code, out)
	}
	next := func(ch chan sseEvent) sseEvent {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
		return sseEvent{}
	}
	ev := next(all)
	blk := ev.data.Data.(map[string]any)
	if ev.kind != "block" || ev.data.Type != "block" || ev.id != "1" || blk["height"] != 1.0 || blk["origin"] != "mined" {
		t.Fatalf("first event %s %s %s", ev.id, ev.kind, ev.raw)
	}
	ev = next(all)
	if tx := ev.data.Data.(map[string]any); ev.kind != "tx" || tx["recipient"] != to || tx["amount"] != 2.0 || tx["origin"] != "api" {
		t.Fatalf("second event %s %s", ev.kind, ev.raw)
	}
	if ev := next(blocks); ev.kind != "block" {
		t.Fatalf("filtered stream: %s", ev.raw)
	}
	mine(t, srv)
	if ev := next(blocks); ev.kind != "block" || ev.data.Data.(map[string]any)["height"] != 2.0 {
		t.Fatalf("filtered stream, second block: %s %s", ev.kind, ev.raw)
	}

	if code, out := do(t, srv, http.MethodGet, "/events?types=block,nope", ""); code != 400 || !strings.Contains(out["error"].(string), "nope") {
		t.Errorf("unknown type: %d %v", code, out)
	}
	// The node shutting down ends the streams.
	cancel()
	for _, ch := range []chan sseEvent{all, blocks} {
		testutil.Eventually(t, 5*time.Second, "stream closed", func() bool {
			select {
			case _, ok := <-ch:
				return !ok
			default:
				return false
			}
		})
	}
	testutil.Eventually(t, 5*time.Second, "subscriptions closed", func() bool { return n.Stats().Subscribers == 0 })
}

// TestEventsSlowClient: a client that stops reading is dropped by the
// node once its buffer is full, instead of holding events or memory.
func TestEventsSlowClient(t *testing.T) {
	n := newNode(t, chain.RegTest())
	srv := httptest.NewUnstartedServer(api.New(n))
	// Small socket buffers on both ends, so a client that does not read
	// blocks the handler after a few events rather than a few megabytes.
	srv.Listener = smallBufListener{srv.Listener}
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.(*net.TCPConn).SetReadBuffer(2048); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /events HTTP/1.1\r\nHost: "+srv.Listener.Addr().String()+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "subscriber", func() bool { return n.Stats().Subscribers == 1 })
	// Nobody reads conn: the handler blocks writing, the subscription's
	// buffer fills and the node drops it.
	mined := 0
	for n.Stats().Subscribers != 0 {
		if mined == 5000 {
			t.Fatal("slow client still subscribed after 5,000 events")
		}
		if _, err := n.MineOne(context.Background()); err != nil {
			t.Fatal(err)
		}
		mined++
	}
	t.Logf("dropped after %d events", mined)
}

type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(2048)
	}
	return c, err
}

// TestMetrics: /metrics is Prometheus text with the node's figures.
func TestMetrics(t *testing.T) {
	n, srv := startedServer(t)
	mine(t, srv)
	mine(t, srv)
	// A mined block is published after /mine answers (node/relay.go).
	testutil.Eventually(t, 10*time.Second, "both mined blocks published", func() bool {
		return n.Stats().Gossip.Block.Published == 2
	})
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"gossipchain_height 2\n",
		"gossipchain_peers 0\n",
		"gossipchain_mempool_transactions 0\n",
		"gossipchain_mempool_queued_transactions 0\n",
		"gossipchain_mempool_min_fee 0\n",
		`gossipchain_gossip_published_total{topic="block"} 2` + "\n",
		`gossipchain_gossip_received_total{result="rejected",topic="tx"} 0` + "\n",
		`gossipchain_sync_downloads_total{result="started"} 0` + "\n",
		"gossipchain_compact_txs_recent_total 0\n",
		"gossipchain_miner_hashes_total ",
		"gossipchain_miner_hash_rate ",
		"go_goroutines ",
		"process_resident_memory_bytes ",
		// go-libp2p's own, on the node's registry: the resource
		// manager's limits and the swarm's listen addresses.
		"libp2p_rcmgr_limit{",
		"libp2p_swarm_",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if n.Stats().Hashes == 0 {
		t.Error("no hashes counted after mining")
	}
}
