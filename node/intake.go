package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/p2p"
)

// Origins of blocks and transactions, as events report them.
const (
	OriginMined  = "mined"
	OriginGossip = "gossip"
	OriginSync   = "sync"
	OriginAPI    = "api"
)

// ErrClosed is returned for a transaction offered to a node that is
// shutting down.
var ErrClosed = errors.New("node is shutting down")

// intake is where blocks and transactions enter the node, from the miner,
// gossip, sync, the API, the wallet and mempool.dat: it hands them to the
// chain and the mempool, keeps the mempool in step with the chain, and
// publishes an event for what entered.
//
// Concurrency: intake owns mu, which serialises every change of the chain
// with the mempool update that follows it, so the mempool sees tip changes
// in order; that is why every block and transaction goes through intake.
// For a single block that update follows the change as validated, and
// the block's store commit runs after mu is released
// (processCheckedLocked).
// A block takes mu behind at most one admission, the one already past
// lockTx's check (lockBlock, lockTx). Its methods are safe from any
// goroutine. Signatures are checked before mu is taken, so none waits
// behind a block being connected. A transaction's event and a change's
// take their places in the event stream under mu (Events.reserve,
// Events.hold) and are sent after, so the stream follows the order of
// the changes even though a block's events wait for its commit.
type intake struct {
	params  *chain.Params
	chain   *chain.Chain
	mempool *chain.Mempool
	events  *Events
	relay   *relay
	log     *slog.Logger

	mu      sync.Mutex
	closing bool // set by close under mu: admissions refuse from then on

	// A block waits for mu behind at most one admission, not behind
	// every admission queued before it: sync.Mutex serves long waiters
	// in order of arrival, and the 400 submitters of a loaded testnet
	// queued on it while each block held it, so the next block, which
	// its peers and the next miner wait for, used to wait for all of
	// them. Admissions take txTurn first, so one at a time contends for
	// mu, and while blocks counts a block waiting for mu or holding it,
	// that one waits for blockDone (closed as a block lets go of mu)
	// before it does, and then no longer. turn guards blocks and
	// blockDone.
	txTurn    sync.Mutex
	turn      sync.Mutex
	blocks    int
	blockDone chan struct{}

	// early counts the gossiped blocks still being committed after
	// gossip was told they are valid (processGossiped); the node waits
	// for them before closing the store. earlyMu orders its Add against
	// close, which sets refuse under it: not mu, which the block before
	// holds for its connect and mempool update (a sync batch for its
	// commit too), and a gossiped block's checks (signatures, sanity)
	// need not wait for those.
	early   sync.WaitGroup
	earlyMu sync.Mutex
	refuse  bool

	// testAdmitHook, when set (tests only), runs in each successful
	// single admission (admitAs) under mu before its event's place is
	// taken (underMu), and again after mu is released, before the event
	// is sent: where a block can come in between.
	testAdmitHook func(underMu bool)
}

// lockBlock takes mu for a change of the chain, behind at most the one
// admission already past lockTx's check.
func (in *intake) lockBlock() {
	in.turn.Lock()
	in.blocks++
	in.turn.Unlock()
	in.mu.Lock()
}

func (in *intake) unlockBlock() {
	in.turn.Lock()
	in.blocks--
	if in.blockDone != nil {
		close(in.blockDone)
		in.blockDone = nil
	}
	in.turn.Unlock()
	in.mu.Unlock()
}

// blockAtIntake reports whether a block waits for mu or holds it.
func (in *intake) blockAtIntake() bool {
	in.turn.Lock()
	defer in.turn.Unlock()
	return in.blocks > 0
}

// lockTx takes mu for one admission of a caller holding txTurn: at once
// if no block waits for it, else after one block has let go of it, in
// line with any block then waiting; waited says which. Blocks connected
// back to back (a sync) must not keep an admission out for their whole
// run.
func (in *intake) lockTx() (waited bool) {
	in.turn.Lock()
	if in.blocks == 0 {
		in.turn.Unlock()
		in.mu.Lock()
		return false
	}
	if in.blockDone == nil {
		in.blockDone = make(chan struct{})
	}
	wait := in.blockDone
	in.turn.Unlock()
	<-wait
	in.mu.Lock()
	return true
}

// processBlocks hands blocks to the chain, brings the mempool along and
// publishes what changed, from origin. A batch (sync) is published as
// its last connected block. validated, for a single block, is called as
// gossip's is (processCheckedLocked).
func (in *intake) processBlocks(ctx context.Context, bs []*chain.Block, batch bool, origin string,
	validated func(*chain.Change)) (*chain.Change, int, error) {
	return in.processLocked(ctx, bs, nil, batch, origin, validated)
}

// processGossiped is processBlocks for one gossiped block, returning as
// soon as the chain has validated it (p2p.ProcessEarly), so gossip
// forwards it while its store commit, the mempool update and the events
// finish on ProcessEarly's worker.
//
// The commit is counted in early under earlyMu, where close sets refuse:
// a validator still running when the node closes either counts before
// wait begins or is refused, never adds to early while wait waits.
func (in *intake) processGossiped(ctx context.Context, b *chain.Block, d *chain.TxDigest) (p2p.BlockResult, error) {
	in.earlyMu.Lock()
	if in.refuse {
		in.earlyMu.Unlock()
		return p2p.BlockResult{}, ErrClosed
	}
	in.early.Add(1)
	in.earlyMu.Unlock()
	return p2p.ProcessEarly(b.Hash(), func(validated func(*chain.Change)) (*chain.Change, error) {
		defer in.early.Done()
		ch, _, err := in.processLocked(ctx, []*chain.Block{b}, d, false, OriginGossip, validated)
		return ch, err
	})
}

// wait waits for the commits of gossiped blocks already forwarded.
func (in *intake) wait() { in.early.Wait() }

// changeEvents returns the events of a chain change (none for nil); a
// batch (sync) is published as its last connected block.
func changeEvents(ch *chain.Change, batch bool, origin string) []Event {
	if ch == nil {
		return nil
	}
	var evs []Event
	if ch.Reorg() {
		evs = append(evs, Event{Kind: EventReorg, Data: ReorgEventData{OldTip: ch.OldTip.Hash.String(), NewTip: ch.NewTip.Hash.String(),
			Height: ch.NewTip.Height(), Depth: len(ch.Disconnected)}})
	}
	connected := ch.Connected
	if batch && len(connected) > 1 {
		connected = connected[len(connected)-1:]
	}
	for _, b := range connected {
		evs = append(evs, Event{Kind: EventBlock, Data: blockEvent(b, origin, len(ch.Connected))})
	}
	return evs
}

func blockEvent(b *chain.Block, origin string, count int) BlockEventData {
	d := BlockEventData{Height: b.Header.Height, Hash: b.Hash().String(), Txs: len(b.Transactions), Origin: origin, Count: count}
	if len(b.Transactions) > 0 {
		d.Miner = b.Transactions[0].Recipient
	}
	return d
}

// processLocked checks bs before taking mu and processes them under it;
// d is the digest gossip computed of a single block's transactions
// (chain.Chain.CheckBlockDigest), or nil.
func (in *intake) processLocked(ctx context.Context, bs []*chain.Block, d *chain.TxDigest, batch bool, origin string,
	validated func(*chain.Change)) (*chain.Change, int, error) {
	var checked *chain.CheckedBlock
	var checkedBatch *chain.CheckedBlocks
	if batch {
		// A sync batch's signatures before mu too, so a batch being
		// checked does not hold up transactions.
		checkedBatch = in.chain.CheckBlocks(bs)
	} else {
		// The work gate and the signatures before mu, as for a
		// transaction: a gossiped block that cannot win waits for
		// nobody (gossip's header precheck refused it, or this one
		// does), and one being checked holds nobody up.
		var err error
		if checked, err = in.chain.CheckBlockDigest(bs[0], d); err != nil {
			return nil, 0, err
		}
	}
	return in.processCheckedLocked(ctx, checked, checkedBatch, origin, validated)
}

// processChecked is processBlocks for a sync batch whose context-free
// checks ran already (chain.Chain.CheckBlocks).
func (in *intake) processChecked(ctx context.Context, cb *chain.CheckedBlocks) (int, error) {
	_, k, err := in.processCheckedLocked(ctx, nil, cb, OriginSync, nil)
	return k, err
}

// processCheckedLocked processes one checked block, or a checked batch,
// under mu; validated is the single block's (see
// chain.Chain.ProcessCheckedValidated).
//
// A single block lets go of mu before its store commit: once the chain
// has validated it and connected it in memory (validated's moment), the
// mempool drops what it confirmed and admissions go on, on the state it
// leaves, which the chain's Account reads until the commit ends. With
// about a thousand transactions a block, the commit was four fifths of
// the time a block held mu, and every admission waited for it (HTTP
// requests stalled about 4 ms a block). If the commit then fails, the
// mempool has dropped transactions of a block that is not stored, and
// admissions meanwhile were judged on its state; but the chain has failed
// for good (chain.ErrStoreFailed): it takes no block after, the node
// stops, and Close does not save that mempool. A sync batch keeps mu to the end:
// it is its own catch-up, and admissions have nothing to gain from
// running between its commits.
//
// The change's events (from origin) are published once it returns, in
// the place in the stream it took with mu: the events of the admissions
// that went on during the commit wait for them (Events.hold).
func (in *intake) processCheckedLocked(ctx context.Context, checked *chain.CheckedBlock, batch *chain.CheckedBlocks,
	origin string, validated func(*chain.Change)) (ch *chain.Change, k int, err error) {
	in.lockBlock()
	// The place under mu, not before: an admission holding mu now
	// takes its place before it lets mu go, and comes first.
	place := in.events.hold()
	released := false
	defer func() {
		if !released {
			in.unlockBlock()
		}
		// On every path, a panic's too: a place never released would
		// stop the stream.
		in.events.release(place, changeEvents(ch, batch != nil, origin)...)
	}()
	if batch != nil {
		ch, k, err = in.chain.ProcessCheckedBlocks(ctx, batch)
		if ch != nil {
			in.mempoolFollow(ch)
		}
		return ch, k, err
	}
	ch, err = in.chain.ProcessCheckedValidated(ctx, checked, func(ch *chain.Change) {
		if validated != nil {
			validated(ch) // gossip forwards first: relay waits for nothing here
		}
		in.mempoolFollow(ch)
		released = true
		in.unlockBlock()
	})
	if !released && ch != nil {
		// The tip moved without validated: not for a single block
		// today, but the mempool must follow any change under mu.
		in.mempoolFollow(ch)
	}
	if err != nil {
		return ch, 0, err
	}
	return ch, 1, nil
}

// mempoolFollow brings the mempool along a chain change. mu is held.
func (in *intake) mempoolFollow(ch *chain.Change) {
	in.mempool.ReorgChange(ch, in.chain)
	if ch.Reorg() {
		in.log.Info("reorg", "old_tip", ch.OldTip.Hash.Short(), "new_tip", ch.NewTip.Hash.Short(),
			"height", ch.NewTip.Height(), "depth", len(ch.Disconnected))
	}
}

// restoreTx offers tx, which this node first admitted at admitted
// (mempool.dat), to the mempool, keeping that time for expiry; own says
// the node's client had submitted it, so it is kept as the node's own
// again (chain.Mempool.AddLocalSince). The signature is checked before
// taking mu, so admissions verify in parallel and never wait behind a
// block being connected just to check a signature.
func (in *intake) restoreTx(tx *chain.Transaction, admitted time.Time, own bool) error {
	return in.admitAs(context.Background(), tx, tx.ID(), OriginRestored, admitted, own)
}

// admit offers tx to the mempool, as the node's own when it comes from
// the API; ctx bounds the wait for the signature check
// (chain.Chain.CheckTxSanityContext), which concurrent admissions share
// in batches.
func (in *intake) admit(ctx context.Context, tx *chain.Transaction, origin string, admitted time.Time) error {
	return in.admitAs(ctx, tx, tx.ID(), origin, admitted, origin == OriginAPI)
}

// admitAs is admit; id is tx.ID(), hashed once for the signature cache,
// the mempool, the event and the relay; local says the transaction is
// the node's own (chain.Mempool.AddLocal).
func (in *intake) admitAs(ctx context.Context, tx *chain.Transaction, id chain.Hash, origin string, admitted time.Time, local bool) error {
	// What reads only the transaction first (a coinbase, one the pool
	// holds, the fee, a restored one past the TTL: protocol.md 11.1 steps
	// 1 to 3), so a flood of transactions this node would refuse anyway
	// (zero fees on a signed network, fees no block can carry, the same
	// transaction again) costs no signature check.
	if err := in.mempool.Precheck(tx, id, admitted, local); err != nil {
		return err
	}
	if err := in.chain.CheckTxSanityIDContext(ctx, tx, id); err != nil {
		return err
	}
	in.txTurn.Lock()
	in.lockTx()
	err := ErrClosed
	if !in.closing {
		// A local transaction is kept: this node's own client trusts it
		// to, so a full pool refuses newcomers rather than evict it
		// (AddLocal).
		err = in.mempool.AddIDSince(tx, id, in.chain, admitted, local)
	}
	var place eventHold
	if err == nil {
		if in.testAdmitHook != nil {
			in.testAdmitHook(true)
		}
		// Its place in the event stream under mu, so that a block that
		// took it is never announced first; sent after.
		place = in.events.reserve()
	}
	in.mu.Unlock()
	in.txTurn.Unlock()
	if err == nil && in.testAdmitHook != nil {
		in.testAdmitHook(false)
	}
	in.txEvent(place, tx, id, origin)
	return err
}

// txEvent publishes tx's event in place (from Events.reserve; nothing
// when nobody subscribed).
func (in *intake) txEvent(place eventHold, tx *chain.Transaction, id chain.Hash, origin string) {
	if place.q == nil {
		return
	}
	in.events.release(place, Event{Kind: EventTx, Data: TxEventData{ID: id.String(), Sender: tx.Sender,
		Recipient: tx.Recipient, Amount: tx.Amount, Fee: tx.Fee, Origin: origin}})
}

// addTxs is admit for the transactions of a gossiped batch (protocol.md
// §16.9), in order: the fees and every rule but the signatures first,
// then the signatures of all that passed verified together through the
// cache (chain.Chain.CheckTxsSanity), all before mu; then the
// admissions in order, each under mu, so that a block waiting for intake
// connects between two of them rather than after the whole batch (one
// block at most: lockTx once); txTurn keeps other admissions out
// meanwhile. That is safe: each admission reads the tip and changes the
// pool under mu, as a single transaction's does, so those after the
// block are judged on the new tip, like transactions that arrived after
// it. errs[i] is what admit would have returned for transaction i, whose
// id is txIDs[i].
func (in *intake) addTxs(txs []*chain.Transaction, txIDs []chain.Hash, origin string) []error {
	errs := make([]error, len(txs))
	check := make([]*chain.Transaction, 0, len(txs))
	ids := make([]chain.Hash, 0, len(txs))
	at := make([]int, 0, len(txs))
	stop := len(txs)
	// What the batch's transactions checked so far may do for each
	// address: pay it, and how many each sender signed (Mempool.Hopeless).
	// Their spends are not counted: one may never become pending (queued,
	// refused), and the check must stay weaker than admission's.
	credits := make(map[string]int64)
	signed := make(map[string]int)
	// With a block at intake, the ledger read may be about to change
	// (it may fund the batch's senders): only what no block undoes is
	// judged before the signatures then.
	settled := !in.blockAtIntake()
	for i, tx := range txs {
		id := txIDs[i]
		// What reads only the transaction (a coinbase, one the pool
		// holds already, whose signature is not verified again even if
		// the cache has let go of it, the fee), then what cannot enter
		// the pool now: refused before its signature costs a
		// verification.
		if errs[i] = in.mempool.Precheck(tx, id, time.Time{}, false); errs[i] == nil {
			errs[i] = in.mempool.Hopeless(tx, in.chain, credits[tx.Sender], signed[tx.Sender], settled)
		}
		if errs[i] == nil {
			check = append(check, tx)
			ids = append(ids, id)
			at = append(at, i)
			if tx.Amount <= chain.MaxAmount { // else its shape fails
				credits[tx.Recipient] += int64(tx.Amount)
			}
			signed[tx.Sender]++
		}
		if tx.IsCoinbase() || errors.Is(errs[i], chain.ErrFeeUnminable) || errors.Is(errs[i], chain.ErrFeeBelowFloor) {
			// Never valid on this network, so the batch is rejected
			// (as gossip's verdict holds these fee errors against the
			// sender): as with a bad shape or signature
			// (CheckTxsSanity), nothing after it is worth a
			// verification.
			stop = i
			break
		}
	}
	for k, err := range in.chain.CheckTxsSanity(check, ids) {
		errs[at[k]] = err
	}
	for i := stop + 1; i < len(txs); i++ {
		errs[i] = chain.ErrUnchecked
	}
	// A batch steps aside for one block at most: behind a run of blocks
	// it would otherwise hold txTurn, and keep every other admission
	// out, for the whole run.
	in.txTurn.Lock()
	defer in.txTurn.Unlock()
	yielded := false
	for k, i := range at {
		if errs[i] != nil {
			continue
		}
		if yielded {
			in.mu.Lock()
		} else {
			yielded = in.lockTx()
		}
		if in.closing {
			errs[i] = ErrClosed
		} else {
			errs[i] = in.mempool.AddIDSince(check[k], ids[k], in.chain, time.Time{}, false)
		}
		var place eventHold
		if errs[i] == nil {
			// Its place under mu, not after the batch: a block
			// connected between two admissions must not be announced
			// before a transaction it took.
			place = in.events.reserve()
		}
		in.mu.Unlock()
		in.txEvent(place, txs[i], ids[k], origin)
	}
	return errs
}

// submit offers a transaction submitted to this node to the mempool and,
// if accepted, has the relay publish it.
//
// A transaction ahead of its sender's next nonce is held by the mempool
// (chain.ErrTxQueued is returned): it is not gossiped now, since peers
// would drop it for the same gap, but the relay remembers it as the
// node's own, so the first rebroadcast after its earlier nonces arrive
// sends it.
func (in *intake) submit(ctx context.Context, tx *chain.Transaction) error {
	id := tx.ID()
	if err := in.admitAs(ctx, tx, id, OriginAPI, time.Time{}, true); err != nil {
		if errors.Is(err, chain.ErrTxQueued) {
			in.relay.hold(id)
		}
		return err
	}
	in.relay.publishTx(ctx, tx, id)
	return nil
}

// nextNonce returns the nonce of addr's next transaction: its account's
// nonce after its pending transactions. Both are read under mu, so no
// block connects between the two reads.
func (in *intake) nextNonce(addr string) (uint64, error) {
	in.txTurn.Lock()
	defer in.txTurn.Unlock()
	in.lockTx()
	defer in.mu.Unlock()
	if in.closing {
		return 0, ErrClosed
	}
	acct, err := in.chain.Account(addr)
	if err != nil {
		return 0, err
	}
	return acct.Nonce + uint64(len(in.mempool.Pending(addr))), nil
}

// close makes intake refuse transactions from now on, so none is
// accepted and then lost when the node writes mempool.dat.
func (in *intake) close() {
	in.lockBlock()
	in.closing = true
	in.unlockBlock()
	in.earlyMu.Lock()
	in.refuse = true
	in.earlyMu.Unlock()
}
