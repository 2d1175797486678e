package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// TestSubmitToFullPool: a node whose pool is full of transactions it
// accepted refuses the next at entry with 503 and a Retry-After, which
// the client reads as ErrTryLater, instead of accepting it and dropping
// one it had accepted (docs/operator.md).
func TestSubmitToFullPool(t *testing.T) {
	ctx := t.Context()
	p := chain.RegTest()
	n, err := node.New(node.Config{Params: p, DataDir: t.TempDir(), MempoolOptions: []chain.MempoolOption{chain.WithMaxTxs(1)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv := httptest.NewServer(api.New(n, api.WithContext(context.Background())))
	t.Cleanup(srv.Close)
	c, err := api.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testwallet.Random(t), testwallet.Random(t)
	if _, err := c.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*testwallet.Wallet{a, b} { // one at a time: the pool holds one
		if _, err := n.Send(ctx, w.Addr, 10, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Mine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	first := &chain.Transaction{Version: chain.TxVersion, Sender: a.Addr, Recipient: b.Addr, Amount: 1, Fee: 5}
	first.Sign(p.NetworkID(), a.Key)
	if _, err := c.SubmitTx(ctx, first); err != nil {
		t.Fatal(err)
	}
	// Pays more, and is still refused: first is this node's own.
	next := &chain.Transaction{Version: chain.TxVersion, Sender: b.Addr, Recipient: a.Addr, Amount: 1, Fee: 9}
	next.Sign(p.NetworkID(), b.Key)
	_, err = c.SubmitTx(ctx, next)
	remoteErr(t, err, http.StatusServiceUnavailable, "mempool full")
	var re *api.RemoteError
	if !errors.As(err, &re) || re.RetryAfter < time.Second || !errors.Is(err, api.ErrTryLater) {
		t.Fatalf("%v: Retry-After %v, ErrTryLater %v; want at least 1s, true", err, re.RetryAfter, errors.Is(err, api.ErrTryLater))
	}
	if !n.Mempool().Has(first.ID()) || n.Mempool().Has(next.ID()) {
		t.Fatal("the accepted transaction left the pool, or the refused one is in it")
	}
}

// TestClientRetryAfter: the client reads a node's Retry-After in
// seconds, bounded, and ignores any other form; 503 and 429 are
// ErrTryLater, other refusals are not.
func TestClientRetryAfter(t *testing.T) {
	for _, c := range []struct {
		status     int
		retryAfter string
		want       time.Duration
		later      bool
	}{
		{http.StatusServiceUnavailable, "3", 3 * time.Second, true},
		{http.StatusTooManyRequests, "1", time.Second, true},
		{http.StatusServiceUnavailable, "4294967295", time.Hour, true},
		{http.StatusServiceUnavailable, "99999999999999999999", 0, true},
		{http.StatusServiceUnavailable, "Wed, 21 Oct 2015 07:28:00 GMT", 0, true},
		{http.StatusServiceUnavailable, "-1", 0, true},
		{http.StatusServiceUnavailable, "", 0, true},
		{http.StatusConflict, "3", 3 * time.Second, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(`{"error":"mempool full, try again"}`))
		}))
		cl, err := api.NewClient(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Status(t.Context())
		srv.Close()
		var re *api.RemoteError
		if !errors.As(err, &re) || re.RetryAfter != c.want || errors.Is(err, api.ErrTryLater) != c.later {
			t.Errorf("%d with Retry-After %q: %v, RetryAfter %v, ErrTryLater %v; want %v, %v",
				c.status, c.retryAfter, err, re.RetryAfter, errors.Is(err, api.ErrTryLater), c.want, c.later)
		}
	}
}
