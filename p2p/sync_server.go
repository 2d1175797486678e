package p2p

import (
	"bufio"
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// handleStream serves one sync request: read it within its deadline,
// check it, answer from the chain one message at a time (written up to
// serveBuffer bytes together), close. Each stream takes a request token
// from its peer's allowance as it arrives (serve_limits.go), and its
// memory is reserved with the resource manager in two steps: what
// reading a request takes before anything is read, and what the answer
// takes once a request is read and paid for. A stream that never sends
// its request so holds 16 KiB for at most RequestReadTimeout and costs
// its peer a token: reserving the answer's 545 KiB up front let a few
// identities' idle streams, a byte each every 10 s, take the whole sync
// service's memory and lock every peer out. Every write has its own
// deadline. A malformed request costs the peer its connection.
func (s *Syncer) handleStream(st network.Stream) {
	defer st.Close()
	p := st.Conn().RemotePeer()
	if s.bans.Banned(p) {
		_ = st.Reset()
		return
	}
	if err := st.Scope().SetService(syncService); err != nil {
		s.log.Debug("sync stream refused by resource manager", "peer", p, "reason", err)
		_ = st.Reset()
		return
	}
	if !s.reserve(st, readReserve) {
		return
	}
	defer st.Scope().ReleaseMemory(readReserve)
	lim := s.serveLimits().peer(p)
	if !lim.requests.AllowN(s.serveLimits().now(), 1) {
		// Unread: the answer is all the stream gets.
		s.log.Debug("sync request refused", "peer", p, "reason", errRateLimited)
		_ = st.SetWriteDeadline(time.Now().Add(protocol.ResponseTimeout(0)))
		_ = protocol.NewWriter(st).WriteResponse(protocol.ErrorResponse(protocol.CodeRateLimited, "too many sync requests"))
		return
	}

	_ = st.SetReadDeadline(time.Now().Add(protocol.RequestReadTimeout))
	req, err := protocol.NewReader(st).ReadRequest()
	if err == nil {
		// The answer's buffer, and for headers and blocks the largest
		// message held while it is written.
		answer := answerReserve(req)
		if !s.reserve(st, answer) {
			return
		}
		defer st.Scope().ReleaseMemory(answer)
	}
	// The answer's messages are written together, up to serveBuffer
	// bytes at a time: a GetBlocks of small blocks was a stream write,
	// a yamux frame, a Noise message and a system call for each block.
	// Each write is given the time its bytes and those held before it
	// take.
	bw := serveBuffers.Get().(*bufio.Writer)
	bw.Reset(st)
	// flush writes what is held: before the handler returns, and before
	// anything that may close the connection (a punishment, a peer of
	// another network), which would drop it.
	flush := func() {
		_ = st.SetWriteDeadline(time.Now().Add(protocol.ResponseTimeout(bw.Buffered())))
		_ = bw.Flush()
	}
	defer func() {
		flush()
		bw.Reset(nil)
		serveBuffers.Put(bw)
	}()
	w := protocol.NewWriter(bw)
	write := func(m *pb.Response, size int) error {
		_ = st.SetWriteDeadline(time.Now().Add(protocol.ResponseTimeout(size + bw.Buffered())))
		return w.WriteResponse(m)
	}
	if errors.Is(err, protocol.ErrUnknownBody) {
		if !s.reserve(st, serveBuffer) {
			return
		}
		defer st.Scope().ReleaseMemory(serveBuffer)
		_ = write(protocol.ErrorResponse(protocol.CodeBadRequest, "unknown request kind"), 0)
		return
	}
	if err != nil {
		if isRequestFault(err) {
			s.punish(p, err)
		}
		_ = st.Reset()
		return
	}
	if err := s.serve(p, req, lim, write, flush); err != nil {
		switch {
		case errors.Is(err, errRateLimited):
			s.refuse(p, write)
		case isRequestFault(err):
			_ = write(protocol.ErrorResponse(protocol.CodeBadRequest, err.Error()), 0)
			flush()
			_ = st.CloseWrite() // the answer is all there is
			// Once the answer had time to leave (faultLinger); a
			// syncer closing meanwhile punishes nobody.
			select {
			case <-time.After(faultLinger):
				s.punish(p, err)
			case <-s.ctx.Done():
			}
		default:
			s.log.Debug("sync request failed", "peer", p, "reason", err)
			_ = st.Reset()
		}
	}
}

// serveBuffer is how much of an answer is held before it is written.
const serveBuffer = 32 << 10

// readReserve is the memory a served stream reserves before its request
// is read: the reader's buffer and the largest request.
const readReserve = 2 * protocol.MaxRequestSize

// answerReserve is the memory the answer to req reserves once req is
// read: the buffer its messages are gathered in, and for GetHeaders
// (2,000 headers) and GetBlocks (one block at a time) the largest message.
func answerReserve(req *pb.Request) int {
	switch req.GetBody().(type) {
	case *pb.Request_GetHeaders, *pb.Request_GetBlocks:
		return serveBuffer + protocol.MaxMessageSize
	}
	return serveBuffer
}

// reserve reserves n bytes for st with the resource manager, or resets
// st.
func (s *Syncer) reserve(st network.Stream, n int) bool {
	if err := st.Scope().ReserveMemory(n, network.ReservationPriorityAlways); err != nil {
		s.log.Debug("sync stream refused by resource manager", "peer", st.Conn().RemotePeer(), "reason", err)
		_ = st.Reset()
		return false
	}
	return true
}

var serveBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, serveBuffer) }}

// errRateLimited: the peer's allowance does not cover the request.
var errRateLimited = errors.New("over the peer's sync rate limit")

// refuse answers a request the peer's allowance does not cover.
func (s *Syncer) refuse(p peer.ID, write func(*pb.Response, int) error) {
	s.log.Debug("sync request refused", "peer", p, "reason", errRateLimited)
	_ = write(protocol.ErrorResponse(protocol.CodeRateLimited, "too many sync requests"), 0)
}

// serve answers one validated-on-the-way request, charging the peer's
// allowance for what it asks once the request is known to be valid
// (protocol.md §17.9): the headers it asks for, the blocks it names, and
// each block's bytes as it is sent.
func (s *Syncer) serve(p peer.ID, req *pb.Request, lim *serveLimits, write func(*pb.Response, int) error, flush func()) error {
	now := s.serveLimits().now
	switch body := req.GetBody().(type) {
	case *pb.Request_Status:
		theirs, err := protocol.StatusFromPB(body.Status)
		if err != nil {
			return err
		}
		s.stats.served.Add(1)
		if err := write(protocol.StatusResponse(s.status()), 0); err != nil {
			return err
		}
		flush() // noteStatus hangs up on a peer of another network
		s.noteStatus(p, theirs)
		return nil
	case *pb.Request_GetHeaders:
		r, err := protocol.ValidateGetHeaders(body.GetHeaders)
		if err != nil {
			return err
		}
		// Charged what it asks for, not what we have: reading the
		// locator and up to max headers is the work it can make us do.
		if !lim.headers.AllowN(now(), r.Max) {
			return errRateLimited
		}
		s.stats.served.Add(1)
		hdrs, err := s.chain.HeadersAfter(r.Locator, r.Stop, r.Max)
		if err != nil {
			return write(protocol.ErrorResponse(protocol.CodeUnavailable, "headers unavailable"), 0)
		}
		return write(protocol.HeadersResponse(hdrs), len(hdrs)*chain.HeaderSize)
	case *pb.Request_GetBlocks:
		hashes, err := protocol.ValidateGetBlocks(body.GetBlocks)
		if err != nil {
			return err
		}
		if !lim.blocks.AllowN(now(), len(hashes)) {
			return errRateLimited
		}
		s.stats.served.Add(1)
		// One block in memory at a time, its bytes straight from the
		// store, not decoded and encoded again: the client checks every
		// block it is sent. The answer stops at the first block we do not
		// have (or whose record is damaged), or whose bytes the peer's
		// allowance no longer covers.
		for _, h := range hashes {
			enc, err := s.chain.BlockBytes(h)
			if err != nil {
				if !errors.Is(err, chain.ErrNotFound) {
					s.log.Warn("stored block not served", "hash", h.Short(), "reason", err)
				}
				return nil
			}
			if len(enc) > chain.MaxBlockSize {
				return nil // no block is this large: not ours to send
			}
			if !lim.bytes.AllowN(now(), len(enc)) {
				return nil
			}
			if err := write(protocol.EncodedBlockResponse(enc), len(enc)); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("unknown request") // ReadRequest refuses bodiless requests
}

// status describes our chain.
func (s *Syncer) status() protocol.Status {
	tip := s.chain.Tip()
	return protocol.Status{Genesis: s.chain.Params().NetworkID(), Tip: tip.Hash, Height: tip.Height(), Work: tip.Work}
}

// noteStatus records a peer's status, hanging up on other networks.
func (s *Syncer) noteStatus(p peer.ID, st protocol.Status) {
	if st.Genesis != s.chain.Params().NetworkID() {
		s.log.Info("peer is on another network", "peer", p, "genesis", st.Genesis.Short())
		_ = s.host.Network().ClosePeer(p)
		return
	}
	s.log.Debug("peer status", "peer", p, "height", st.Height, "hash", st.Tip.Short())
	s.setStatus(p, &st)
}
