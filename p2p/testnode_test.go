package p2p_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// testChain is the node's side of p2p.Chain in miniature: a real chain on
// a real store, and a mempool kept in step with it.
type testChain struct {
	*chain.Chain
	mp *chain.Mempool
	mu sync.Mutex
	// early counts the gossiped blocks still committing after
	// ProcessBlock returned. closed, under earlyMu, refuses new ones
	// once the test ends, so that no Add races the cleanup's Wait: a
	// validator a test held, let go by a cleanup, would start one.
	early   sync.WaitGroup
	earlyMu sync.Mutex
	closed  bool
	// committedAt is when the last commit that joined a block to the
	// main chain ended (Unix ns), on the goroutine that committed it.
	committedAt atomic.Int64
}

func newTestChain(t testing.TB) *testChain {
	t.Helper()
	return newTestChainFor(t, chain.RegTest())
}

// newTestChainFor is newTestChain on network p, its mempool built with
// opts besides the shared signature cache.
func newTestChainFor(t testing.TB, p *chain.Params, opts ...chain.MempoolOption) *testChain {
	t.Helper()
	st, err := store.OpenDir(t.TempDir(), store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	return newTestChainOn(t, p, st, opts...)
}

// newTestChainOn is newTestChainFor on st (a test's wrapper of a real
// store), which it closes at the test's end.
func newTestChainOn(t testing.TB, p *chain.Params, st chain.Store, opts ...chain.MempoolOption) *testChain {
	t.Helper()
	c, err := chain.New(p, st)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	// The mempool shares the chain's signature cache, as the node's does.
	opts = append(opts, chain.WithMempoolSigCache(c.SigCache()))
	tc := &testChain{Chain: c, mp: chain.NewMempool(c.Params(), opts...)}
	t.Cleanup(func() { tc.close(); st.Close() })
	return tc
}

// close refuses blocks from now on and waits for those committing.
func (c *testChain) close() {
	c.earlyMu.Lock()
	c.closed = true
	c.earlyMu.Unlock()
	c.early.Wait()
}

// errTestChainClosed: a block that came after the test ended.
var errTestChainClosed = errors.New("test chain closed")

var _ p2p.Chain = (*testChain)(nil)

// ProcessBlock returns once b is validated, as the node's does (see
// p2p.ProcessEarly); the commit and the mempool update finish after.
func (c *testChain) ProcessBlock(ctx context.Context, b *chain.Block, d *chain.TxDigest) (p2p.BlockResult, error) {
	c.earlyMu.Lock()
	if c.closed {
		c.earlyMu.Unlock()
		return p2p.BlockResult{}, errTestChainClosed
	}
	c.early.Add(1)
	c.earlyMu.Unlock()
	return p2p.ProcessEarly(b.Hash(), func(validated func(*chain.Change)) (*chain.Change, error) {
		defer c.early.Done()
		return c.process(ctx, b, d, validated)
	})
}

// processNow processes b to the end, commit included: for a test's own
// blocks, which it builds on at once.
func (c *testChain) processNow(ctx context.Context, b *chain.Block) (p2p.BlockResult, error) {
	ch, err := c.process(ctx, b, nil, nil)
	return p2p.ResultOf(ch, b.Hash()), err
}

func (c *testChain) process(ctx context.Context, b *chain.Block, d *chain.TxDigest, validated func(*chain.Change)) (*chain.Change, error) {
	cb, err := c.CheckBlockDigest(b, d)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, err := c.ProcessCheckedValidated(ctx, cb, validated)
	if ch != nil && ch.Joined(b.Hash()) {
		c.committedAt.Store(time.Now().UnixNano())
	}
	if ch != nil {
		c.mp.ReorgChange(ch, c.Chain)
	}
	return ch, err
}

// ProcessBlocks checks and processes a batch, as the syncer does.
func (c *testChain) ProcessBlocks(ctx context.Context, bs []*chain.Block) (int, error) {
	return c.ProcessCheckedBlocks(ctx, c.CheckBlocks(bs))
}

func (c *testChain) ProcessCheckedBlocks(ctx context.Context, cb *chain.CheckedBlocks) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, n, err := c.Chain.ProcessCheckedBlocks(ctx, cb)
	if ch != nil {
		c.mp.ReorgChange(ch, c.Chain)
	}
	return n, err
}

func (c *testChain) Stored(h chain.Hash) bool { return c.Committed(h) }

func (c *testChain) Validated(h chain.Hash) bool {
	_, err := c.Meta(h)
	return err == nil
}

func (c *testChain) AddTx(tx *chain.Transaction) error { return c.mp.Add(tx, c.Chain) }

// AddTxs admits a gossiped batch as the node does: the signatures
// together through the chain's cache, then each admission.
func (c *testChain) AddTxs(txs []*chain.Transaction, ids []chain.Hash) []error {
	errs := c.CheckTxsSanity(txs, ids)
	for i, tx := range txs {
		if errs[i] == nil {
			errs[i] = c.mp.AddVerified(tx, c.Chain)
		}
	}
	return errs
}

func (c *testChain) RangeMempool(f func(chain.Hash, *chain.Transaction) bool) { c.mp.Range(f) }
func (c *testChain) DigestTxs(txs []*chain.Transaction, ids []chain.Hash) *chain.TxDigest {
	return c.mp.DigestTxs(txs, ids)
}

// mine mines one regtest block on the tip and processes it.
func (c *testChain) mine(t testing.TB, miner string) *chain.Block {
	t.Helper()
	b, err := c.Mine(context.Background(), c.mp, miner, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.processNow(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// wire is b as a peer gossips it on the block topic: a compact block,
// here with every transaction sent whole so that the receiver needs
// nothing from the sender (nonce 0, so the bytes are the same each time).
func wire(b *chain.Block) []byte {
	return protocol.NewCompactBlock(b, 0, func(int) bool { return true }).Encode()
}

// nopSync is a p2p.SyncTrigger for gossip tests that run without a
// syncer.
type nopSync struct{}

func (nopSync) Announce()           {}
func (nopSync) RequestSync(peer.ID) {}
func (nopSync) FetchBlock(context.Context, peer.ID, chain.Hash) (*chain.Block, error) {
	return nil, errors.New("no syncer")
}

// newHost starts a libp2p host on loopback TCP with libp2p's defaults.
func newHost(t testing.TB) host.Host {
	t.Helper()
	return newHostOn(t, "/ip4/127.0.0.1/tcp/0")
}

// newHostOn is newHost listening on listen only.
func newHostOn(t testing.TB, listen string) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings(listen))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// meshTracer records GossipSub graft events, so tests wait for the mesh
// to form instead of sleeping.
type meshTracer struct {
	p2p.NopRawTracer
	mu     sync.Mutex
	grafts map[string]map[peer.ID]bool
	seen   map[[32]byte]bool // SHA-256 of every message received from a peer
	// rejected holds why GossipSub dropped a message, by SHA-256.
	rejected map[[32]byte]string
	events   chan struct{}
	// received counts the messages each peer's RPCs carried, whether
	// validated or dropped unread (a graylisted peer's).
	received map[peer.ID]int
}

func newMeshTracer() *meshTracer {
	return &meshTracer{grafts: make(map[string]map[peer.ID]bool), seen: make(map[[32]byte]bool),
		rejected: make(map[[32]byte]string), events: make(chan struct{}, 1), received: make(map[peer.ID]int)}
}

func (m *meshTracer) RecvRPC(rpc *pubsub.RPC) {
	m.mu.Lock()
	m.received[rpc.From()] += len(rpc.GetPublish())
	m.mu.Unlock()
}

// receivedFrom is how many messages p's RPCs carried.
func (m *meshTracer) receivedFrom(p peer.ID) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.received[p]
}

func (m *meshTracer) saw(data []byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[sha256.Sum256(data)]
}

func (m *meshTracer) record(msg *pubsub.Message) {
	m.mu.Lock()
	m.seen[sha256.Sum256(msg.Data)] = true
	m.mu.Unlock()
}

func (m *meshTracer) ValidateMessage(msg *pubsub.Message)  { m.record(msg) }
func (m *meshTracer) DuplicateMessage(msg *pubsub.Message) { m.record(msg) }
func (m *meshTracer) RejectMessage(msg *pubsub.Message, reason string) {
	m.record(msg)
	m.mu.Lock()
	m.rejected[sha256.Sum256(msg.Data)] = reason
	m.mu.Unlock()
}

// rejectReason is why GossipSub dropped data, or "" if it did not.
func (m *meshTracer) rejectReason(data []byte) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rejected[sha256.Sum256(data)]
}

func (m *meshTracer) Graft(p peer.ID, topic string) {
	m.mu.Lock()
	if m.grafts[topic] == nil {
		m.grafts[topic] = make(map[peer.ID]bool)
	}
	m.grafts[topic][p] = true
	m.mu.Unlock()
	select {
	case m.events <- struct{}{}:
	default:
	}
}

func (m *meshTracer) Prune(p peer.ID, topic string) {
	m.mu.Lock()
	delete(m.grafts[topic], p)
	m.mu.Unlock()
}

func (m *meshTracer) inMesh(topic string, p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.grafts[topic][p]
}

// unsignedGossip is the node's message policy (no author, no signature;
// see NewGossip), for test peers that publish to a node: a message signed
// the GossipSub way is dropped before any validator sees it.
func unsignedGossip() []pubsub.Option {
	return []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pubsubpb.Message) string { s := sha256.Sum256(m.Data); return string(s[:]) }),
	}
}

// fastGossip makes the heartbeat fast so meshes form within a test's
// patience; the protocol is otherwise GossipSub's defaults.
func fastGossip() pubsub.Option {
	p := pubsub.DefaultGossipSubParams()
	p.HeartbeatInterval = 50 * time.Millisecond
	p.HeartbeatInitialDelay = 10 * time.Millisecond
	return pubsub.WithGossipSubParams(p)
}

// testLogger writes through t.Log, so a failing test shows its node's
// log, until the test's cleanups reach it: a goroutine that outlives the
// test must not log into it (testutil.Logger).
func testLogger(t testing.TB) *slog.Logger { return testutil.Logger(t) }

// MinFee makes the test chain a p2p.FeeFloor, as the node's adapter is.
func (c *testChain) MinFee(size int) uint64 { return c.mp.MinFee(size) }

// txMsg frames raws, each taken for a transaction's encoding, as one
// message of the tx topic (a batch).
func txMsg(raws ...[]byte) []byte {
	var b protocol.TxBatch
	for _, r := range raws {
		b.Add(r)
	}
	return b.Take()
}

// txsMsg is txs as one batch.
func txsMsg(txs ...*chain.Transaction) []byte {
	raws := make([][]byte, len(txs))
	for i, tx := range txs {
		raws[i] = tx.Encode()
	}
	return txMsg(raws...)
}
