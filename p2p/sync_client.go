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
// answer and closes the stream.
func (s *Syncer) request(ctx context.Context, p peer.ID, req *pb.Request, deadline time.Duration) (network.Stream, *protocol.Reader, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	st, err := s.host.NewStream(ctx, p, s.proto)
	if err != nil {
		return nil, nil, fmt.Errorf("open sync stream: %w", err)
	}
	_ = st.SetDeadline(time.Now().Add(deadline))
	if err := protocol.NewWriter(st).WriteRequest(req); err != nil {
		_ = st.Reset()
		return nil, nil, fmt.Errorf("write request: %w", err)
	}
	if err := st.CloseWrite(); err != nil {
		_ = st.Reset()
		return nil, nil, fmt.Errorf("close write: %w", err)
	}
	return st, protocol.NewReader(st), nil
}

// exchangeStatus sends our status to p and records p's.
func (s *Syncer) exchangeStatus(ctx context.Context, p peer.ID) error {
	ps := s.state(p)
	s.mu.Lock()
	ps.asking, ps.asked = true, time.Now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		ps.asking = false
		again := ps.again
		s.mu.Unlock()
		if again {
			s.askAgain(p, ps, requestSyncGap)
		}
	}()
	st, r, err := s.request(ctx, p, protocol.StatusRequest(s.status()), protocol.StatusTimeout)
	if isForeignPeer(err) {
		// A node of another network (the protocol ID names the genesis)
		// or a libp2p node that is no gossipchain node: it can give us
		// nothing, and would only hold a connection slot. Not banned: a
		// gossipchain node dialled in the moment between its host
		// starting to listen and its syncer starting looks the same, and
		// must be able to come back.
		s.log.Info("peer dropped", "peer", p, "reason", errForeignPeer)
		s.mu.Lock()
		delete(s.peers, p)
		s.mu.Unlock()
		_ = s.host.Network().ClosePeer(p)
		return err
	}
	if err != nil {
		return err
	}
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
			return v, err
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// getHeaders asks p for the headers after our locator and checks that
// they link, start at the locator, and each carry their proof of work.
func (s *Syncer) getHeaders(ctx context.Context, p peer.ID, req protocol.GetHeaders) ([]chain.Header, error) {
	st, r, err := s.request(ctx, p, protocol.GetHeadersRequest(req), s.requestTimeout)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	resp, err := r.ReadResponse()
	if err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("read headers: %w", err)
	}
	hdrs, err := protocol.HeadersFromResponse(resp, req)
	if err != nil {
		return nil, err
	}
	for i := range hdrs {
		if err := chain.CheckHeaderSanity(s.chain.Params(), &hdrs[i]); err != nil {
			return nil, fmt.Errorf("header %d: %w", hdrs[i].Height, err)
		}
	}
	return hdrs, nil
}

// getBlocks asks p for blocks by hash and reads them in order, each
// checked to be the block asked for, each within its own deadline. A
// shorter answer than asked is fine: p stops at what it lacks.
func (s *Syncer) getBlocks(ctx context.Context, p peer.ID, hashes []chain.Hash) ([]*chain.Block, error) {
	st, r, err := s.request(ctx, p, protocol.GetBlocksRequest(hashes), s.requestTimeout)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := make([]*chain.Block, 0, len(hashes))
	for i, h := range hashes {
		if i > 0 {
			_ = st.SetReadDeadline(time.Now().Add(protocol.ResponseTimeout(protocol.MaxMessageSize)))
		}
		resp, err := r.ReadResponse()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = st.Reset()
			return out, fmt.Errorf("read block %d of %d: %w", i+1, len(hashes), err)
		}
		b, err := protocol.BlockFromResponse(resp, h)
		if err != nil {
			_ = st.Reset()
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// syncFrom downloads from p until we have at least the work p claimed:
// headers from our locator, then the blocks we lack in batches, each
// batch handed to the chain as it arrives.
func (s *Syncer) syncFrom(ctx context.Context, p peer.ID, claimed *protocol.Status) (err error) {
	start := time.Now()
	startHeight := s.chain.Tip().Height()
	s.log.Info("sync started", "peer", p, "height", startHeight, "peer_height", claimed.Height)
	connected := 0
	s.stats.started.Add(1)
	s.stats.syncing.Store(true)
	s.emit(SyncEvent{Peer: p, State: SyncStarted, Height: startHeight, PeerHeight: claimed.Height})
	defer func() {
		s.stats.syncing.Store(false)
		s.stats.blocks.Add(uint64(connected))
		ev := SyncEvent{Peer: p, State: SyncFinished, Blocks: connected, Height: s.chain.Tip().Height(),
			PeerHeight: claimed.Height, Duration: time.Since(start), Err: err}
		if err != nil {
			ev.State = SyncFailed
			s.stats.failed.Add(1)
		} else {
			s.stats.finished.Add(1)
		}
		s.emit(ev)
	}()
	// ahead is the last header of p's branch we have stored: while that
	// branch is still lighter than our main chain, our own locator only
	// finds the fork point, and p would send the same headers again. Put
	// first in the locator, it lets p continue from there (Bitcoin's
	// getheaders does the same).
	var ahead chain.Hash
	for s.chain.Tip().Work.Cmp(claimed.Work) < 0 {
		loc, err := s.chain.Locator()
		if err != nil {
			return fmt.Errorf("locator: %w", err)
		}
		if !ahead.IsZero() {
			loc = append([]chain.Hash{ahead}, loc[:min(len(loc), protocol.MaxLocatorLen-1)]...)
		}
		hdrs, err := retryLimited(ctx, func() ([]chain.Header, error) {
			return s.getHeaders(ctx, p, protocol.GetHeaders{Locator: loc, Max: protocol.MaxHeadersPerResponse})
		})
		if err != nil {
			return err
		}
		var want []chain.Hash
		for i := range hdrs {
			if h := hdrs[i].Hash(); !s.chain.Stored(h) {
				want = append(want, h)
			}
		}
		if len(want) == 0 && len(hdrs) > 0 && hdrs[len(hdrs)-1].Hash() != ahead {
			ahead = hdrs[len(hdrs)-1].Hash() // all stored already: go on past them
			continue
		}
		if len(want) == 0 {
			if s.chain.Tip().Work.Cmp(claimed.Work) >= 0 {
				break // gossip got us there meanwhile
			}
			return fmt.Errorf("%w: %d headers, none new, at height %d of a claimed %d",
				errNoProgress, len(hdrs), s.chain.Tip().Height(), claimed.Height)
		}
		for len(want) > 0 {
			batch := want[:min(blocksPerRequest, len(want))]
			want = want[len(batch):]
			blocks, err := retryLimited(ctx, func() ([]*chain.Block, error) { return s.getBlocks(ctx, p, batch) })
			if len(blocks) > 0 {
				n, perr := s.chain.ProcessBlocks(ctx, blocks)
				connected += n
				if perr != nil {
					return fmt.Errorf("block %d of batch: %w", n, perr)
				}
			}
			if err != nil {
				return err
			}
			if len(blocks) < len(batch) {
				return fmt.Errorf("%w: asked for %d blocks, got %d", errNoProgress, len(batch), len(blocks))
			}
		}
		ahead = hdrs[len(hdrs)-1].Hash()
	}
	tip := s.chain.Tip()
	s.log.Info("sync finished", "peer", p, "blocks", connected, "height", tip.Height(), "hash", tip.Hash.Short(),
		"seconds", time.Since(start).Seconds())
	return nil
}
