package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
)

// nodeProc is a `gossipchain node` process on loopback with mDNS off,
// with what its log said about where it listens.
type nodeProc struct {
	*proc
	dir    string // --data-dir
	api    string // http://127.0.0.1:port
	p2p    string // full multiaddr, /p2p/<id> included
	peerID string
	c      *api.Client
}

// startNodeProc runs a node on network in its own data directory with
// the extra flags (--bootstrap ...), and waits until it listens.
func startNodeProc(t *testing.T, bin, network string, extra ...string) *nodeProc {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"node", "--network", network, "--data-dir", dir, "--no-mdns",
		"--listen", "/ip4/127.0.0.1/tcp/0", "-p", "0", "--log-format", "json", "--miner-threads", "1"}, extra...)
	p := startProc(t, bin, args...)
	started := p.waitFor(t, 30*time.Second, `"node started"`, msgIs("node started"))
	listening := p.waitFor(t, 30*time.Second, `"listening" on 127.0.0.1`, func(l *logLine) bool {
		return l.Msg == "listening" && strings.HasPrefix(l.Addr, "/ip4/127.0.0.1/tcp/") && strings.Contains(l.Addr, "/p2p/")
	})
	apiAddr := p.waitFor(t, 30*time.Second, `"http api listening"`, msgIs("http api listening")).Addr
	c, err := api.NewClient(apiAddr)
	if err != nil {
		t.Fatal(err)
	}
	return &nodeProc{proc: p, dir: dir, api: apiAddr, p2p: listening.Addr, peerID: started.PeerID, c: c}
}

// callJSON sends a request to a node's API and decodes the JSON answer.
func callJSON(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s %s: status %d, not JSON: %q", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}
