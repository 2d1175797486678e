package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// TestClosedByPeer: only the other side's connection close reads as a
// hang-up; our own close, a stream reset and a timeout do not.
func TestClosedByPeer(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"the peer closed the connection", &network.ConnError{Remote: true}, true},
		{"wrapped", fmt.Errorf("blocks from peer: %w", &network.ConnError{Remote: true, ErrorCode: 7}), true},
		{"we closed it", &network.ConnError{Remote: false}, false},
		{"a stream reset by the peer", &network.StreamError{Remote: true}, false},
		{"a timeout", context.DeadlineExceeded, false},
		{"none", nil, false},
	} {
		if got := closedByPeer(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDownloadEndedHangUp: a download that ended with the peer closing
// the connection does not cool the peer down, even while the connection
// still reads as open (QUIC may break the streams first), nor one the
// loop cancelled on the peer's disconnect. Otherwise the connection the
// failed request ran on decides, when the error names it: closed, the
// peer hung up; open, it stalled, even if every connection it had as the
// download began is closed (it restarted). When the error names none, a
// peer whose connections of the download's start are all closed, or
// were none, hung up, even if it is connected again on a new one by then
// (its disconnect may not even have reached the loop); our own close of
// the stream, and a stall, cool it.
func TestDownloadEndedHangUp(t *testing.T) {
	a, b := loopbackHost(t), loopbackHost(t)
	first := connectTo(t, a, b)
	if err := a.Network().ClosePeer(b.ID()); err != nil {
		t.Fatal(err)
	}
	second := connectTo(t, a, b)
	if len(first) == 0 || !first[0].IsClosed() || len(second) == 0 || second[0].IsClosed() {
		t.Fatalf("connections: first %v, second %v; want the first closed and the second open", first, second)
	}
	s := &Syncer{host: a, log: slog.New(slog.DiscardHandler)}
	tip := chain.Hash{7}
	for _, tc := range []struct {
		name   string
		err    error
		conns  []network.Conn // the peer's connections as the download began
		gone   bool           // the loop cancelled the download on p's disconnect
		cooled bool
	}{
		{"the peer closed the connection", fmt.Errorf("read block 1 of 4: %w", &network.ConnError{Remote: true}), second, false, false},
		{"we closed it", fmt.Errorf("read block 1 of 4: %w", &network.ConnError{}), second, false, true},
		{"a stall", fmt.Errorf("read block 1 of 4: %w", context.DeadlineExceeded), second, false, true},
		{"it left and came back", fmt.Errorf("read block 1 of 4: %w", context.Canceled), first, false, false},
		// Its last connection was gone before its disconnect reached the
		// loop, which started the download: it is back now.
		{"no connection as it began", fmt.Errorf("open stream: %w", context.Canceled), nil, false, false},
		// The request's own connection decides, when the error names it.
		{"it came back and stalled on the new connection", onConnErr(second[0], context.DeadlineExceeded), first, false, true},
		{"the request's connection closed, another open", onConnErr(first[0], &network.StreamError{Remote: true}), second, false, false},
		// The request redialled p as it left; the loop's cancel reset it
		// on the new connection, open by the end.
		{"cancelled on its disconnect", onConnErr(second[0], context.Canceled), first, true, false},
	} {
		sp := &syncPeer{}
		l := &loop{peers: map[peer.ID]*syncPeer{b.ID(): sp}, tried: map[peer.ID]bool{}, failed: map[peer.ID]bool{},
			dl: &download{p: b.ID(), conns: tc.conns, gone: tc.gone, cancel: func() {}}}
		s.downloadEnded(l, downloadResult{p: b.ID(), st: &protocol.Status{Tip: tip}, err: tc.err})
		if got := sp.cooling(time.Now(), tip); got != tc.cooled {
			t.Errorf("%s: cooling %v, want %v", tc.name, got, tc.cooled)
		}
	}
	// A helper that stalled its part is judged the same way, by its
	// request's connection, else by its connections as it joined.
	for _, tc := range []struct {
		name   string
		conns  []network.Conn
		err    error
		cooled bool
	}{
		{"a helper that stalled", second, nil, true},
		{"a helper that left and came back", first, nil, false},
		{"a helper that came back and stalled on the new connection", first, onConnErr(second[0], context.DeadlineExceeded), true},
		{"a helper whose request's connection the peer closed", second, &network.ConnError{Remote: true}, false},
		{"a helper whose request's connection closed", second, onConnErr(first[0], &network.StreamError{}), false},
	} {
		sp := &syncPeer{}
		leader := peer.ID("leader")
		l := &loop{peers: map[peer.ID]*syncPeer{b.ID(): sp}, tried: map[peer.ID]bool{}, failed: map[peer.ID]bool{},
			dl: &download{p: leader, cancel: func() {}, helpers: map[peer.ID]joined{b.ID(): {tip: tip, conns: tc.conns}}}}
		s.downloadEnded(l, downloadResult{p: leader, st: &protocol.Status{Tip: chain.Hash{8}}, err: context.DeadlineExceeded, stalled: []stall{{b.ID(), tc.err}}})
		if got := sp.cooling(time.Now(), tip); got != tc.cooled {
			t.Errorf("%s: cooling %v, want %v", tc.name, got, tc.cooled)
		}
	}
}

// onConnErr is a request's error on a stream of conn, as getBlocks
// returns it.
func onConnErr(conn network.Conn, err error) error {
	return fmt.Errorf("blocks: %w", &connError{conn: conn, err: fmt.Errorf("read block 1 of 4: %w", err)})
}

// loopbackHost is a libp2p host on loopback TCP, closed with the test.
func loopbackHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// connectTo connects a to b and returns a's connections to b.
func connectTo(t *testing.T, a, b host.Host) []network.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	return a.Network().ConnsToPeer(b.ID())
}

// TestRequestErrorNamesConn: a sync request that fails on its stream, by
// its deadline or because the syncer cancelled it, returns an error that
// names the stream's connection (connError), with the cancellation as
// the cause when the syncer ended it (ours), for the loop to judge a
// hang-up by.
func TestRequestErrorNamesConn(t *testing.T) {
	a, b := loopbackHost(t), loopbackHost(t)
	connectTo(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	// silent gives each case a protocol of its own on b, whose handler
	// reads the request, tells asked, and never answers.
	n := 0
	silent := func(timeout time.Duration) (*Syncer, <-chan struct{}) {
		n++
		proto := lpprotocol.ID(fmt.Sprintf("/gossipchain/test/silent/%d", n))
		asked := make(chan struct{}, 1)
		b.SetStreamHandler(proto, func(st network.Stream) {
			_, _ = io.Copy(io.Discard, st)
			asked <- struct{}{}
			<-done
			_ = st.Reset()
		})
		return &Syncer{host: a, proto: proto, requestTimeout: timeout, log: slog.New(slog.DiscardHandler)}, asked
	}
	hashes := []chain.Hash{{1}, {2}}
	requests := []struct {
		name string
		do   func(context.Context, *Syncer) error
	}{
		{"headers", func(ctx context.Context, s *Syncer) error {
			_, err := s.getHeaders(ctx, b.ID(), protocol.GetHeaders{Locator: hashes[:1], Max: 10})
			return err
		}},
		{"blocks", func(ctx context.Context, s *Syncer) error {
			_, err := s.getBlocks(ctx, b.ID(), hashes)
			return err
		}},
	}
	named := func(t *testing.T, err error) {
		t.Helper()
		ce, ok := errors.AsType[*connError](err)
		if !ok {
			t.Fatalf("error %v names no connection", err)
		}
		if ce.conn.RemotePeer() != b.ID() || ce.conn.IsClosed() {
			t.Fatalf("error names a connection to %s (closed %v), want the open one to %s", ce.conn.RemotePeer(), ce.conn.IsClosed(), b.ID())
		}
	}
	for _, r := range requests {
		t.Run(r.name+"/deadline", func(t *testing.T) {
			s, _ := silent(200 * time.Millisecond)
			err := r.do(ctx, s)
			named(t, err)
			if errors.Is(err, context.Canceled) {
				t.Fatalf("a deadline read as a cancellation: %v", err)
			}
		})
		t.Run(r.name+"/cancelled", func(t *testing.T) {
			s, asked := silent(time.Hour) // only the cancel ends it
			rctx, stop := context.WithCancel(ctx)
			defer stop()
			errc := make(chan error, 1)
			go func() { errc <- r.do(rctx, s) }()
			select {
			case <-asked:
			case <-ctx.Done():
				t.Fatal("the request never reached the peer")
			}
			stop()
			err := <-errc
			named(t, err)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("a request the syncer cancelled failed with %v, want context.Canceled", err)
			}
		})
	}
}

// TestRetryLimitedCancelled: a request the peer refuses as too fast,
// cancelled before it is asked again, ends with the cancellation: the
// syncer ended it, not the peer.
func TestRetryLimitedCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := retryLimited(ctx, func() (int, error) {
		calls++
		cancel()
		return 0, &protocol.RemoteError{Code: protocol.CodeRateLimited}
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("after %d calls: %v, want context.Canceled after 1", calls, err)
	}
}

// TestFetchFailed: a request that failed without a fault takes its peer
// out of the download and into the stalled, with the error naming its
// connection, however few blocks came before it; a short answer without
// an error only takes it out; a cancellation leaves it. A leader taken
// out leaves the download its error, the connection named with it, for
// the loop's judgement of a hang-up.
func TestFetchFailed(t *testing.T) {
	a, b := loopbackHost(t), loopbackHost(t)
	conn := connectTo(t, a, b)[0]
	deadline := &connError{conn: conn, err: fmt.Errorf("read block 1 of 8: %w", context.DeadlineExceeded)}
	leader, helper := peer.ID("leader"), peer.ID("helper")
	s := &Syncer{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name    string
		r       fetchResult
		short   bool
		live    int  // peers left in the download
		stalled bool // the failed peer among the stalled, with its error
	}{
		{"a deadline before any block", fetchResult{p: helper, err: deadline}, true, 1, true},
		{"a deadline after some blocks", fetchResult{p: helper, err: deadline, blocks: make([]*chain.Block, 3)}, true, 1, true},
		{"a short answer", fetchResult{p: helper, blocks: make([]*chain.Block, 3)}, true, 1, false},
		{"cancelled", fetchResult{p: helper, err: &connError{conn: conn, err: context.Canceled}}, true, 2, false},
		{"the leader's deadline", fetchResult{p: leader, err: deadline}, true, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFetchPeers(leader, []peer.ID{helper}, nil)
			s.fetchFailed(fp, tc.r, tc.short)
			if len(fp.live) != tc.live {
				t.Fatalf("%d peers left, want %d", len(fp.live), tc.live)
			}
			if got := len(fp.stalled) == 1 && fp.stalled[0].p == tc.r.p && fp.stalled[0].err == tc.r.err; got != tc.stalled || len(fp.stalled) > 1 {
				t.Fatalf("stalled %v, want the failed peer among them: %v", fp.stalled, tc.stalled)
			}
			if tc.r.p == leader {
				if ce, ok := errors.AsType[*connError](fp.leaderErr); !ok || ce.conn != conn {
					t.Fatalf("the leader's error %v does not name its request's connection", fp.leaderErr)
				}
			}
		})
	}
	// Overtaken: the leader leaves with errStalled, naming the
	// connection of the request it was overtaken on.
	fp := newFetchPeers(leader, []peer.ID{helper}, nil)
	reset := &connError{conn: conn, err: context.Canceled}
	fp.stallOut(leader, errStalled, reset)
	if ce, ok := errors.AsType[*connError](fp.leaderErr); !ok || ce.conn != conn || !errors.Is(fp.leaderErr, errStalled) {
		t.Fatalf("an overtaken leader left with %v, want errStalled naming its request's connection", fp.leaderErr)
	}
	if len(fp.stalled) != 1 || fp.stalled[0].err != reset {
		t.Fatalf("stalled %v, want the leader with its request's error", fp.stalled)
	}
}

// TestOurs: once the syncer's context ended, a request's failure is
// the cancellation, not the reset it caused, unless what the peer sent
// before it was a fault, which stays for its ban.
func TestOurs(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(live)
	cancel()
	reset := &network.StreamError{}
	bad := fmt.Errorf("read block 2 of 4: %w", protocol.ErrBadMessage)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"a reset while the request runs", live, reset, reset},
		{"a reset after the syncer ended it", ended, reset, context.Canceled},
		{"a fault read as the syncer ended it", ended, bad, protocol.ErrBadMessage},
	} {
		if got := ours(tc.ctx, tc.err); !errors.Is(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
