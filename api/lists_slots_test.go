package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// TestListAnswersBounded: at most api.MaxListAnswers list answers are
// written at once, since each holds a block's text until written; past
// that /chain and /mempool answer 503 with Retry-After, and once a slot
// is free, 200 again.
func TestListAnswersBounded(t *testing.T) {
	n := newNode(t, chain.RegTest())
	h := api.New(n, api.WithContext(context.Background()))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	release, ok := api.HoldListAnswers(h, api.MaxListAnswers)
	if !ok {
		t.Fatal("the list slots are taken before any request")
	}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/chain", "/mempool"} {
		if resp := get(path); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s with every slot taken: %d, Retry-After %q; want 503 and a Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	release()
	for _, path := range []string{"/chain", "/mempool"} {
		if resp := get(path); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s with the slots free: %d, want 200", path, resp.StatusCode)
		}
	}
	// The client may read the whole answer before the handler returns.
	testutil.Eventually(t, 5*time.Second, "every slot free once the answers ended", func() bool {
		return api.ListAnswersIdle(h)
	})
}

// TestStalledListReaderCutOff: a client that asks for a page of large
// blocks and never reads holds its list answer only until one write
// waits past the per-write deadline, not for the server's whole
// WriteTimeout (two minutes), and its slot and memory are freed then.
func TestStalledListReaderCutOff(t *testing.T) {
	api.SetListWriteTimeout(t, 300*time.Millisecond)
	ctx := context.Background()
	n := newNode(t, chain.OpenNet())
	pad := strings.Repeat("x", 100)
	for b := range 3 {
		for i := 0; ; i++ {
			tx := &chain.Transaction{Version: chain.TxVersion, Sender: fmt.Sprintf("s%d-%d-%s", b, i, pad),
				Recipient: fmt.Sprintf("r%d-%d-%s", b, i, pad), Amount: 1, Nonce: uint64(i)}
			if err := n.SubmitTx(ctx, tx); err != nil || i == 1600 {
				break
			}
		}
		if _, err := n.MineOne(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h := api.New(n, api.WithContext(ctx))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := api.Server("", h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /chain?from=1 HTTP/1.1\r\nHost: %s\r\n\r\n", ln.Addr())
	testutil.Eventually(t, 10*time.Second, "the stalled reader's answer holds a slot", func() bool {
		return !api.ListAnswersIdle(h)
	})
	testutil.Eventually(t, 15*time.Second, "the stalled reader cut off, its slot free", func() bool {
		return api.ListAnswersIdle(h)
	})
}

// TestListAnswersPerClient: one remote client (an IPv4 address, an IPv6
// /64) gets at most api.MaxListAnswersPerClient list answers at once, so
// a slow reader cannot take every slot from the others; loopback
// clients, this machine's own, are not counted.
func TestListAnswersPerClient(t *testing.T) {
	n := newNode(t, chain.RegTest())
	h := api.New(n, api.WithContext(context.Background()))
	status := func(remote, path string) int {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
			t.Fatalf("%s from %s: 503 without Retry-After", path, remote)
		}
		return rec.Code
	}
	tests := []struct {
		name, holder, asker string
		want                int
	}{
		{"same IPv4 address", "203.0.113.7:4000", "203.0.113.7:4001", http.StatusServiceUnavailable},
		{"another IPv4 address", "203.0.113.7:4000", "203.0.113.8:4000", http.StatusOK},
		{"same IPv6 /64", "[2001:db8:1:2::1]:4000", "[2001:db8:1:2:ffff::9]:4000", http.StatusServiceUnavailable},
		{"another IPv6 /64", "[2001:db8:1:2::1]:4000", "[2001:db8:1:3::1]:4000", http.StatusOK},
		{"IPv4 mapped in IPv6", "203.0.113.7:4000", "[::ffff:203.0.113.7]:4000", http.StatusServiceUnavailable},
		{"loopback not counted", "127.0.0.1:4000", "127.0.0.1:4001", http.StatusOK},
		{"another link-local host", "[fe80::1%eth0]:4000", "[fe80::2%eth0]:4000", http.StatusOK},
		{"same link-local host", "[fe80::1%eth0]:4000", "[fe80::1%eth0]:4001", http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release, ok := api.HoldClientListAnswers(h, tc.holder, api.MaxListAnswersPerClient)
			if !ok {
				t.Fatal("the client's slots are taken before any request")
			}
			for _, path := range []string{"/chain", "/mempool"} {
				if got := status(tc.asker, path); got != tc.want {
					t.Errorf("%s from %s while %s holds %d answers: %d, want %d", path, tc.asker, tc.holder, api.MaxListAnswersPerClient, got, tc.want)
				}
			}
			release()
			if got := status(tc.asker, "/chain"); got != http.StatusOK {
				t.Errorf("/chain from %s once released: %d, want 200", tc.asker, got)
			}
			if !api.ListAnswersIdle(h) {
				t.Error("a slot still taken after every answer ended")
			}
		})
	}
}
