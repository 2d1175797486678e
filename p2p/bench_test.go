package p2p_test

// Benchmarks of the network layer against this machine's limits (see
// docs/benchmarks.md), each limit measured again in the same run:
//
//   - BenchmarkSync10k: a fresh node downloads 10,000 regtest blocks from
//     one peer over the sync protocol; BenchmarkRawStreamCopy moves the
//     same number of bytes over one bare libp2p stream between the same
//     kind of hosts. sync MB/s ÷ raw MB/s is the figure to report.
//   - BenchmarkGossipPropagation20: delivery latency of gossiped blocks
//     over 20 hosts with GossipSub's default parameters, after the mesh
//     formed, next to the same network carrying bare payloads of the same
//     size (no validator).
//
// Every host is the node's own (p2p.NewHost: TCP, Noise, yamux, the
// resource and connection managers) on 127.0.0.1 with mDNS off. libp2p's
// defaults would negotiate TLS, not Noise.
//
// They are slow (tens of seconds to minutes) and skip under -short; plain
// `go test` runs no benchmark.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// The sync fixture: 10,000 regtest blocks, each with a coinbase and
// syncTxsPerBlock signed transfers (about 1.1 KB a block).
const (
	syncBlocks      = 10_000
	syncTxsPerBlock = 4
	syncSenders     = 20   // coinbases rotate over them, so they stay funded
	syncRecipients  = 1000 // so the ledger grows as on a real chain
)

// benchBlocks is a chain built once per process and shared by the
// benchmarks that need it: only the blocks, in memory; each benchmark
// stores them where it wants.
type benchBlocks struct {
	blocks []*chain.Block // heights 1..n, in order
	bytes  int64          // their total canonical encoding
	txs    int            // signed transfers among them
}

var (
	syncFixtureOnce sync.Once
	syncFixture     *benchBlocks
	syncFixtureErr  error
)

// loadSyncFixture builds the 10,000-block chain on the first call.
func loadSyncFixture(b *testing.B) *benchBlocks {
	b.Helper()
	syncFixtureOnce.Do(func() {
		start := time.Now()
		syncFixture, syncFixtureErr = buildSyncChain(syncBlocks, syncTxsPerBlock)
		if syncFixtureErr == nil {
			b.Logf("fixture: %d blocks, %d transfers, %d bytes, built in %v",
				len(syncFixture.blocks), syncFixture.txs, syncFixture.bytes, time.Since(start).Round(time.Millisecond))
		}
	})
	if syncFixtureErr != nil {
		b.Fatal(syncFixtureErr)
	}
	return syncFixture
}

// txList is a chain.TxSource that offers a fixed list.
type txList []*chain.Transaction

func (l txList) Select(int, int) []*chain.Transaction { return l }

// buildSyncChain mines n regtest blocks on a scratch store. Block h pays
// its coinbase to sender h mod syncSenders and carries txsPerBlock
// transfers of 1 from the senders in turn (a sender not yet paid is
// skipped) to one of syncRecipients addresses.
func buildSyncChain(n, txsPerBlock int) (*benchBlocks, error) {
	dir, err := os.MkdirTemp("", "gossipchain-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := store.OpenDir(dir, store.WithNoSync(true))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	p := chain.RegTest()
	c, err := chain.New(p, st)
	if err != nil {
		return nil, err
	}
	senders := make([]*testwallet.Wallet, syncSenders)
	for i := range senders {
		senders[i] = testwallet.New(fmt.Sprintf("bench sender %d", i))
	}
	recipients := make([]string, syncRecipients)
	for i := range recipients {
		recipients[i] = testwallet.New(fmt.Sprintf("bench recipient %d", i)).Addr
	}
	balance := make([]uint64, syncSenders)
	nonce := make([]uint64, syncSenders)
	rng := rand.New(rand.NewPCG(1, 2))
	out := &benchBlocks{blocks: make([]*chain.Block, 0, n)}
	ctx := context.Background()
	for h := 1; h <= n; h++ {
		var txs txList
		for j := range txsPerBlock {
			i := (h*txsPerBlock + j) % syncSenders
			if balance[i] == 0 {
				continue
			}
			txs = append(txs, senders[i].Tx(p, recipients[rng.IntN(syncRecipients)], 1, 0, nonce[i]))
			balance[i]--
			nonce[i]++
		}
		cb := h % syncSenders
		blk, err := c.Mine(ctx, txs, senders[cb].Addr, 1, nil)
		if err != nil {
			return nil, fmt.Errorf("mine %d: %w", h, err)
		}
		if len(blk.Transactions) != 1+len(txs) {
			return nil, fmt.Errorf("block %d took %d of %d transfers", h, len(blk.Transactions)-1, len(txs))
		}
		if _, err := c.ProcessBlock(ctx, blk); err != nil {
			return nil, fmt.Errorf("process %d: %w", h, err)
		}
		balance[cb] += p.Reward
		out.blocks = append(out.blocks, blk)
		out.bytes += int64(blk.EncodedSize())
		out.txs += len(txs)
	}
	return out, nil
}

// openBenchChain opens a chain on a new store in dir, with or without the
// fsync at the end of every commit. close closes the store.
func openBenchChain(tb testing.TB, dir string, noSync bool) (c *testChain, closeStore func()) {
	tb.Helper()
	st, err := store.OpenDir(dir, store.WithNoSync(noSync))
	if err != nil {
		tb.Fatal(err)
	}
	ch, err := chain.New(chain.RegTest(), st)
	if err != nil {
		st.Close()
		tb.Fatal(err)
	}
	return &testChain{Chain: ch, mp: chain.NewMempool(ch.Params(), chain.WithMempoolSigCache(ch.SigCache()))}, func() { st.Close() }
}

// processAll hands blocks to c in batches of batch, as sync does.
func processAll(tb testing.TB, c *testChain, blocks []*chain.Block, batch int) {
	tb.Helper()
	for lo := 0; lo < len(blocks); lo += batch {
		hi := min(lo+batch, len(blocks))
		if n, err := c.ProcessBlocks(context.Background(), blocks[lo:hi]); err != nil || n != hi-lo {
			tb.Fatalf("block %d: processed %d of %d: %v", lo+n+1, n, hi-lo, err)
		}
	}
}

// newNodeHost starts the node's host (TCP, Noise, yamux) on loopback,
// without mDNS and without Start: nothing is dialled but what we dial.
func newNodeHost(tb testing.TB) *p2p.Host {
	tb.Helper()
	h, err := p2p.NewHost(context.Background(), p2p.HostConfig{
		Listen:    []string{"/ip4/127.0.0.1/tcp/0"},
		NetworkID: chain.RegTest().NetworkID(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// dial connects from to to.
func dial(tb testing.TB, from, to *p2p.Host) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := from.Dial(ctx, peer.AddrInfo{ID: to.ID(), Addrs: to.Addrs()}, p2p.SourceOutbound); err != nil {
		tb.Fatal(err)
	}
}

// waitTip waits, on c's tip-change channel ch (taken before the event
// that should move the tip), until c's tip is want, and returns when it
// saw it.
func waitTip(ctx context.Context, c *testChain, ch <-chan struct{}, want chain.Hash) (time.Time, error) {
	if c.Tip().Hash == want {
		return time.Now(), nil
	}
	for {
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("tip at height %d, want %s: %w", c.Tip().Height(), want.Short(), ctx.Err())
		}
		if c.Tip().Hash == want {
			return time.Now(), nil
		}
		ch = c.TipChanged()
		if c.Tip().Hash == want {
			return time.Now(), nil
		}
	}
}

// BenchmarkSync10k: a node with an empty store connects to a node 10,000
// blocks ahead and syncs to its tip, timed from the dial to the tip
// (net/…). Each iteration is a fresh node, host and store; the serving
// node is the same throughout. The store of the syncing node commits with
// fsync (store=fsync, as a node runs) or without (store=nosync).
//
// local/… is the chain's side alone for reference: the same blocks from
// memory into a fresh store, in sync's batches, no network.
func BenchmarkSync10k(b *testing.B) {
	if testing.Short() {
		b.Skip("slow: builds and syncs a 10,000-block chain")
	}
	fx := loadSyncFixture(b)
	want := fx.blocks[len(fx.blocks)-1].Hash()

	ac, closeA := openBenchChain(b, b.TempDir(), true)
	defer closeA()
	processAll(b, ac, fx.blocks, 1000)
	ah := newNodeHost(b)
	defer ah.Close()
	as := p2p.NewSyncer(context.Background(), ah.Host, ac, p2p.NewGater())
	defer as.Close()

	for _, noSync := range []bool{true, false} {
		b.Run("net/"+storeName(noSync), func(b *testing.B) {
			b.SetBytes(fx.bytes)
			for b.Loop() {
				b.StopTimer()
				bc, closeB := openBenchChain(b, b.TempDir(), noSync)
				bh := newNodeHost(b)
				bs := p2p.NewSyncer(context.Background(), bh.Host, bc, p2p.NewGater())
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				changed := bc.TipChanged()
				b.StartTimer()

				dial(b, bh, ah)
				_, err := waitTip(ctx, bc, changed, want)

				b.StopTimer()
				cancel()
				bs.Close()
				bh.Close()
				closeB()
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(len(fx.blocks))*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
	for _, noSync := range []bool{true, false} {
		b.Run("local/"+storeName(noSync), func(b *testing.B) {
			b.SetBytes(fx.bytes)
			for b.Loop() {
				b.StopTimer()
				bc, closeB := openBenchChain(b, b.TempDir(), noSync)
				b.StartTimer()
				processAll(b, bc, fx.blocks, 64) // p2p's blocksPerRequest
				b.StopTimer()
				closeB()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(fx.blocks))*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

func storeName(noSync bool) string {
	if noSync {
		return "store=nosync"
	}
	return "store=fsync"
}

// rawCopyProto is the benchmark's own stream protocol: the dialler sends
// bytes until it closes its side, the listener counts them and answers
// with the count.
const rawCopyProto = lpprotocol.ID("/gossipchain-bench/copy/1.0.0")

// BenchmarkRawStreamCopy is the limit for sync: one stream between two
// connected node hosts carries as many bytes as the 10,000-block chain's
// encoding, the reader discarding them and acknowledging the count at the
// end. Opening the stream is timed; the connection is made once.
func BenchmarkRawStreamCopy(b *testing.B) {
	if testing.Short() {
		b.Skip("slow: builds a 10,000-block chain for its size")
	}
	fx := loadSyncFixture(b)
	src, dst := newNodeHost(b), newNodeHost(b)
	defer src.Close()
	defer dst.Close()
	dst.SetStreamHandler(rawCopyProto, func(s network.Stream) {
		defer s.Close()
		buf := make([]byte, 64<<10)
		var n uint64
		for {
			k, err := s.Read(buf)
			n += uint64(k)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = s.Reset()
				return
			}
		}
		_, _ = s.Write(binary.BigEndian.AppendUint64(nil, n))
	})
	dial(b, src, dst)
	payload := make([]byte, fx.bytes)
	rand.NewChaCha8([32]byte{1}).Read(payload)

	b.SetBytes(fx.bytes)
	for b.Loop() {
		s, err := src.NewStream(context.Background(), dst.ID(), rawCopyProto)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(s, bytes.NewReader(payload)); err != nil {
			b.Fatal(err)
		}
		if err := s.CloseWrite(); err != nil {
			b.Fatal(err)
		}
		var ack [8]byte
		if _, err := io.ReadFull(s, ack[:]); err != nil {
			b.Fatal(err)
		}
		if got := binary.BigEndian.Uint64(ack[:]); got != uint64(fx.bytes) {
			b.Fatalf("reader got %d bytes, sent %d", got, fx.bytes)
		}
		s.Close()
	}
	if c := src.Network().ConnsToPeer(dst.ID()); len(c) > 0 {
		b.Logf("%d bytes per copy (the fixture's %d blocks) over %s, %s, %s", fx.bytes, len(fx.blocks),
			c[0].RemoteMultiaddr(), c[0].ConnState().Security, c[0].ConnState().StreamMultiplexer)
	}
}

// Gossip benchmark shape.
const (
	gossipNodes       = 20
	gossipDegree      = 6   // average connections per node
	gossipBlocksPerOp = 100 // published blocks per benchmark iteration
	gossipPause       = 10 * time.Millisecond
	gossipTimeout     = 30 * time.Second // for one block to reach every node
)

// lightTracer is meshTracer without the SHA-256 and map insert of every
// message, which would sit on the delivery path being measured: only the
// graft and prune events are kept.
type lightTracer struct{ *meshTracer }

func (lightTracer) ValidateMessage(*pubsub.Message)       {}
func (lightTracer) DuplicateMessage(*pubsub.Message)      {}
func (lightTracer) RejectMessage(*pubsub.Message, string) {}

// meshSize is the number of peers m's node has in its mesh for topic.
func meshSize(m *meshTracer, topic string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.grafts[topic])
}

// randomTopology returns the edges of a connected random graph on n
// nodes with about degree edges per node: a ring over a random
// permutation, then random extra edges.
func randomTopology(n, degree int, rng *rand.Rand) [][2]int {
	type edge = [2]int
	have := make(map[edge]bool)
	var edges []edge
	add := func(a, b int) {
		if a == b {
			return
		}
		e := edge{min(a, b), max(a, b)}
		if !have[e] {
			have[e] = true
			edges = append(edges, e)
		}
	}
	perm := rng.Perm(n)
	for i := range perm {
		add(perm[i], perm[(i+1)%n])
	}
	for len(edges) < n*degree/2 {
		add(rng.IntN(n), rng.IntN(n))
	}
	return edges
}

// gossipNet is gossipNodes hosts connected at random, each with a mesh
// tracer, and what each one subscribes on.
type gossipNet struct {
	hosts  []*p2p.Host
	tracer []*meshTracer
	degree []int
}

// newGossipNet starts the hosts; join attaches each host's GossipSub
// (with the tracer option it is given); then connect wires the topology
// and waits, for every node, until it has grafted min(Dlo, its peers)
// peers on topic.
func newGossipNet(b *testing.B) *gossipNet {
	b.Helper()
	n := &gossipNet{}
	for range gossipNodes {
		h := newNodeHost(b)
		b.Cleanup(func() { h.Close() })
		n.hosts = append(n.hosts, h)
		n.tracer = append(n.tracer, newMeshTracer())
	}
	return n
}

func (n *gossipNet) connect(b *testing.B, topic string) {
	b.Helper()
	n.degree = make([]int, len(n.hosts))
	for _, e := range randomTopology(len(n.hosts), gossipDegree, rand.New(rand.NewPCG(7, 11))) {
		dial(b, n.hosts[e[0]], n.hosts[e[1]])
		n.degree[e[0]]++
		n.degree[e[1]]++
	}
	dlo := pubsub.DefaultGossipSubParams().Dlo
	start := time.Now()
	testutil.Eventually(b, 60*time.Second, "every node grafts min(Dlo, its peers) peers", func() bool {
		for i, m := range n.tracer {
			if meshSize(m, topic) < min(dlo, n.degree[i]) {
				return false
			}
		}
		return true
	})
	b.Logf("mesh formed %v after connecting %d nodes", time.Since(start).Round(time.Millisecond), len(n.hosts))
}

// latencies collects delivery latencies and reports their percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	s := slices.Clone(l)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		return float64(s[max(0, min(i, len(s)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1.00), "p100-ms")
	b.ReportMetric(float64(len(s)), "deliveries")
}

// BenchmarkGossipPropagation20: 20 node hosts on loopback in a random
// connected topology of about six peers each, GossipSub with its default
// parameters (heartbeat 1 s), timed after every node's mesh formed. Each
// block is mined and processed by a publisher (rotating), then published;
// the latency of each of the 19 others is from the publish to its tip
// being the block, so it includes every hop's validation (signatures
// included) and store commit (NoSync). Blocks do not overlap: the next is
// mined once all 19 have the last, after a pause. The timer runs only
// from each publish to the last delivery.
//
// block=… carries blocks of about 1 KiB (4 transfers) and 100 KiB (454
// transfers); raw=… carries bare payloads of the same sizes through
// GossipSub with no validator: the limit, in the same run.
func BenchmarkGossipPropagation20(b *testing.B) {
	if testing.Short() {
		b.Skip("slow: 20 hosts and hundreds of gossiped blocks")
	}
	// The normal case: every node has the block's transactions from
	// their own gossip, so their signatures are in its cache.
	b.Run("block=1KiB", func(b *testing.B) { benchGossipBlocks(b, 4, true) })
	b.Run("block=100KiB", func(b *testing.B) { benchGossipBlocks(b, 454, true) })
	// Cold: transactions nobody has seen, every hop verifies them.
	b.Run("block=1KiB-cold", func(b *testing.B) { benchGossipBlocks(b, 4, false) })
	b.Run("block=100KiB-cold", func(b *testing.B) { benchGossipBlocks(b, 454, false) })
	b.Run("raw=1KiB", func(b *testing.B) { benchGossipRaw(b, 1<<10) })
	b.Run("raw=100KiB", func(b *testing.B) { benchGossipRaw(b, 100<<10) })
}

// benchGossipBlocks gossips blocks of a coinbase and txs transfers. txs
// senders are funded first; each block has every sender pay 1 to the
// next, so balances never run out. With warm, every node admits the
// block's transactions to its mempool before the block is published (off
// the clock), as their own gossip would have brought them.
func benchGossipBlocks(b *testing.B, txs int, warm bool) {
	p := chain.RegTest()
	funder, miner := testwallet.New("bench funder"), testwallet.New("bench miner")
	senders := make([]*testwallet.Wallet, txs)
	for i := range senders {
		senders[i] = testwallet.New(fmt.Sprintf("bench gossip sender %d", i))
	}
	prefix := fundingBlocks(b, funder, senders, 2)

	net := newGossipNet(b)
	chains := make([]*testChain, gossipNodes)
	gossips := make([]*p2p.Gossip, gossipNodes)
	for i, h := range net.hosts {
		c, closeC := openBenchChain(b, b.TempDir(), true)
		b.Cleanup(closeC)
		processAll(b, c, prefix, len(prefix))
		g, err := p2p.NewGossip(context.Background(), h.Host, c, nopSync{},
			p2p.WithPubSubOptions(pubsub.WithRawTracer(lightTracer{net.tracer[i]})))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { g.Close() })
		chains[i], gossips[i] = c, g
	}
	net.connect(b, protocol.BlockTopic(p.NetworkID()))

	var lat latencies
	var blockBytes int64
	published := 0
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		for range gossipBlocksPerOp {
			k := uint64(published) // every sender's nonce: one transfer per block
			pub := published % gossipNodes
			list := make(txList, txs)
			for i, s := range senders {
				list[i] = s.Tx(p, senders[(i+1)%txs].Addr, 1, 0, k)
			}
			blk, err := chains[pub].Mine(ctx, list, miner.Addr, 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			if len(blk.Transactions) != 1+txs {
				b.Fatalf("block took %d of %d transfers", len(blk.Transactions)-1, txs)
			}
			if warm {
				for _, c := range chains {
					for _, tx := range blk.Transactions[1:] {
						if err := c.AddTx(tx); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			if _, err := chains[pub].ProcessBlock(ctx, blk); err != nil {
				b.Fatal(err)
			}
			blockBytes += int64(blk.EncodedSize())
			want := blk.Hash()

			arrived := make([]time.Time, gossipNodes)
			errs := make([]error, gossipNodes)
			wctx, cancel := context.WithTimeout(ctx, gossipTimeout)
			var wg sync.WaitGroup
			for i, c := range chains {
				if i == pub {
					continue
				}
				ch := c.TipChanged()
				wg.Go(func() { arrived[i], errs[i] = waitTip(wctx, c, ch, want) })
			}

			b.StartTimer()
			start := time.Now()
			if err := gossips[pub].PublishBlock(ctx, blk); err != nil {
				b.Fatal(err)
			}
			wg.Wait()
			b.StopTimer()
			cancel()
			for i := range chains {
				if i == pub {
					continue
				}
				if errs[i] != nil {
					b.Fatalf("block %d from node %d never reached node %d: %v", published, pub, i, errs[i])
				}
				lat = append(lat, arrived[i].Sub(start))
			}
			published++
			time.Sleep(gossipPause)
		}
		b.StartTimer()
	}
	lat.report(b)
	b.ReportMetric(float64(blockBytes)/float64(published), "B/block")
}

// fundingBlocks builds, on a scratch chain, blocks that pay funder enough
// coinbases and then one block in which funder pays each sender amount.
func fundingBlocks(b *testing.B, funder *testwallet.Wallet, senders []*testwallet.Wallet, amount uint64) []*chain.Block {
	b.Helper()
	c, closeC := openBenchChain(b, b.TempDir(), true)
	defer closeC()
	p := c.Params()
	ctx := context.Background()
	var out []*chain.Block
	mine := func(txs txList) {
		blk, err := c.Mine(ctx, txs, funder.Addr, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(blk.Transactions) != 1+len(txs) {
			b.Fatalf("funding block took %d of %d transfers", len(blk.Transactions)-1, len(txs))
		}
		if _, err := c.Chain.ProcessBlock(ctx, blk); err != nil {
			b.Fatal(err)
		}
		out = append(out, blk)
	}
	need := uint64(len(senders)) * amount
	for range need/p.Reward + 1 {
		mine(nil)
	}
	txs := make(txList, len(senders))
	for i, s := range senders {
		txs[i] = funder.Tx(p, s.Addr, amount, 0, uint64(i))
	}
	mine(txs)
	return out
}

// benchGossipRaw gossips bare payloads of size bytes over plain GossipSub
// with its default parameters, the node's message policy (unsigned,
// content ids), flood publishing and the node's message size limit, no
// validator and no scoring: the limit for the block runs.
func benchGossipRaw(b *testing.B, size int) {
	const topicName = "/gossipchain-bench/raw/1"
	net := newGossipNet(b)
	type arrival struct {
		seq uint64
		at  time.Time
	}
	topics := make([]*pubsub.Topic, gossipNodes)
	arrivals := make([]chan arrival, gossipNodes)
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	b.Cleanup(func() { cancel(); readers.Wait() })
	for i, h := range net.hosts {
		// The node's own policy (unsigned, content ids), so raw and
		// block differ only in what the node's validators do.
		ps, err := pubsub.NewGossipSub(ctx, h.Host, append(unsignedGossip(),
			pubsub.WithFloodPublish(true),
			pubsub.WithMaxMessageSize(protocol.MaxGossipMessageSize),
			pubsub.WithRawTracer(lightTracer{net.tracer[i]}))...)
		if err != nil {
			b.Fatal(err)
		}
		t, err := ps.Join(topicName)
		if err != nil {
			b.Fatal(err)
		}
		sub, err := t.Subscribe()
		if err != nil {
			b.Fatal(err)
		}
		topics[i], arrivals[i] = t, make(chan arrival, 16)
		self := h.ID()
		readers.Go(func() {
			defer sub.Cancel()
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				at := time.Now()
				if m.ReceivedFrom == self {
					continue
				}
				arrivals[i] <- arrival{binary.BigEndian.Uint64(m.Data), at}
			}
		})
	}
	net.connect(b, topicName)

	payload := make([]byte, size)
	rand.NewChaCha8([32]byte{2}).Read(payload)
	var lat latencies
	seq := uint64(0)
	for b.Loop() {
		b.StopTimer()
		for range gossipBlocksPerOp {
			pub := int(seq % gossipNodes)
			msg := bytes.Clone(payload) // pubsub keeps it in its message cache
			binary.BigEndian.PutUint64(msg, seq)
			b.StartTimer()
			start := time.Now()
			if err := topics[pub].Publish(ctx, msg); err != nil {
				b.Fatal(err)
			}
			deadline := time.NewTimer(gossipTimeout)
			for i := range arrivals {
				if i == pub {
					continue
				}
				select {
				case a := <-arrivals[i]:
					if a.seq != seq {
						b.Fatalf("node %d got message %d, want %d", i, a.seq, seq)
					}
					lat = append(lat, a.at.Sub(start))
				case <-deadline.C:
					b.Fatalf("message %d from node %d never reached node %d", seq, pub, i)
				}
			}
			deadline.Stop()
			b.StopTimer()
			seq++
			time.Sleep(gossipPause)
		}
		b.StartTimer()
	}
	lat.report(b)
	b.ReportMetric(float64(size), "B/block")
}
