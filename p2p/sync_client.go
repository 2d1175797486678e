package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// request opens a sync stream to p and writes req. The caller reads the
// answer and closes the stream, and calls stop when done: until then,
// ctx ending resets the stream, so a download the loop cancels (a better
// peer, a disconnect, Close) does not wait out a read deadline.
func (s *Syncer) request(ctx context.Context, p peer.ID, req *pb.Request, deadline time.Duration) (st network.Stream, r *protocol.Reader, stop func() bool, err error) {
	octx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	st, err = s.host.NewStream(octx, p, s.proto)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open sync stream: %w", err)
	}
	// The callback gets its own copy: the error returns below set the
	// named result st to nil, and a cancel racing them would reset nil.
	opened := st
	stop = context.AfterFunc(ctx, func() { _ = opened.Reset() })
	_ = st.SetDeadline(time.Now().Add(deadline))
	if err := protocol.NewWriter(st).WriteRequest(req); err != nil {
		stop()
		_ = st.Reset()
		return nil, nil, nil, onConn(st, fmt.Errorf("write request: %w", ours(ctx, err)))
	}
	if err := st.CloseWrite(); err != nil {
		stop()
		_ = st.Reset()
		return nil, nil, nil, onConn(st, fmt.Errorf("close write: %w", ours(ctx, err)))
	}
	return st, protocol.NewReader(st), stop, nil
}

// exchangeStatus sends our status to p and hands p's to the loop.
func (s *Syncer) exchangeStatus(ctx context.Context, p peer.ID) error {
	st, r, stop, err := s.request(ctx, p, protocol.StatusRequest(s.status()), protocol.StatusTimeout)
	if isForeignPeer(err) {
		// A node of another network (the protocol ID names the genesis)
		// or a libp2p node that is no gossipchain node: it can give us
		// nothing, and would only hold a connection slot. Not banned: a
		// gossipchain node dialled in the moment between its host
		// starting to listen and its syncer starting looks the same, and
		// must be able to come back.
		s.log.Info("peer dropped", "peer", p, "reason", errForeignPeer)
		_ = s.host.Network().ClosePeer(p)
		return err
	}
	if err != nil {
		return err
	}
	defer stop()
	defer st.Close()
	resp, err := r.ReadResponse()
	if err == nil {
		var theirs protocol.Status
		if theirs, err = protocol.StatusFromResponse(resp); err == nil {
			s.noteStatus(p, theirs)
			return nil
		}
	} else {
		_ = st.Reset()
	}
	if isFault(err) {
		s.punish(p, err)
	}
	return fmt.Errorf("status: %w", err)
}

// errForeignPeer: the peer does not speak this network's sync protocol.
var errForeignPeer = errors.New("peer does not speak this network's sync protocol (another --network, or not a gossipchain node)")

// retryLimited runs req, and again after a growing pause while p answers
// that we ask too fast: a busy honest peer is slowed down to, not left.
func retryLimited[T any](ctx context.Context, req func() (T, error)) (T, error) {
	pause := rateLimitPause
	for i := 0; ; i++ {
		v, err := req()
		var re *protocol.RemoteError
		if i == rateLimitRetries || !errors.As(err, &re) || re.Code != protocol.CodeRateLimited {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err() // the loop ended the request, not p
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// getHeaders asks p for the headers after a locator and checks that they
// link and start at the locator (the chain's HeaderChain checks the rest).
func (s *Syncer) getHeaders(ctx context.Context, p peer.ID, req protocol.GetHeaders) ([]chain.Header, error) {
	st, r, stop, err := s.request(ctx, p, protocol.GetHeadersRequest(req), s.requestTimeout)
	if err != nil {
		return nil, err
	}
	defer stop()
	defer st.Close()
	resp, err := r.ReadResponse()
	if err != nil {
		_ = st.Reset()
		return nil, onConn(st, fmt.Errorf("read headers: %w", ours(ctx, err)))
	}
	return protocol.HeadersFromResponse(resp, req)
}

// getBlocks asks p for blocks by hash and reads them in order, each
// checked to be the block asked for. The first block is due within
// requestTimeout of opening; the rest of the batch has one deadline that
// grows only with what p delivers: protocol.ResponseLatency after the
// first block arrived, plus every block's size at
// protocol.MinTransferRate. A peer that trickles small blocks cannot hold
// the download by resetting a per-block deadline (issue 12); an honest
// one on the slowest link the wire allows is never cut. A shorter answer
// than asked is fine here: p stops at what it lacks.
func (s *Syncer) getBlocks(ctx context.Context, p peer.ID, hashes []chain.Hash) ([]*chain.Block, error) {
	deadline := time.Now().Add(s.requestTimeout)
	st, r, stop, err := s.request(ctx, p, protocol.GetBlocksRequest(hashes), s.requestTimeout)
	if err != nil {
		return nil, err
	}
	defer stop()
	defer st.Close()
	out := make([]*chain.Block, 0, len(hashes))
	for i, h := range hashes {
		_ = st.SetReadDeadline(deadline)
		resp, err := r.ReadResponse()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = st.Reset()
			return out, onConn(st, fmt.Errorf("read block %d of %d: %w", i+1, len(hashes), ours(ctx, err)))
		}
		b, err := protocol.BlockFromResponse(resp, h)
		if err != nil {
			_ = st.Reset()
			return out, err
		}
		out = append(out, b)
		if i == 0 {
			deadline = time.Now().Add(protocol.ResponseLatency)
		}
		deadline = deadline.Add(time.Duration(b.EncodedSize()) * time.Second / protocol.MinTransferRate)
	}
	return out, nil
}

// connError is a request's failure on a stream of conn: the syncer
// judges by that connection, not by the peer's others, whether the peer
// hung up on the request (hungUpOn).
type connError struct {
	conn network.Conn
	err  error
}

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// onConn wraps err, a failure to write the request to st or to read an
// answer from it, with st's connection. An answer that was read and
// refused (RemoteError, a block not asked for) names none.
func onConn(st network.Stream, err error) error {
	return &connError{conn: st.Conn(), err: err}
}

// ours returns ctx's error in place of err once ctx ended: the stream
// failed because the syncer reset it (the loop cancelled the download,
// or the request was overtaken), not because of the peer. A fault stays:
// it is bytes the peer sent before the reset (the reader is buffered;
// a reset stream hands over no bytes after it).
func ours(ctx context.Context, err error) error {
	if ctx.Err() != nil && !isFault(err) {
		return ctx.Err()
	}
	return err
}
