package p2p

import (
	"errors"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// coolDown puts a peer aside after a download from it stalled or made no
// progress: until coolUntil, unless it reports a tip other than coolTip.
// A fresh status with the same claim must not win it the next turn,
// while an honest peer that mined on is worth another. A second failure
// while cooling, for another tip and before its headers showed any work
// beyond ours (errUnshown), sets coolAny: a peer that claims a fresh tip
// on every status and delivers none is put aside whatever it claims. So
// does a light run (errLowWorkRun). The loop keeps the cool-downs of
// peers that hung up (loop.cooled), so that one that comes back finds
// its own as it left it.
type coolDown struct {
	coolUntil time.Time
	coolTip   chain.Hash
	coolAny   bool
}

// keepCoolDown keeps the cool-down of p, which hung up. When
// maxCooledGone are kept, those that ended go first; if none has, p's is
// not kept: a peer cooling down that hangs up and comes back costs us a
// download at most, and identities are free.
func (l *loop) keepCoolDown(p peer.ID, c coolDown) {
	if len(l.cooled) >= maxCooledGone {
		now := time.Now()
		for q, k := range l.cooled {
			if !now.Before(k.coolUntil) {
				delete(l.cooled, q)
			}
		}
		if len(l.cooled) >= maxCooledGone {
			return
		}
	}
	l.cooled[p] = c
}

// cooling reports whether the peer is put aside while it claims tip.
func (c *coolDown) cooling(now time.Time, tip chain.Hash) bool {
	return now.Before(c.coolUntil) && (c.coolAny || tip == c.coolTip)
}

// cool puts the peer aside for cooldown while it claims tip, or, if
// escalate and it was cooling already for another tip, whatever it
// claims.
func (c *coolDown) cool(now time.Time, tip chain.Hash, escalate bool) {
	cooling := now.Before(c.coolUntil)
	c.coolAny = cooling && (c.coolAny || (escalate && tip != c.coolTip))
	c.coolUntil, c.coolTip = now.Add(cooldown), tip
}

// hungUpOn reports whether a peer hung up on a download it joined on
// conns, its connections then. err is the error its part ended with (nil
// if none is known). If err is a request's failure on a stream
// (connError), that stream's connection decides: the peer hung up if it
// is closed, whatever its other connections, and did not if it is open,
// even when every connection of conns is closed (the peer restarted, and
// the request ran on its new connection). Otherwise the peer hung up if
// all of conns are closed, although it may have connected again
// meanwhile and its disconnect may not have reached the loop yet; and so
// did one that had none then (its last one was gone before its
// disconnect reached the loop): looking at its connections now would
// cool a peer back from a restart down. Either way, err being the peer
// closing the connection is a hang-up: QUIC may break the streams before
// it marks the connection closed (closedByPeer), where a yamux
// connection is marked closed before its streams break.
func hungUpOn(conns []network.Conn, err error) bool {
	if closedByPeer(err) {
		return true
	}
	if ce, ok := errors.AsType[*connError](err); ok {
		return ce.conn.IsClosed()
	}
	for _, c := range conns {
		if !c.IsClosed() {
			return false
		}
	}
	return true
}

// closedByPeer reports whether err is the peer closing the connection
// (QUIC's CONNECTION_CLOSE from the other side).
func closedByPeer(err error) bool {
	var ce *network.ConnError
	return errors.As(err, &ce) && ce.Remote
}
