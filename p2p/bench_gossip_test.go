package p2p_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// Gossip benchmark shape.
//
// A p99 over one run's deliveries is decided by its few slowest blocks:
// a block's 19 deliveries share its fate (a commit, a flush or a
// collection running beside it slows them all), so 100 blocks' 1,900
// deliveries put about one block's worth above their p99: the p99 of
// one run's rounds of 100 blocks moved by 1.5 – 4× within the run. The
// warm and raw cases therefore publish 200 blocks a run, at the same
// spacing, and report the p99 of each round of 100 too
// (p99-round-min-ms, p99-round-max-ms: the figure as 100 blocks gave
// it), so a run shows its own spread. The cold cases, where every hop
// verifies every signature, stay at 100 blocks to keep a 1x run short:
// the six cases took 91 s on a quiet machine, about three minutes at
// load average 5 – 10 (docs/benchmarks.md, "Block relay: a p99 over
// more blocks").
const (
	gossipNodes       = 20
	gossipDegree      = 6   // average connections per node
	gossipBlocksPerOp = 200 // published blocks per benchmark iteration
	gossipColdBlocks  = 100 // the same for the cold cases
	gossipRound       = 100 // blocks per round of the per-round p99
	gossipPause       = 10 * time.Millisecond
	gossipTimeout     = 30 * time.Second // for one block to reach every node
)

// lightTracer is meshTracer without the SHA-256 and map insert of every
// message, which would sit on the delivery path being measured: only the
// graft and prune events are kept.
// It also sums the payload bytes of every message its node sends, for the
// bytes each block costs on the wire, and times when its node first
// received the message being measured and when GossipSub delivered it
// (stages, bench_hops_test.go).
type lightTracer struct {
	*meshTracer
	sent   *atomic.Int64
	stages *hopStages
}

// DeliverMessage is called once the node's validator accepted a message,
// just before GossipSub forwards it to the mesh (pubsub's
// publishMessage): the moment a block is relayed, its commit possibly
// still under way.
func (l lightTracer) DeliverMessage(m *pubsub.Message) {
	if l.stages.measured(m.GetData()) {
		markFirst(&l.stages.deliver)
	}
}

func (lightTracer) ValidateMessage(*pubsub.Message)       {}
func (lightTracer) DuplicateMessage(*pubsub.Message)      {}
func (lightTracer) RejectMessage(*pubsub.Message, string) {}
func (l lightTracer) SendRPC(rpc *pubsub.RPC, _ peer.ID) {
	for _, m := range rpc.GetPublish() {
		l.sent.Add(int64(len(m.GetData())))
	}
}

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
	// sent is the payload bytes of every gossip message any node sent.
	sent atomic.Int64
	// stages is, for each node, when it received and when GossipSub
	// delivered the message being measured (lightTracer), the one whose
	// data begins with want.
	stages []hopStages
	want   atomic.Pointer[[]byte]
}

// newGossipNet starts the hosts; join attaches each host's GossipSub
// (with the tracer option it is given); then connect wires the topology
// and waits, for every node, until it has grafted min(Dlo, its peers)
// peers on topic.
func newGossipNet(b *testing.B) *gossipNet {
	b.Helper()
	n := &gossipNet{stages: make([]hopStages, gossipNodes)}
	for i := range n.stages {
		n.stages[i].want = &n.want
	}
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

func (l latencies) report(b *testing.B) { l.reportAs(b, "") }

// reportAs reports the percentiles with prefix before each unit.
func (l latencies) reportAs(b *testing.B, prefix string) {
	if len(l) == 0 {
		return
	}
	s := l.sorted()
	b.ReportMetric(s.quantile(0.50), prefix+"p50-ms")
	b.ReportMetric(s.quantile(0.99), prefix+"p99-ms")
	b.ReportMetric(s.quantile(1.00), prefix+"p100-ms")
	if prefix == "" {
		b.ReportMetric(float64(len(s)), "deliveries")
	}
}

// sorted returns a sorted copy of l, for quantile.
func (l latencies) sorted() latencies {
	s := slices.Clone(l)
	slices.Sort(s)
	return s
}

// quantile is the q-quantile of s, sorted and not empty, in milliseconds:
// the nearest rank.
func (s latencies) quantile(q float64) float64 {
	i := int(q*float64(len(s))+0.5) - 1
	return float64(s[max(0, min(i, len(s)-1))]) / float64(time.Millisecond)
}

// reportRounds reports the lowest and highest p99 of the rounds of
// perRound deliveries in l (in order of publishing): what one run of
// that many deliveries would have reported, and how far it moves
// within a run. Fewer than two whole rounds report nothing.
func (l latencies) reportRounds(b *testing.B, perRound int) {
	if perRound <= 0 || len(l) < 2*perRound {
		return
	}
	lo, hi := math.Inf(1), 0.0
	for i := 0; i+perRound <= len(l); i += perRound {
		p := l[i : i+perRound].sorted().quantile(0.99)
		lo, hi = min(lo, p), max(hi, p)
	}
	b.ReportMetric(lo, "p99-round-min-ms")
	b.ReportMetric(hi, "p99-round-max-ms")
}

// BenchmarkGossipPropagation20: 20 node hosts on loopback in a random
// connected topology of about six peers each, GossipSub with its default
// parameters (heartbeat 1 s), timed after every node's mesh formed. Each
// block is mined and processed by a publisher (rotating), then published;
// the latency of each of the 19 others is from the publish to its tip
// being the block, so it includes every hop's validation (signatures
// included) and the node's own store commit (NoSync): p50-ms, p99-ms.
// fwd-p50-ms and fwd-p99-ms are from the publish to the node's validator
// accepting the block and GossipSub forwarding it (protocol.md §16.8:
// before the commit), the relay's own latency and the point at which the
// raw runs' subscribers are handed their message. Blocks do not overlap:
// the next is mined once all 19 have the last, after a pause. The timer
// runs only from each publish to the last delivery; cpu-ms/block is the
// process's CPU time within it (all 20 nodes: validations, commits,
// GossipSub and the transport), against which the 20 nodes sharing the
// machine's cores set a floor on the last node's latency.
// p99-round-min-ms and p99-round-max-ms are the lowest and highest p99
// of the run's rounds of 100 blocks (see gossipBlocksPerOp: why 200
// blocks, and how much the p99 of 100 moves). recv-, hop- and
// commit-lag-p50-ms and -p90-ms split each delivery into the time until
// the node first received the message, the node's own time until it
// forwarded it, and how long its commit ended after that (hopLatencies).
//
// block=… carries blocks of about 1 KiB (4 transfers) and 100 KiB (454
// transfers); raw=… carries bare payloads of the same sizes through
// GossipSub with no validator: the limit, in the same run. raw=…-validated
// adds a validator that accepts at once: of a block's time over the
// limit, the part GossipSub's validation path takes.
func BenchmarkGossipPropagation20(b *testing.B) {
	if testing.Short() {
		b.Skip("slow: 20 hosts and hundreds of gossiped blocks")
	}
	// The normal case: every node has the block's transactions from
	// their own gossip, so their signatures are in its cache.
	b.Run("block=1KiB", func(b *testing.B) { benchGossipBlocks(b, 4, true, gossipBlocksPerOp) })
	b.Run("block=100KiB", func(b *testing.B) { benchGossipBlocks(b, 454, true, gossipBlocksPerOp) })
	// Cold: transactions nobody has seen, every hop verifies them.
	b.Run("block=1KiB-cold", func(b *testing.B) { benchGossipBlocks(b, 4, false, gossipColdBlocks) })
	b.Run("block=100KiB-cold", func(b *testing.B) { benchGossipBlocks(b, 454, false, gossipColdBlocks) })
	b.Run("raw=1KiB", func(b *testing.B) { benchGossipRaw(b, 1<<10, false) })
	b.Run("raw=100KiB", func(b *testing.B) { benchGossipRaw(b, 100<<10, false) })
	// The same with a validator that accepts at once: GossipSub's
	// validation path alone, which every validated topic pays.
	b.Run("raw=1KiB-validated", func(b *testing.B) { benchGossipRaw(b, 1<<10, true) })
	b.Run("raw=100KiB-validated", func(b *testing.B) { benchGossipRaw(b, 100<<10, true) })
}

// benchGossipBlocks gossips blocks blocks of a coinbase and txs
// transfers. txs senders are funded first; each block has every sender
// pay 1 to the next, so balances never run out. With warm, every node
// admits the block's transactions to its mempool before the block is
// published (off the clock), as their own gossip would have brought
// them: in one batch, its signatures verified together (AddTxs), as the
// node admits a gossiped batch.
func benchGossipBlocks(b *testing.B, txs int, warm bool, blocks int) {
	p := chain.RegTest()
	miner, senders, prefix := benchSenders(b, txs)

	net := newGossipNet(b)
	chains := make([]*testChain, gossipNodes)
	gossips := make([]*p2p.Gossip, gossipNodes)
	for i, h := range net.hosts {
		c, closeC := openBenchChain(b, b.TempDir(), true)
		b.Cleanup(closeC)
		processAll(b, c, prefix, len(prefix))
		g, err := p2p.NewGossip(context.Background(), h.Host, c, nopSync{},
			p2p.WithPubSubOptions(pubsub.WithRawTracer(lightTracer{net.tracer[i], &net.sent, &net.stages[i]})))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { g.Close() })
		chains[i], gossips[i] = c, g
	}
	net.connect(b, protocol.BlockTopic(p.NetworkID()))

	var lat, fwd latencies
	var hops hopLatencies
	var cpu time.Duration
	var blockBytes int64
	published := 0
	net.sent.Store(0) // the mesh's forming is not the blocks' cost
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		for range blocks {
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
				batch := blk.Transactions[1:]
				ids := chain.TxIDs(batch)
				for _, c := range chains {
					for i, err := range c.AddTxs(batch, ids) {
						if err != nil {
							b.Fatalf("transfer %d: %v", i, err)
						}
					}
				}
			}
			if _, err := chains[pub].processNow(ctx, blk); err != nil {
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

			hdr := blk.Header.Encode() // a compact block's data begins with it
			net.measure(hdr[:])
			for _, c := range chains {
				c.committedAt.Store(0)
			}
			b.StartTimer()
			cpu0 := testutil.ProcessCPU()
			start := time.Now()
			if err := gossips[pub].PublishBlock(ctx, blk); err != nil {
				b.Fatal(err)
			}
			wg.Wait()
			cpu += testutil.ProcessCPU() - cpu0
			b.StopTimer()
			cancel()
			// The tip moves before the commit's caller notes when it
			// ended, and GossipSub may deliver after the commit: wait
			// for both, off the clock, so no sample is dropped or read
			// from the block before.
			for i, c := range chains {
				if i == pub {
					continue
				}
				c.early.Wait()
				testutil.Eventually(b, gossipTimeout, "GossipSub delivers the block", func() bool {
					return net.stages[i].deliver.Load() != 0
				})
			}
			for i := range chains {
				if i == pub {
					continue
				}
				if errs[i] != nil {
					b.Fatalf("block %d from node %d never reached node %d: %v", published, pub, i, errs[i])
				}
				lat = append(lat, arrived[i].Sub(start))
				fwd = append(fwd, time.Unix(0, net.stages[i].deliver.Load()).Sub(start)) // waited for above
				hops.add(&net.stages[i], start, chains[i].committedAt.Load())
			}
			published++
			time.Sleep(gossipPause)
		}
		b.StartTimer()
	}
	lat.report(b)
	lat.reportRounds(b, gossipRound*(gossipNodes-1))
	fwd.reportAs(b, "fwd-")
	hops.report(b)
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(published), "cpu-ms/block")
	b.ReportMetric(float64(blockBytes)/float64(published), "B/block")
	reportWire(b, net, published)
	var asked uint64
	for _, g := range gossips {
		asked += g.Stats().Compact.TxsRequested
	}
	b.ReportMetric(float64(asked)/float64(published*(gossipNodes-1)), "txs-asked/block/node")
}

// reportWire reports the gossip payload bytes sent per block and node
// (each node sends a block to every mesh peer that has not sent it to
// it first, so this is several times the message).
func reportWire(b *testing.B, net *gossipNet, published int) {
	b.ReportMetric(float64(net.sent.Load())/float64(published*gossipNodes), "wire-B/block/node")
}

// benchSenders returns a miner, txs funded senders and the blocks that
// fund them, for benchmarks of blocks in which each sender pays the next.
func benchSenders(b *testing.B, txs int) (miner *testwallet.Wallet, senders []*testwallet.Wallet, prefix []*chain.Block) {
	funder := testwallet.New("bench funder")
	senders = make([]*testwallet.Wallet, txs)
	for i := range senders {
		senders[i] = testwallet.New(fmt.Sprintf("bench gossip sender %d", i))
	}
	return testwallet.New("bench miner"), senders, fundingBlocks(b, funder, senders, 2)
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
// validator and no scoring: the limit for the block runs. With validated,
// each node runs a validator that accepts every message at once, with
// the block topic's validator options: what GossipSub's own validation
// path (its queue, worker and validator goroutines, the throttle, the
// timeout's context) adds to a hop, before any work of the node's.
func benchGossipRaw(b *testing.B, size int, validated bool) {
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
			pubsub.WithRawTracer(lightTracer{net.tracer[i], &net.sent, &net.stages[i]}))...)
		if err != nil {
			b.Fatal(err)
		}
		if validated {
			accept := func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
				return pubsub.ValidationAccept
			}
			if err := ps.RegisterTopicValidator(topicName, accept, p2p.BlockValidatorOpts()...); err != nil {
				b.Fatal(err)
			}
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
	net.sent.Store(0)
	var lat latencies
	var hops hopLatencies
	var cpu time.Duration
	seq := uint64(0)
	for b.Loop() {
		b.StopTimer()
		for range gossipBlocksPerOp {
			pub := int(seq % gossipNodes)
			msg := bytes.Clone(payload) // pubsub keeps it in its message cache
			binary.BigEndian.PutUint64(msg, seq)
			net.measure(msg[:8])
			b.StartTimer()
			cpu0 := testutil.ProcessCPU()
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
					hops.add(&net.stages[i], start, 0)
				case <-deadline.C:
					b.Fatalf("message %d from node %d never reached node %d", seq, pub, i)
				}
			}
			deadline.Stop()
			cpu += testutil.ProcessCPU() - cpu0
			b.StopTimer()
			seq++
			time.Sleep(gossipPause)
		}
		b.StartTimer()
	}
	lat.report(b)
	hops.report(b)
	lat.reportRounds(b, gossipRound*(gossipNodes-1))
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(seq), "cpu-ms/block")
	b.ReportMetric(float64(size), "B/block")
	reportWire(b, net, int(seq))
}
