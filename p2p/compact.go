package p2p

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// Compact block relay (protocol.md §16.6). A node gossips its blocks as
// compact blocks; a receiver rebuilds the block from the compact block's
// prefilled transactions and its own mempool, asks the peer that sent it
// for the transactions still missing (blocktxn.go), and fetches the block
// whole with the sync protocol when that fails or the rebuilt block's
// merkle root is wrong (a short-id collision). Only then does the block
// go through intake like any gossiped block, and only a block that
// joined the main chain, described faithfully by the compact block, is
// forwarded.
//
// GossipSub forwards the message its validator accepted, byte for byte:
// the compact block, not the block. That is what we want: every node
// that forwards it has connected the block, so it can answer for the
// transactions its peers lack, and the bytes on each link are the
// compact block's, not the block's.

// CompactStats counts what rebuilding compact blocks took.
type CompactStats struct {
	// Rebuilt: blocks rebuilt from the mempool and the prefilled
	// transactions alone. Requested: blocks for which the sender was
	// asked for missing transactions, and TxsRequested how many. Fetched:
	// blocks fetched whole (no answer, a wrong merkle root).
	Rebuilt, Requested, TxsRequested, Fetched uint64
	// TxsRecent counts the transactions placed in rebuilt blocks from
	// the batches lately received rather than the mempool (recenttxs.go):
	// each one a transaction not asked of the sender.
	TxsRecent uint64
	// Served counts blocktxn requests this node answered.
	Served uint64
}

type compactCounters struct {
	rebuilt, requested, txsRequested, fetched, served, txsRecent atomic.Uint64
}

func (c *compactCounters) snapshot() CompactStats {
	return CompactStats{Rebuilt: c.rebuilt.Load(), Requested: c.requested.Load(),
		TxsRequested: c.txsRequested.Load(), Fetched: c.fetched.Load(), Served: c.served.Load(),
		TxsRecent: c.txsRecent.Load()}
}

// compactBlock encodes b, whose transactions' ids are ids, for the block
// topic: the coinbase and the transactions whose ids are in unsent (those
// this node had not gossiped before the block) sent whole, every other
// transaction as a short id, as Bitcoin Core sends its compact blocks.
// The transactions of a block normally went through the transaction
// topic before it, so peers have them; one that missed some asks. The
// nonce is random so each publication has keys of its own.
func compactBlock(b *chain.Block, ids []chain.Hash, unsent map[chain.Hash]bool) []byte {
	var prefill func(int) bool
	if len(unsent) > 0 {
		prefill = func(i int) bool { return unsent[ids[i]] }
	}
	return protocol.NewCompactBlockIDs(b, ids, rand.Uint64(), prefill).Encode()
}

// rebuild is a compact block being filled in.
type rebuild struct {
	c      *protocol.CompactBlock
	k0, k1 uint64
	txs    []*chain.Transaction // by index in the block; nil while missing
	short  []int                // index in c.ShortIDs of each index; -1 if prefilled
	// ids are the ids under which the places were filled from our
	// mempool or the recent batches (zero for the others), for the
	// digest (block).
	ids []chain.Hash
	// fromPool counts the places filled from our mempool or the recent
	// batches: the only ones a short-id collision can have put a wrong
	// transaction in; fromRecent those of them from the recent batches.
	fromPool, fromRecent int
}

// newRebuild places c's prefilled transactions and fills the other
// places by short id from the mempool and, for places still empty, from
// the batches lately received (recentTxs): those a full pool refused and
// those still waiting for their admission. A short id that two
// transactions of the block share, or that two different transactions
// held here match, is left missing: asking the sender is cheaper than
// guessing.
func (g *Gossip) newRebuild(c *protocol.CompactBlock) *rebuild {
	n := c.TxCount()
	r := &rebuild{c: c, txs: make([]*chain.Transaction, n), short: make([]int, n)}
	r.k0, r.k1 = protocol.ShortIDKeys(&c.Header, c.Nonce)
	at := make(map[uint64]int, len(c.ShortIDs)) // short id → index; -1 if ambiguous
	pi, si := 0, 0
	for i := range n {
		if pi < len(c.Prefilled) && c.Prefilled[pi].Index == i {
			r.txs[i], r.short[i] = c.Prefilled[pi].Tx, -1
			pi++
			continue
		}
		s := c.ShortIDs[si]
		if _, dup := at[s]; dup {
			at[s] = -1
		} else {
			at[s] = i
		}
		r.short[i] = si
		si++
	}
	if len(at) == 0 {
		return r
	}
	// ids[i] is the id of the candidate in place i: the same transaction
	// met again (in the pool and among the recent batches) is no rival.
	ids := make([]chain.Hash, n)
	r.ids = ids
	var recent map[int]bool // places filled from the recent batches
	place := func(id chain.Hash, tx *chain.Transaction) bool {
		s := protocol.ShortID(r.k0, r.k1, id)
		i, ok := at[s]
		switch {
		case !ok || i < 0:
		case r.txs[i] == nil:
			r.txs[i], ids[i] = tx, id
			if recent != nil {
				recent[i] = true
			}
		case ids[i] != id:
			r.txs[i], ids[i], at[s] = nil, chain.Hash{}, -1 // two candidates: ask
		}
		return true
	}
	g.chain.RangeMempool(place)
	if slices.Contains(r.txs, nil) {
		recent = make(map[int]bool)
		g.recent.rangeTxs(place)
	}
	for i, tx := range r.txs {
		if tx != nil && r.short[i] >= 0 {
			r.fromPool++
			if recent[i] {
				r.fromRecent++
			}
		}
	}
	return r
}

// missing lists the indexes still without a transaction.
func (r *rebuild) missing() []int {
	var out []int
	for i, tx := range r.txs {
		if tx == nil {
			out = append(out, i)
		}
	}
	return out
}

// fill places the sender's answer for the missing indexes, each checked
// against its short id.
func (r *rebuild) fill(indexes []int, txs []*chain.Transaction) error {
	for k, i := range indexes {
		if protocol.ShortID(r.k0, r.k1, txs[k].ID()) != r.c.ShortIDs[r.short[i]] {
			return fmt.Errorf("%w: transaction %d", errWrongTxs, i)
		}
		r.txs[i] = txs[k]
	}
	return nil
}

// block is the rebuilt block, with the digest of its transactions, if
// its merkle root is the header's; false after a collision put a wrong
// transaction in some place. The digest is the chain's
// (Chain.DigestTxs: the mempool's own ids for the transactions it still
// holds under the ids they were placed by, every other one hashed), never
// ids the sender sent; it spares the chain's check of the block hashing
// them again.
func (r *rebuild) block(src Chain) (*chain.Block, *chain.TxDigest, bool) {
	b := &chain.Block{Header: r.c.Header, Transactions: r.txs}
	d := src.DigestTxs(r.txs, r.ids)
	return b, d, d.Root() == r.c.Header.MerkleRoot
}

// assemble turns a compact block from peer from into the block it
// describes, with the digest of its transactions when it rebuilt it
// (nil for a block fetched whole). faithful reports whether the compact
// block describes it exactly; it is false only for a block fetched whole
// that the compact block does not match. A wrong answer from the sender
// is an error that costs it (errWrongTxs, protocol.ErrBadMessage); so is
// a block it cannot deliver, which another peer will (the caller asks
// every peer's status). Its waits on the sender end when elsewhere
// closes (another copy of the block was validated: inFlight.begin), with
// errElsewhere.
func (g *Gossip) assemble(ctx context.Context, from peer.ID, c *protocol.CompactBlock, mayAsk bool,
	elsewhere <-chan struct{}) (b *chain.Block, d *chain.TxDigest, faithful bool, err error) {
	h := c.Header.Hash()
	r := g.newRebuild(c)
	g.compactStats.txsRecent.Add(uint64(r.fromRecent))
	// Every round trip to the sender below waits under one reservation
	// (asks.go), taken at the first.
	var release func()
	defer func() {
		if release != nil {
			release()
		}
	}()
	reserve := func() bool {
		if release == nil {
			release, _ = g.waits.take(from)
			if release != nil && elsewhere != nil {
				// A copy that stalls on its sender would otherwise hold
				// its reservation after an honest copy connected, and two
				// such copies of every block leave none for the next.
				wait, cancel := context.WithCancel(ctx)
				go func() {
					select {
					case <-elsewhere:
						cancel()
					case <-wait.Done():
					}
				}()
				held := release
				ctx, release = wait, func() { cancel(); held() }
			}
		}
		return release != nil
	}
	// cut wraps err as errElsewhere when another copy was validated
	// meanwhile: the wait was ended for it, or is pointless now.
	cut := func(err error) error {
		if err == nil {
			return nil
		}
		select {
		case <-elsewhere:
			return errElsewhere
		default:
			return err
		}
	}
	missing := r.missing()
	if len(missing) == 0 {
		g.compactStats.rebuilt.Add(1)
	} else {
		if !mayAsk {
			return nil, nil, false, errNotAsked
		}
		if !reserve() {
			return nil, nil, false, errAsksBusy
		}
		g.compactStats.requested.Add(1)
		g.compactStats.txsRequested.Add(uint64(len(missing)))
		txs, err := g.requestTxns(ctx, from, h, missing)
		switch {
		case err == nil:
			if err := r.fill(missing, txs); err != nil {
				return nil, nil, false, err
			}
		case errors.Is(err, protocol.ErrBadMessage):
			return nil, nil, false, err
		case errors.Is(cut(err), errElsewhere):
			return nil, nil, false, errElsewhere
		default:
			g.log.Debug("missing transactions not served", "peer", from, "hash", h.Short(), "reason", err)
			b, _, faithful, err := g.fetchWhole(ctx, from, c)
			return b, nil, faithful, cut(err)
		}
	}
	// Without a transaction of ours in it, a wrong merkle root is the
	// sender's: intake refuses the block (chain.ErrBadMerkleRoot).
	if b, d, ok := r.block(g.chain); ok || r.fromPool == 0 {
		return b, d, true, nil
	}
	if !mayAsk {
		return nil, nil, false, errNotAsked
	}
	if !reserve() {
		return nil, nil, false, errAsksBusy
	}
	g.log.Info("compact block rebuilt with a wrong merkle root, fetching it whole", "peer", from, "hash", h.Short())
	b, _, faithful, err = g.fetchWhole(ctx, from, c)
	return b, nil, faithful, cut(err)
}

// fetchWhole fetches c's block from from with the sync protocol. Its
// transactions are hashed by the chain's check: no digest.
func (g *Gossip) fetchWhole(ctx context.Context, from peer.ID, c *protocol.CompactBlock) (*chain.Block, *chain.TxDigest, bool, error) {
	g.compactStats.fetched.Add(1)
	b, err := g.sync.FetchBlock(ctx, from, c.Header.Hash())
	if err != nil {
		return nil, nil, false, errUnavailable{err}
	}
	return b, nil, c.Matches(b), nil
}

// errElsewhere: another copy of the block was validated while this one
// waited on its sender, which proves nothing against the sender.
var errElsewhere = errors.New("another copy of the block was validated meanwhile")

// errNotAsked: the block could not be rebuilt from what this node holds,
// and its header has not earned a request to its sender (an orphan's
// cannot be judged: protocol.md 16.6.5).
var errNotAsked = errors.New("compact block not rebuilt, and its header earns no request")

// errUnavailable: the block could not be had from the peer that
// announced it, which proves nothing against the peer (it may be slow,
// or out of allowance); another peer's status will bring it.
type errUnavailable struct{ err error }

func (e errUnavailable) Error() string { return "block unavailable: " + e.err.Error() }
func (e errUnavailable) Unwrap() error { return e.err }

// errUnfaithful: a compact block whose block, fetched whole, does not
// match it. The block may be valid; the message is not, so it is not
// forwarded and its sender pays.
var errUnfaithful = errors.New("compact block does not describe its block")
