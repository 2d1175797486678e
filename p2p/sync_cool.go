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
// conns, its connections then: err, the error its part ended with (nil
// if none is known), is the peer closing the connection, or all of conns
// are closed, although it may have connected again meanwhile (a restart)
// and its disconnect may not have reached the loop yet. A yamux
// connection is marked closed before its streams break, so a download
// that failed because the peer hung up sees it so, although the swarm
// may not have dropped the connection yet; QUIC may break the streams
// first, but their error then says the peer closed (closedByPeer). A
// connection replaced during the download (a relayed one by a direct
// one) reads as a hang-up too:
// that peer is not cooled down, which costs us at most another download
// from it. So is a peer that had no connection then (its last one was
// gone before its disconnect reached the loop): looking at its
// connections now would cool a peer back from a restart down.
func hungUpOn(conns []network.Conn, err error) bool {
	if closedByPeer(err) {
		return true
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
