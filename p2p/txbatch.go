package p2p

import (
	"context"
	"fmt"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// Transactions travel in batches (protocol.md §16.9): a node collects
// what it admitted from its own API, wallet and rebroadcast for a short
// window (defaultTxBatchWindow) or until a batch is full, and publishes
// them as one GossipSub message, whose per-message costs (in a mesh of
// five, sixteen sends and receptions, twelve of them duplicates) are then
// shared by all of them. A peer forwards a batch only if it admitted
// every transaction of it; otherwise what it admitted goes into its own
// next batch, so a batch refused for one transaction still gets the
// others to the network.

// WithTxBatchWindow sets how long the node collects its own transactions
// before publishing them as one batch (defaultTxBatchWindow otherwise).
func WithTxBatchWindow(d time.Duration) GossipOption {
	return func(c *gossipConfig) { c.txWindow = d }
}

// PublishTx queues a transaction the mempool has accepted for the node's
// next batch, which leaves within the batch window. It waits only when
// txOutQueue transactions are waiting already.
func (g *Gossip) PublishTx(ctx context.Context, tx *chain.Transaction) error {
	select {
	case g.txOut <- tx:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish tx: %w", ctx.Err())
	case <-g.stopped:
		return fmt.Errorf("publish tx: %w", errGossipClosed)
	}
}

// PublishTxs publishes txs at once, in as few batches as the bounds
// allow: for a set the caller collected already (the rebroadcast).
func (g *Gossip) PublishTxs(ctx context.Context, txs []*chain.Transaction) error {
	var b protocol.TxBatch
	for _, tx := range txs {
		enc := tx.Encode()
		if !b.Fits(enc) {
			if err := g.publishBatch(ctx, &b); err != nil {
				return err
			}
		}
		b.Add(enc)
	}
	if b.Len() == 0 {
		return nil
	}
	return g.publishBatch(ctx, &b)
}

// publishBatch publishes b and empties it.
func (g *Gossip) publishBatch(ctx context.Context, b *protocol.TxBatch) error {
	n := b.Len()
	if err := g.txTopic.Publish(ctx, b.Take()); err != nil {
		return fmt.Errorf("publish %d txs: %w", n, err)
	}
	g.txStats.published.Add(1)
	return nil
}

// batchTxs forms the node's batches from PublishTx's queue: the first
// transaction of a batch starts the window, and the batch leaves when
// the window ends or the next transaction would not fit. A block of the
// node's own takes out of the open batch and the queue the transactions
// it includes (takeTxs), which it carries whole instead.
func (g *Gossip) batchTxs(ctx context.Context, window time.Duration) {
	defer g.wg.Done()
	var b protocol.TxBatch
	var open []*chain.Transaction // b's transactions, for a take
	timer := time.NewTimer(window)
	timer.Stop()
	defer timer.Stop()
	var due <-chan time.Time
	send := func() {
		timer.Stop()
		due = nil
		open = open[:0]
		if err := g.publishBatch(ctx, &b); err != nil && ctx.Err() == nil {
			g.log.Warn("publish tx batch", "reason", err)
		}
	}
	add := func(tx *chain.Transaction) {
		enc := tx.Encode()
		if !b.Fits(enc) {
			send()
		}
		b.Add(enc)
		open = append(open, tx)
		switch {
		case b.Full():
			send()
		case due == nil:
			timer.Reset(window)
			due = timer.C
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-due:
			if b.Len() > 0 {
				send()
			}
			due = nil
		case tx := <-g.txOut:
			add(tx)
		case req := <-g.txTake:
			// The open batch is formed again without the block's
			// transactions, its window still running; what was queued
			// before the take was asked for is sorted the same way (no
			// more: submitters keep queueing meanwhile).
			taken := make(map[chain.Hash]bool)
			keep := open
			open, b = nil, protocol.TxBatch{}
			takeOrKeep := func(tx *chain.Transaction) {
				if id := tx.ID(); req.ids[id] {
					taken[id] = true
				} else {
					add(tx)
				}
			}
			for _, tx := range keep {
				takeOrKeep(tx)
			}
			for range len(g.txOut) {
				takeOrKeep(<-g.txOut)
			}
			req.reply <- taken // buffered: the batcher never waits here
		}
	}
}

// takeReq asks the batcher for the transactions among ids it has not
// published yet; it replies with the ids of those it took.
type takeReq struct {
	ids   map[chain.Hash]bool
	reply chan map[chain.Hash]bool
}

// takeTxs takes out of the node's open batch and its queue the
// transactions whose ids are ids, those of a block of the node's own
// after its coinbase, and returns the ids it took: the transactions its
// peers cannot have yet, which the compact block carries whole. They are
// not published in a batch as well, which would send them twice and have
// peers judge a batch whose transactions the block may already have
// taken.
func (g *Gossip) takeTxs(ctx context.Context, ids []chain.Hash) (map[chain.Hash]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	req := takeReq{ids: make(map[chain.Hash]bool, len(ids)), reply: make(chan map[chain.Hash]bool, 1)}
	for _, id := range ids {
		req.ids[id] = true
	}
	select {
	case g.txTake <- req:
	case <-ctx.Done():
		return nil, fmt.Errorf("take txs: %w", ctx.Err())
	case <-g.stopped:
		return nil, fmt.Errorf("take txs: %w", errGossipClosed)
	}
	select {
	case taken := <-req.reply:
		return taken, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("take txs: %w", ctx.Err())
	case <-g.stopped:
		return nil, fmt.Errorf("take txs: %w", errGossipClosed)
	}
}

// checkTx judges a gossiped batch (protocol.md §16.9): the framing, then
// every transaction's fee before any is decoded, then every decoding
// before any is admitted; any fault there rejects the batch at once and
// admits nothing. The rest are offered to the mempool together (their
// signatures verified as one batch through the cache), and the batch's
// verdict comes from theirs (txBatchVerdict). A batch not forwarded
// still gets what this node admitted of it to the network: in the
// node's own next batch.
func (g *Gossip) checkTx(ctx context.Context, from peer.ID, data []byte) (pubsub.ValidationResult, error) {
	raws, err := protocol.SplitTxBatch(data)
	if err != nil {
		err = undecodable{err}
		return txVerdict(err), err
	}
	errs := make([]error, len(raws))
	for i, raw := range raws {
		if err := g.checkFee(raw); err != nil {
			err = fmt.Errorf("transaction %d: %w", i, err)
			if res := txVerdict(err); res == pubsub.ValidationReject {
				return res, err
			}
			errs[i] = err
		}
	}
	txs := make([]*chain.Transaction, 0, len(raws))
	at := make([]int, 0, len(raws))
	for i, raw := range raws {
		if errs[i] != nil {
			continue
		}
		tx, n, err := chain.DecodeTransaction(raw)
		if err == nil && n != len(raw) {
			err = fmt.Errorf("%w: %d bytes after the transaction", chain.ErrMalformed, len(raw)-n)
		}
		if err != nil {
			err = undecodable{fmt.Errorf("transaction %d: %w", i, err)}
			return txVerdict(err), err
		}
		txs = append(txs, tx)
		at = append(at, i)
	}
	// Before the mempool has judged them: a compact block arriving while
	// they wait for their admission, or after a full pool refused them,
	// is rebuilt without asking its sender for them.
	ids := chain.TxIDs(txs)
	g.recent.add(txs, ids)
	var admitted []*chain.Transaction
	for k, err := range g.chain.AddTxs(txs, ids) {
		if err != nil {
			errs[at[k]] = fmt.Errorf("transaction %d: %w", at[k], err)
		} else {
			admitted = append(admitted, txs[k])
		}
	}
	res, err := txBatchVerdict(errs)
	if len(admitted) > 0 {
		g.log.Info("txs received", "peer", from, "txs", len(raws), "admitted", len(admitted), "first", admitted[0].ID().Short())
	}
	if res != pubsub.ValidationAccept {
		g.relayAdmitted(admitted)
	}
	return res, err
}

// relayAdmitted queues for the node's next batch the transactions it
// admitted from a batch it does not forward. It never waits: it runs in
// a GossipSub validator, and a validator blocked on a full queue holds
// up the batches behind it. What does not fit is dropped and logged;
// the transactions stay in the mempool, and a block template still finds
// them.
func (g *Gossip) relayAdmitted(txs []*chain.Transaction) {
	for i, tx := range txs {
		select {
		case g.txOut <- tx:
		default:
			g.log.Warn("relay admitted txs: batch queue full", "dropped", len(txs)-i)
			return
		}
	}
}
