package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// nodeProc is a `gossipchain node` process on loopback with mDNS off,
// with what its log said about where it listens.
type nodeProc struct {
	*proc
	api    string // http://127.0.0.1:port
	p2p    string // full multiaddr, /p2p/<id> included
	peerID string
}

// startNodeProc runs a node on network in its own data directory,
// bootstrapped from the given multiaddrs, and waits until it listens.
func startNodeProc(t *testing.T, bin, network string, extra ...string) *nodeProc {
	t.Helper()
	args := append([]string{"node", "--network", network, "--data-dir", t.TempDir(), "--no-mdns",
		"--listen", "/ip4/127.0.0.1/tcp/0", "-p", "0", "--log-format", "json", "--miner-threads", "1"}, extra...)
	p := startProc(t, bin, args...)
	started := p.waitFor(t, 30*time.Second, `"node started"`, msgIs("node started"))
	listening := p.waitFor(t, 30*time.Second, `"listening"`, msgIs("listening"))
	api := p.waitFor(t, 30*time.Second, `"http api listening"`, msgIs("http api listening"))
	return &nodeProc{proc: p, api: api.Addr, p2p: listening.Addr, peerID: started.PeerID}
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

// pollUntil calls cond until it is true, failing the test after d.
func pollUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
