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
