package p2p

import (
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// handleStream serves one sync request: read it within its deadline,
// check it, answer from the chain one message at a time, close. The
// stream's memory is reserved with the resource manager before anything
// is read, every write has its own deadline, and each peer's requests are
// rate limited. A malformed request costs the peer its connection.
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
	if err := st.Scope().ReserveMemory(protocol.MaxMessageSize, network.ReservationPriorityAlways); err != nil {
		s.log.Debug("sync stream refused by resource manager", "peer", p, "reason", err)
		_ = st.Reset()
		return
	}
	defer st.Scope().ReleaseMemory(protocol.MaxMessageSize)

	_ = st.SetReadDeadline(time.Now().Add(protocol.RequestReadTimeout))
	req, err := protocol.NewReader(st).ReadRequest()
	w := protocol.NewWriter(st)
	write := func(m *pb.Response, size int) error {
		_ = st.SetWriteDeadline(time.Now().Add(protocol.ResponseTimeout(size)))
		return w.WriteResponse(m)
	}
	if errors.Is(err, protocol.ErrUnknownBody) {
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
	ps := s.state(p)
	if !ps.limiter.Allow() || (req.GetGetBlocks() != nil && !ps.blocks.AllowN(time.Now(), len(req.GetGetBlocks().GetHashes()))) {
		_ = write(protocol.ErrorResponse(protocol.CodeRateLimited, "too many sync requests"), 0)
		return
	}
	s.stats.served.Add(1)
	if err := s.serve(p, req, write); err != nil {
		if isRequestFault(err) {
			_ = write(protocol.ErrorResponse(protocol.CodeBadRequest, err.Error()), 0)
			s.punish(p, err)
			return
		}
		s.log.Debug("sync request failed", "peer", p, "reason", err)
		_ = st.Reset()
	}
}

// serve answers one validated-on-the-way request.
func (s *Syncer) serve(p peer.ID, req *pb.Request, write func(*pb.Response, int) error) error {
	switch body := req.GetBody().(type) {
	case *pb.Request_Status:
		theirs, err := protocol.StatusFromPB(body.Status)
		if err != nil {
			return err
		}
		if err := write(protocol.StatusResponse(s.status()), 0); err != nil {
			return err
		}
		s.noteStatus(p, theirs)
		return nil
	case *pb.Request_GetHeaders:
		r, err := protocol.ValidateGetHeaders(body.GetHeaders)
		if err != nil {
			return err
		}
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
		// One block in memory at a time, straight from the store; the
		// answer stops at the first block we do not have.
		for _, h := range hashes {
			b, err := s.chain.Block(h)
			if err != nil {
				return nil
			}
			if err := write(protocol.BlockResponse(b), b.EncodedSize()); err != nil {
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
