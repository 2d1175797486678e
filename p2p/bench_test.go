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
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
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

// fixture is a chain built once per process, on first use.
type fixture struct {
	once sync.Once
	fx   *benchBlocks
	err  error
}

var syncFixture, coinbaseFixture fixture

func (f *fixture) load(b *testing.B, txsPerBlock int) *benchBlocks {
	b.Helper()
	f.once.Do(func() {
		start := time.Now()
		f.fx, f.err = buildSyncChain(syncBlocks, txsPerBlock)
		if f.err == nil {
			b.Logf("fixture: %d blocks, %d transfers, %d bytes, built in %v",
				len(f.fx.blocks), f.fx.txs, f.fx.bytes, time.Since(start).Round(time.Millisecond))
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.fx
}

// loadSyncFixture builds the 10,000-block chain on the first call.
func loadSyncFixture(b *testing.B) *benchBlocks { return syncFixture.load(b, syncTxsPerBlock) }

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
	tc := &testChain{Chain: ch, mp: chain.NewMempool(ch.Params(), chain.WithMempoolSigCache(ch.SigCache()))}
	return tc, func() { tc.close(); st.Close() }
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
// fsync (store=fsync, as a node runs) or without (store=nosync). Both run
// in this process, on the same cores. transfers/s is the figure to hold
// against chain's BenchmarkVerify1000Parallel of the same run.
//
// local/… is the chain's side alone for reference: the same blocks from
// memory into a fresh store, in sync's batches, no network.
func BenchmarkSync10k(b *testing.B) {
	if testing.Short() {
		b.Skip("slow: builds and syncs a 10,000-block chain")
	}
	benchSync(b, loadSyncFixture(b))
}

// BenchmarkSyncCoinbaseOnly is BenchmarkSync10k over 10,000 blocks that
// hold only their coinbase: what sync costs besides signatures.
func BenchmarkSyncCoinbaseOnly(b *testing.B) {
	if testing.Short() {
		b.Skip("slow: builds and syncs a 10,000-block chain")
	}
	benchSync(b, coinbaseFixture.load(b, 0))
}

func benchSync(b *testing.B, fx *benchBlocks) {
	want := fx.blocks[len(fx.blocks)-1].Hash()
	ac, closeA := openBenchChain(b, b.TempDir(), true)
	defer closeA()
	processAll(b, ac, fx.blocks, 1000)
	ah := newNodeHost(b)
	defer ah.Close()
	as := p2p.NewSyncer(context.Background(), ah.Host, ac, p2p.NewGater())
	defer as.Close()
	report := func(b *testing.B) {
		secs := b.Elapsed().Seconds()
		b.ReportMetric(float64(len(fx.blocks))*float64(b.N)/secs, "blocks/s")
		if fx.txs > 0 {
			b.ReportMetric(float64(fx.txs)*float64(b.N)/secs, "transfers/s")
		}
	}
	// cpu is the process's CPU time within the timed part of net/…: both
	// nodes, every goroutine. Per block it is what the sync costs
	// whatever else shares the machine; cpu/wall says how much of the two
	// cores the sync kept busy.
	var cpu time.Duration
	reportCPU := func(b *testing.B) {
		b.ReportMetric(float64(cpu.Microseconds())/float64(len(fx.blocks)*b.N), "cpu-µs/block")
		b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cpu/wall")
	}

	for _, noSync := range []bool{true, false} {
		b.Run("net/"+storeName(noSync), func(b *testing.B) {
			b.SetBytes(fx.bytes)
			cpu = 0
			for b.Loop() {
				b.StopTimer()
				bc, closeB := openBenchChain(b, b.TempDir(), noSync)
				bh := newNodeHost(b)
				bs := p2p.NewSyncer(context.Background(), bh.Host, bc, p2p.NewGater())
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				changed := bc.TipChanged()
				cpu0 := testutil.ProcessCPU()
				b.StartTimer()

				dial(b, bh, ah)
				_, err := waitTip(ctx, bc, changed, want)

				b.StopTimer()
				cpu += testutil.ProcessCPU() - cpu0
				cancel()
				bs.Close()
				bh.Close()
				closeB()
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			report(b)
			reportCPU(b)
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
			report(b)
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
