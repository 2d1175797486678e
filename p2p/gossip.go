package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// errGossipClosed is the error of publishing after Close began.
var errGossipClosed = errors.New("gossip closed")

// Gossip runs GossipSub on the tx and block topics of one network. Its
// validators decide every message: a block is processed by the chain and a
// transaction offered to the mempool before either is forwarded, so
// nothing invalid travels on from this node and whoever sent it loses
// score. It owns its subscription goroutines: Close cancels and waits.
type Gossip struct {
	host  host.Host
	chain Chain
	log   *slog.Logger
	ps    *pubsub.PubSub
	// floor is the network's minimum relay fee (checkFee).
	floor chain.FeeRate

	txTopic, blockTopic *pubsub.Topic
	// Relays, not subscriptions: the validators do all there is to do
	// with a message, and a subscription would wake a reader for each
	// one to throw it away.
	txRelay, blockRelay pubsub.RelayCancelFunc

	sync SyncTrigger
	// bans is the syncer's ban store (nil beside no Syncer): gossip bans
	// through it (graylist.go) and drops banned peers' messages unread.
	bans       Bans
	fromBanned atomic.Uint64

	txStats, blockStats topicCounters
	compactStats        compactCounters
	// recent: the transactions of gossiped batches lately decoded, which
	// compact blocks are rebuilt from beside the mempool (recenttxs.go).
	recent *recentTxs
	peers  *peerStats
	seen   seenLog
	// inflight: the judged blocks (their parent was validated) in a
	// validator here, which a child may wait for (inflight.go), at most
	// parentWait.
	inflight   inFlight
	parentWait time.Duration
	// orphans: the hashes of the orphan blocks lately judged (at most
	// maxOrphansSeen). Another message of one (its own nonce) is ignored
	// unread: an orphan's header may cost only the network's easiest
	// target, and without this each message of it, however many, cost a
	// pass over the mempool and the recent transactions to rebuild it.
	orphans *lru.Cache[chain.Hash, struct{}]
	txnWait time.Duration // a request for missing transactions (blocktxn.go)
	// waits: the blocks waiting on their sender or on a parent, under
	// one bound (asks.go).
	waits waits

	// blockTxnProto is the blocktxn protocol id; limits is what each peer
	// may ask of its server (blocktxn.go).
	blockTxnProto lpprotocol.ID
	limits        *limitTable

	// txOut queues the transactions for the node's next batch
	// (txbatch.go); stopped is closed when Close begins.
	txOut   chan *chain.Transaction
	stopped <-chan struct{}
	// txTake asks the batcher for a block of ours' transactions it has
	// not published yet (PublishBlock, takeTxs).
	txTake chan takeReq

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// GossipOption configures Gossip.
type GossipOption func(*gossipConfig)

type gossipConfig struct {
	log     *slog.Logger
	psOpts  []pubsub.Option
	px      bool
	trusted map[peer.ID]bool
	// onScores, if set, is also handed GossipSub's scores at each
	// inspection, every scorePeriod.
	onScores    func(map[peer.ID]float64)
	scorePeriod time.Duration
	// txWindow is how long the node's own transactions wait for a
	// batch (txbatch.go).
	txWindow time.Duration
	// parentWait bounds a block's wait for its parent's validation.
	parentWait time.Duration
	// txnWait bounds a request for a block's missing transactions
	// (protocol.BlockTxnTimeout; tests of stalling senders lengthen it).
	txnWait time.Duration
}

// WithPeerExchange makes the node send peer exchange (PX) with the PRUNEs
// of its mesh: the pruned peer learns up to GossipSub's 16 others, each
// with its signed peer record, and may dial them. For bootstrap and DHT
// server nodes, which many peers dial and whose meshes overflow; it only
// tells of peers that are connected to it already.
func WithPeerExchange() GossipOption { return func(c *gossipConfig) { c.px = true } }

// WithTrustedPeers names peers (the operator's bootstrap peers) whose
// peer exchange is taken at once: they start with the score that
// GossipSub requires of a PX sender (acceptPXThreshold), where others
// must first earn it by delivering messages.
func WithTrustedPeers(ids []peer.ID) GossipOption {
	return func(c *gossipConfig) {
		c.trusted = make(map[peer.ID]bool, len(ids))
		for _, id := range ids {
			c.trusted[id] = true
		}
	}
}

// WithGossipLogger sets the logger.
func WithGossipLogger(l *slog.Logger) GossipOption { return func(c *gossipConfig) { c.log = l } }

// WithPubSubOptions adds GossipSub options, after ours (tests use it for a
// fast heartbeat and tracers).
func WithPubSubOptions(opts ...pubsub.Option) GossipOption {
	return func(c *gossipConfig) { c.psOpts = append(c.psOpts, opts...) }
}

// WithScoreObserver hands f every map of peer scores GossipSub reports,
// every period instead of scoreInspectPeriod: GossipSub takes one score
// inspector, which Gossip keeps for PeerGossip, so tests watch scores
// through this.
func WithScoreObserver(f func(map[peer.ID]float64), period time.Duration) GossipOption {
	return func(c *gossipConfig) { c.onScores, c.scorePeriod = f, period }
}

// SyncTrigger is what gossip needs of the syncer (*Syncer): a block can
// tell us more than it carries, and sync fetches the rest.
type SyncTrigger interface {
	// RequestSync asks from, which gossiped a block whose parent we lack,
	// for the missing branch.
	RequestSync(from peer.ID)
	// Announce tells every peer our status soon: a block brought others
	// along to the main chain (orphans that waited for it, or a branch it
	// made the heaviest), and gossip forwards only the block itself.
	// Their answers tell us in turn of any peer with more work, so it is
	// also how a compact block that could be neither rebuilt nor fetched
	// from its sender reaches us from another peer.
	Announce()
	// FetchBlock asks p for one block by hash with the sync protocol's
	// GetBlocks: a compact block that cannot be rebuilt is fetched whole.
	FetchBlock(ctx context.Context, p peer.ID, h chain.Hash) (*chain.Block, error)
}

// msgID names a message by the SHA-256 of its bytes, so the same block or
// transaction relayed by many peers is one message to the seen cache. The
// block hash alone would not do: a body swapped under a valid header
// would share it and could shadow the honest block.
func msgID(m *pubsubpb.Message) string { return MessageID(m.Data) }

// MessageID is the GossipSub message id of a message carrying data: the
// testnet's tracer names a node's own publications by it, which
// GossipSub's tracer reports only as they are sent.
func MessageID(data []byte) string {
	sum := sha256.Sum256(data)
	return string(sum[:])
}

// NewGossip joins the network's topics on h and starts reading them; sync
// is told of what gossiped blocks reveal (see SyncTrigger).
func NewGossip(ctx context.Context, h host.Host, c Chain, sync SyncTrigger, opts ...GossipOption) (*Gossip, error) {
	cfg := gossipConfig{log: slog.New(slog.DiscardHandler), scorePeriod: scoreInspectPeriod, txWindow: defaultTxBatchWindow,
		parentWait: parentWait, txnWait: protocol.BlockTxnTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	net := c.Params().NetworkID()
	txName, blockName := protocol.TxTopic(net), protocol.BlockTopic(net)
	psOpts := []pubsub.Option{
		// No author, sequence number or signature on a message, and any
		// that carries one is dropped: blocks carry their proof of work
		// and transactions their sender's signature, so GossipSub's own
		// ed25519 signature, made on publish and checked on every hop,
		// only cost CPU (about 40% of it on the open network's path).
		// Scoring judges the peer that forwarded a message, which
		// unsigned messages keep. Ethereum's consensus clients run
		// GossipSub the same way.
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(msgID),
		pubsub.WithMaxMessageSize(protocol.MaxGossipMessageSize),
		pubsub.WithPeerScore(scoreParams(cfg.trusted, txName, blockName), scoreThresholds()),
		// Our own blocks go to every peer on the topic, not only the mesh:
		// a block published before the mesh forms would otherwise be lost.
		pubsub.WithFloodPublish(true),
	}
	if cfg.px {
		// Records received are checked by GossipSub itself: each must be
		// a signed peer record (an envelope signed by the peer's key)
		// whose peer ID is the one announced; a bad one is dropped. At
		// most PrunePeers of a PRUNE's records are dialled.
		psOpts = append(psOpts, pubsub.WithPeerExchange(true))
	}
	g := &Gossip{host: h, chain: c, sync: sync, log: cfg.log, peers: newPeerStats(), floor: c.Params().RelayFeeFloor,
		blockTxnProto: lpprotocol.ID(protocol.BlockTxnProtocol(net)), limits: newLimitTable(),
		txOut: make(chan *chain.Transaction, txOutQueue), txTake: make(chan takeReq), recent: newRecentTxs(),
		parentWait: cfg.parentWait, txnWait: cfg.txnWait, orphans: newHashSet(maxOrphansSeen)}
	if s, ok := sync.(*Syncer); ok {
		g.bans = s.bans
	}
	inspect := g.peers.setScores
	if f := cfg.onScores; f != nil {
		inspect = func(m map[peer.ID]float64) { g.peers.setScores(m); f(m) }
	}
	psOpts = append(psOpts,
		pubsub.WithRawTracer(&peerTracer{topics: map[string]*topicCounters{
			txName: &g.txStats, blockName: &g.blockStats,
		}, peers: g.peers}),
		// After WithPeerScore, as GossipSub requires.
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(inspect), cfg.scorePeriod),
		pubsub.WithAppSpecificRpcInspector(g.inspectRPC))
	ps, err := pubsub.NewGossipSub(ctx, h, append(psOpts, cfg.psOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("start gossipsub: %w", err)
	}
	g.ps = ps
	ctx, g.cancel = context.WithCancel(ctx)
	g.stopped = ctx.Done()
	if err := g.join(txName, blockName); err != nil {
		g.cancel()
		return nil, err
	}
	h.SetStreamHandler(g.blockTxnProto, g.handleBlockTxn)
	g.wg.Add(1)
	go g.batchTxs(ctx, cfg.txWindow)
	return g, nil
}

func (g *Gossip) join(txName, blockName string) error {
	if err := g.ps.RegisterTopicValidator(txName, g.validator("tx", &g.txStats, g.checkTx),
		pubsub.WithValidatorTimeout(txValidateTimeout)); err != nil {
		return fmt.Errorf("tx validator: %w", err)
	}
	if err := g.ps.RegisterTopicValidator(blockName, g.validator("block", &g.blockStats, g.checkBlock),
		blockValidatorOpts()...); err != nil {
		return fmt.Errorf("block validator: %w", err)
	}
	var err error
	if g.txTopic, err = g.ps.Join(txName); err != nil {
		return fmt.Errorf("join %s: %w", txName, err)
	}
	if g.blockTopic, err = g.ps.Join(blockName); err != nil {
		return fmt.Errorf("join %s: %w", blockName, err)
	}
	if g.txRelay, err = g.txTopic.Relay(); err != nil {
		return fmt.Errorf("relay %s: %w", txName, err)
	}
	if g.blockRelay, err = g.blockTopic.Relay(); err != nil {
		return fmt.Errorf("relay %s: %w", blockName, err)
	}
	return nil
}

// blockValidatorOpts are the block topic's validator options: few block
// validators at once (see blockValidators), each within its timeout.
func blockValidatorOpts() []pubsub.ValidatorOpt {
	return []pubsub.ValidatorOpt{
		pubsub.WithValidatorTimeout(blockValidateTimeout),
		pubsub.WithValidatorConcurrency(blockValidators),
	}
}

// PubSub exposes the router, for peer scores and topic peers.
func (g *Gossip) PubSub() *pubsub.PubSub { return g.ps }

// PublishBlock sends a block this node has validated (its commit may
// still be under way: protocol.md §16.8), as a compact block
// (compact.go): peers that lack some of its transactions ask us for
// them, served from the store or from the write under way. The
// propagation view records a block published here (one this node mined)
// as first seen here.
//
// The node's own transactions still waiting for their batch (a block
// mined within the batch window takes them from the mempool) cannot be
// in any peer's mempool: the block's transactions among them leave the
// batch and go in the compact block whole, so that no peer waits a round
// trip to ask for them, and the block waits for no batch (protocol.md
// §16.6.4).
func (g *Gossip) PublishBlock(ctx context.Context, b *chain.Block) error {
	g.seen.add(seenOf(b, g.host.ID(), time.Now()))
	// Not the caller's ctx: a block already validated must be
	// published even if the client that mined it (POST /mine) has gone.
	ctx = context.WithoutCancel(ctx)
	// Hashed once, for the take and the short ids both.
	ids := chain.TxIDs(b.Transactions)
	unsent, err := g.takeTxs(ctx, ids[1:])
	if err != nil {
		return fmt.Errorf("publish block %d: %w", b.Header.Height, err)
	}
	if err := g.blockTopic.Publish(ctx, compactBlock(b, ids, unsent)); err != nil {
		return fmt.Errorf("publish block %d: %w", b.Header.Height, err)
	}
	g.blockStats.published.Add(1)
	return nil
}

// validator wraps one topic's check in what every topic does alike. Our
// own messages are accepted unchecked: they were validated before they
// were published. A panic in check is turned into an Ignore, then every
// verdict on a peer's message is counted, and a refusal logged with the
// error check returned as its reason (check returns a nil error for an
// outcome it has described itself).
func (g *Gossip) validator(topic string, stats *topicCounters,
	check func(ctx context.Context, from peer.ID, data []byte) (pubsub.ValidationResult, error)) pubsub.ValidatorEx {
	return func(ctx context.Context, from peer.ID, m *pubsub.Message) (res pubsub.ValidationResult) {
		if from == g.host.ID() {
			return pubsub.ValidationAccept
		}
		if topic == "tx" && g.dropBanned(from) {
			// Read before the ban: not judged, not counted as validated.
			// GossipSub marked its id seen before asking us, so honest
			// copies of it are dropped as duplicates for the seen cache's
			// time: a transaction this node then misses comes back with
			// its block (compact relay asks for it) or its rebroadcast. A
			// block is still judged: a banned peer sending it first must
			// not keep it from this node (blocks are few and work-gated).
			return pubsub.ValidationIgnore
		}
		if topic == "block" {
			// On a kept worker: see blockWorkers.
			done := make(chan pubsub.ValidationResult, 1)
			blockWorkers.run(func() { done <- g.judge(ctx, topic, stats, check, from, m.Data) })
			return <-done
		}
		return g.judge(ctx, topic, stats, check, from, m.Data)
	}
}

// judge runs check on a message and counts and logs its verdict; a panic
// in check is logged and ignores the message.
func (g *Gossip) judge(ctx context.Context, topic string, stats *topicCounters,
	check func(ctx context.Context, from peer.ID, data []byte) (pubsub.ValidationResult, error),
	from peer.ID, data []byte) (res pubsub.ValidationResult) {
	// Counted after recoverValidator has turned a panic into Ignore.
	defer func() { stats.verdict(res); g.judged(topic, from, res) }()
	defer g.recoverValidator(topic, from, &res)
	var err error
	res, err = check(ctx, from, data)
	if err != nil {
		g.logVerdict(topic, from, res, err)
	}
	return res
}

// checkBlock decodes a gossiped compact block, assembles its block
// (compact.go) and processes it; see blockVerdict. A block whose parent
// is still in a validator here waits for it first (inflight.go). It also
// tells the syncer what the block revealed: a tip that moved past the
// block itself, a parent we lack, or a block we could not get from its
// sender.
func (g *Gossip) checkBlock(ctx context.Context, from peer.ID, data []byte) (pubsub.ValidationResult, error) {
	arrived := time.Now()
	// Work before bytes (protocol.md §9.5): the header alone says whether
	// the block is sound and its branch can win, before the rest is
	// decoded, and before assembling it may cost requests to the sender.
	// A header that does not decode is left to DecodeCompactBlock, which
	// says why.
	if len(data) >= chain.HeaderSize {
		if hdr, err := chain.DecodeHeader(data[:chain.HeaderSize]); err == nil {
			if err := g.chain.PrecheckHeader(&hdr); err != nil {
				return blockVerdict(err, false), err
			}
		}
	}
	c, err := protocol.DecodeCompactBlock(data)
	if err != nil {
		err = undecodable{err}
		return blockVerdict(err, false), err
	}
	h := c.Header.Hash()
	if g.chain.Validated(h) {
		// Another publication of a block we have (its own nonce, so its
		// own message id): nothing to rebuild or ask for.
		return pubsub.ValidationIgnore, nil
	}
	parentOK := g.chain.Validated(c.Header.PrevHash)
	if !parentOK {
		// Its parent may be in a validator here still (inflight.go).
		waited, err := g.awaitParent(ctx, from, h, &c.Header)
		if err != nil {
			return blockVerdict(err, false), err
		}
		if waited {
			if g.chain.Validated(h) {
				// Connected meanwhile: another copy of it, taken for an
				// orphan, came in with its parent, or sync fetched it.
				return pubsub.ValidationIgnore, nil
			}
			// Judged again as a block that came now: in full if the
			// parent is validated (read first, so that a parent validated
			// after the check is not taken for judged), ErrKnownInvalid
			// if it failed, nothing for an orphan.
			parentOK = g.chain.Validated(c.Header.PrevHash)
			if err := g.chain.PrecheckHeader(&c.Header); err != nil {
				return blockVerdict(err, false), err
			}
		}
	}
	var elsewhere <-chan struct{}
	if parentOK {
		// Its children wait until any copy of it is validated, or the
		// last copy's validation ends (inflight.go).
		var end func(bool)
		end, elsewhere = g.inflight.begin(h, &c.Header)
		defer func() { end(g.chain.Validated(h)) }()
		if g.chain.Validated(h) {
			// Another copy ended validated between the check above and
			// begin: its flight, and the signal of elsewhere, were gone.
			return pubsub.ValidationIgnore, nil
		}
	}
	// An orphan's header cannot be judged (context, work), so it earns no
	// request: it is rebuilt from what this node holds, or else left to
	// sync, which asks the sender (it connected the block, so it has the
	// parents) for them and for this block. Once: its other messages are
	// not read, but their senders are asked too, since the first may not
	// answer (protocol.md 16.6.5 step 1).
	if !parentOK {
		if seen, _ := g.orphans.ContainsOrAdd(h, struct{}{}); seen {
			g.sync.RequestSync(from)
			return pubsub.ValidationIgnore, nil
		}
	}
	b, d, faithful, err := g.assemble(ctx, from, c, parentOK, elsewhere)
	if errors.Is(err, errElsewhere) {
		return pubsub.ValidationIgnore, nil
	}
	if errors.Is(err, errNotAsked) {
		g.log.Info("block received ahead of its parent", "peer", from, "height", c.Header.Height, "hash", h.Short())
		g.sync.RequestSync(from)
		return pubsub.ValidationIgnore, nil
	}
	if errors.Is(err, errAsksBusy) {
		g.log.Debug("block left to sync: as many blocks as allowed wait on their senders", "peer", from, "hash", h.Short())
		g.sync.RequestSync(from)
		return pubsub.ValidationIgnore, nil
	}
	if err != nil {
		if errors.As(err, new(errUnavailable)) {
			// Peers that connected it say so in their status, and the
			// syncer fetches it from them.
			g.sync.Announce()
		}
		return blockVerdict(err, false), err
	}
	r, err := g.chain.ProcessBlock(ctx, b, d)
	if r.Connected > 1 && r.Tip != nil {
		// Gossip forwards b, not the blocks it brought along: peers
		// learn of those from our status, and sync. The status carries
		// the committed tip, and ProcessBlock returns once b is
		// validated, its commit possibly under way (§16.8): announce
		// once the new tip is stored.
		tip := r.Tip.Hash
		go announceWhenStored(g.chain, g.sync, tip)
	}
	if err == nil && !faithful {
		err = errUnfaithful
	}
	res := blockVerdict(err, r.Joined)
	if !parentOK && res == pubsub.ValidationReject {
		// The message's own fault (a body its header does not commit
		// to): another message of the block may carry it right.
		g.orphans.Remove(h)
	}
	switch {
	case res == pubsub.ValidationAccept:
		g.seen.add(seenOf(b, from, arrived))
		g.log.Info("block received", "peer", from, "height", b.Header.Height, "hash", h.Short(), "txs", len(b.Transactions))
		return res, nil
	case err == nil:
		g.log.Debug("block stored on a side branch", "peer", from, "height", b.Header.Height, "hash", h.Short())
		return res, nil
	case errors.Is(err, chain.ErrUnknownParent):
		g.log.Info("block received ahead of its parent", "peer", from, "height", b.Header.Height, "hash", h.Short(),
			"missing", g.chain.OrphanRoot(h).Short())
		g.sync.RequestSync(from)
		return res, nil
	}
	return res, err
}

// recoverValidator turns a panic in a validator into an Ignore: a bug of
// ours must neither crash the node nor cost an innocent peer its score.
func (g *Gossip) recoverValidator(topic string, from peer.ID, res *pubsub.ValidationResult) {
	if r := recover(); r != nil {
		g.log.Error("gossip validator panicked", "topic", topic, "peer", from, "panic", r)
		*res = pubsub.ValidationIgnore
	}
}

func (g *Gossip) logVerdict(topic string, from peer.ID, res pubsub.ValidationResult, err error) {
	switch res {
	case pubsub.ValidationReject:
		g.log.Info("gossip rejected", "topic", topic, "peer", from, "reason", err)
	case pubsub.ValidationIgnore:
		g.log.Debug("gossip ignored", "topic", topic, "peer", from, "reason", err)
	}
}

// Close leaves the topics and stops the transaction batcher.
func (g *Gossip) Close() error {
	g.host.RemoveStreamHandler(g.blockTxnProto)
	g.cancel()
	g.txRelay()
	g.blockRelay()
	g.wg.Wait()
	return errors.Join(closeTopic(g.txTopic), closeTopic(g.blockTopic))
}

// closeTopic closes t. When the node is shutting down GossipSub may have
// stopped with its context first, and Topic.Close reports that context's
// end: nothing is left to close then, which is not a failure.
func closeTopic(t *pubsub.Topic) error {
	if err := t.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// announceWhenStored announces our status once tip is stored, waking at
// each change of the committed tip (a commit's end) rather than polling;
// past announceWait it gives up (a commit that long failed, or the tip
// moved on and the periodic refresh carries it).
func announceWhenStored(c Chain, sync SyncTrigger, tip chain.Hash) {
	timeout := time.NewTimer(announceWait)
	defer timeout.Stop()
	for {
		// Taken before the check, so a commit that ends in between
		// still wakes us.
		changed := c.TipChanged()
		if c.Stored(tip) {
			sync.Announce()
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			return
		}
	}
}
