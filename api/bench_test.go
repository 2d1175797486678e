//go:build unix

package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// Load shape of BenchmarkCreateTransaction.
const (
	// walletsPerConn: each client goroutine owns this many funded wallets
	// and posts their transactions round-robin, each wallet's nonces in
	// order, so no transaction arrives before its sender's previous one
	// and no wallet nears the mempool's per-sender cap (64) between
	// blocks, even when a loaded machine slows the miner (with 8, one
	// run of 20,000 at 8 connections hit the cap).
	walletsPerConn = 32
	// mineEvery and mineAt: the background miner mines a block when the
	// mempool has held transactions for this long, or holds this many
	// (well under the about 2,300 signed transfers a 512 KiB block
	// holds), so neither the per-sender cap nor the pool's 10,000 ever
	// refuses a valid transaction.
	mineEvery = 50 * time.Millisecond
	mineAt    = 1000
	// fundPerRound stays under the node wallet's own per-sender cap: the
	// funding transfers are mined in rounds of this many.
	fundPerRound = 60
	// nodeSignedBackoff: the node-signed client waits for a block while
	// the node wallet has this many pending (the cap is 64).
	nodeSignedBackoff = 56
	nodeSignedMineAt  = 32
	// maxNoMiner bounds a run without the miner: every transaction stays
	// in the pool (10,000), at most 9,000 ÷ 256 wallets = 36 a sender.
	maxNoMiner = 9000
)

// BenchmarkCreateTransaction measures sustained POST /create-transaction
// against one regtest node over loopback TCP (httptest.NewServer), with a
// background miner emptying the mempool. Every answer must be 201.
//
//   - client-signed: transactions from many funded wallets, all signed
//     before the timer starts, so the client's ed25519 signing is not in
//     the figure; the node verifies one signature per request.
//   - client-signed-gossip/conns=8: the same with the node started (a
//     libp2p host on loopback, no peers), so each accepted transaction is
//     also published by GossipSub, which signs the message with the host
//     key and checks that signature again before sending.
//   - client-signed-lean/conns=N: client-signed through a minimal HTTP/1.1
//     client (postLean) instead of Go's, whose transport is about a
//     third of the process's CPU here: a figure nearer the node's own.
//     Issue 13's figure is taken at conns=32, as a server is measured
//     under enough concurrent connections to keep it busy (wrk -c; the
//     bench-http.sh script uses 32 too): at 8, a connection waits a
//     round trip between its requests and the two cores sit idle a
//     sixth of the time, and the signature queue gathers only the
//     checks of requests in flight (about 3 a batch at 8, 5 – 7 at 32;
//     against the chain's single checks a batch saves nothing at 4 – 5,
//     a tenth at 6, a sixth at 8, 0.4 at 64: chain.BenchmarkVerifyBatch,
//     batch-us/sig against zip215-us/sig). 8 is
//     kept for comparison across versions, 16 and 64 to show the curve.
//   - client-signed-nominer/conns=8: client-signed without the miner,
//     so no block is built or committed while it runs: the request
//     alone. At most maxNoMiner requests (-test.benchtime 9000x), since
//     the pool must hold them all.
//   - node-signed: {"recipient", "amount"} with no sender, the node signs
//     from its wallet (one sign and one verify per request). Its nonce is
//     chosen from the wallet's pending count, so concurrent requests race
//     for it and the per-sender cap (64) bounds what one block interval
//     takes: one connection, a block whenever 32 are pending, and the
//     client waits for the block when 56 are. It is a convenience for one
//     wallet, not a throughput path.
//
// The client runs in the same process and shares the two cores with the
// node. Run with a fixed count, since setup (funding, signing) scales
// with b.N:
//
//	go test -c -o /tmp/api.test ./api && cd api &&
//	/tmp/api.test -test.run '^$' -test.bench CreateTransaction -test.benchtime 20000x -test.count 3
func BenchmarkCreateTransaction(b *testing.B) {
	for _, conns := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("client-signed/conns=%d", conns), func(b *testing.B) {
			benchClientSigned(b, conns, false, true, false)
		})
	}
	b.Run("client-signed-gossip/conns=8", func(b *testing.B) {
		benchClientSigned(b, 8, true, true, false)
	})
	for _, conns := range []int{8, 16, 32, 64} {
		b.Run(fmt.Sprintf("client-signed-lean/conns=%d", conns), func(b *testing.B) {
			benchClientSigned(b, conns, false, true, true)
		})
	}
	b.Run("client-signed-nominer/conns=8", func(b *testing.B) {
		if b.N > maxNoMiner {
			b.Skipf("%d requests would not fit the pool without a miner; run with -test.benchtime %dx", b.N, maxNoMiner)
		}
		benchClientSigned(b, 8, false, false, false)
	})
	b.Run("node-signed/conns=1", benchNodeSigned)
}

// benchClientSigned posts from conns connections. With gossip the node
// is started on a loopback port (no peers, no mDNS), so every accepted
// transaction is also published on the transaction topic, as a running
// node does. Without mine no block is mined while it runs. With lean the
// requests go through postLean's minimal client instead of Go's.
func benchClientSigned(b *testing.B, conns int, gossip, mine, lean bool) {
	p := chain.RegTest()
	var n *node.Node
	if gossip {
		n = startedNode(b, p)
	} else {
		n = newNode(b, p)
	}
	sink := testwallet.Random(b).Addr
	wallets := make([]ed25519.PrivateKey, conns*walletsPerConn)
	addrs := make([]string, len(wallets))
	for i := range wallets {
		w := testwallet.Random(b)
		addrs[i], wallets[i] = w.Addr, w.Key
	}
	// bodies[g] are goroutine g's requests in order: wallet i%walletsPerConn
	// of its own, nonce i/walletsPerConn.
	bodies := make([][][]byte, conns)
	perWallet := make([]uint64, len(wallets))
	for g := range conns {
		count := b.N / conns
		if g < b.N%conns {
			count++
		}
		bodies[g] = make([][]byte, count)
		for i := range count {
			w := g*walletsPerConn + i%walletsPerConn
			tx := &chain.Transaction{Version: chain.TxVersion, Sender: addrs[w], Recipient: sink,
				Amount: 1, Fee: 1, Nonce: uint64(i / walletsPerConn)}
			tx.Sign(p.NetworkID(), wallets[w])
			body, err := json.Marshal(tx)
			if err != nil {
				b.Fatal(err)
			}
			bodies[g][i] = body
			perWallet[w] += 2 // the amount and the minimum relay fee
		}
	}
	fund(b, n, addrs, perWallet)

	srv := httptest.NewServer(api.New(n, api.WithContext(context.Background())))
	defer srv.Close()
	full, every := func() bool { return n.Mempool().Len() >= mineAt }, mineEvery
	if !mine {
		full, every = func() bool { return false }, 0
	}
	m := startMiner(n, full, every)
	b.ResetTimer()
	start, cpu0, sigs0 := time.Now(), cpuTime(b), n.Stats().Sigs
	var lat []time.Duration
	if lean {
		lat = postLean(b, srv.URL, bodies)
	} else {
		lat = post(b, srv.URL, bodies, nil)
	}
	elapsed, cpu, sigs := time.Since(start), cpuTime(b)-cpu0, n.Stats().Sigs
	b.StopTimer()
	m.stop(b)
	report(b, lat, elapsed, cpu)
	b.ReportMetric(float64(m.blocks.Load()), "blocks")
	// How well admissions' checks gathered: signatures verified per
	// verification call, a batch or a single check.
	singles := (sigs.Verifies - sigs0.Verifies) - (sigs.Batched - sigs0.Batched)
	if calls := singles + sigs.Batches - sigs0.Batches; calls > 0 {
		b.ReportMetric(float64(sigs.Verifies-sigs0.Verifies)/float64(calls), "sigs/verify-call")
	}
}

func benchNodeSigned(b *testing.B) {
	p := chain.RegTest()
	n := newNode(b, p)
	sink := testwallet.Random(b).Addr
	wallet := n.WalletAddress()
	// Coins for b.N transfers of 1, then an empty mempool.
	for {
		acct, err := n.Chain().Account(wallet)
		if err != nil {
			b.Fatal(err)
		}
		if acct.Balance >= int64(b.N) {
			break
		}
		if _, err := n.MineOne(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	body := fmt.Appendf(nil, `{"recipient":%q,"amount":1}`, sink)
	bodies := [][][]byte{make([][]byte, b.N)}
	for i := range bodies[0] {
		bodies[0][i] = body
	}
	srv := httptest.NewServer(api.New(n, api.WithContext(context.Background())))
	defer srv.Close()
	// A block once half the per-sender cap is pending: the cap is the
	// limit here.
	m := startMiner(n, func() bool { return len(n.Mempool().Pending(wallet)) >= nodeSignedMineAt }, mineEvery)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	lat := post(b, srv.URL, bodies, func() {
		// What a client does on 429, without the round trip: wait for
		// a block while the wallet is near its cap.
		for len(n.Mempool().Pending(wallet)) >= nodeSignedBackoff {
			time.Sleep(100 * time.Microsecond)
		}
	})
	elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
	b.StopTimer()
	m.stop(b)
	report(b, lat, elapsed, cpu)
	b.ReportMetric(float64(m.blocks.Load()), "blocks")
}

// fund pays each addrs[i] want[i] coins from the node wallet, mining as
// needed, and leaves the mempool empty.
func fund(b *testing.B, n *node.Node, addrs []string, want []uint64) {
	ctx := context.Background()
	wallet := n.WalletAddress()
	var total int64
	for _, w := range want {
		total += int64(w)
	}
	for {
		acct, err := n.Chain().Account(wallet)
		if err != nil {
			b.Fatal(err)
		}
		if acct.Balance >= total {
			break
		}
		if _, err := n.MineOne(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < len(addrs); i += fundPerRound {
		for j := i; j < min(i+fundPerRound, len(addrs)); j++ {
			if want[j] == 0 {
				continue
			}
			if _, err := n.Send(ctx, addrs[j], want[j], 0); err != nil {
				b.Fatalf("fund %s: %v", addrs[j], err)
			}
		}
		if _, err := n.MineOne(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if k := n.Mempool().Len(); k != 0 {
		b.Fatalf("after funding, %d transactions still pending", k)
	}
}

// post sends bodies[g] from goroutine g, in order, each goroutine on its
// own keep-alive connection, and returns every request's latency. Any
// answer but 201 fails the benchmark. wait, if not nil, runs before each
// request, off the latency clock.
func post(b *testing.B, url string, bodies [][][]byte, wait func()) []time.Duration {
	url += "/create-transaction"
	tr := &http.Transport{MaxIdleConnsPerHost: len(bodies), MaxConnsPerHost: len(bodies)}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return postEach(b, bodies, wait, func(g, i int) error {
		resp, err := hc.Post(url, "application/json", bytes.NewReader(bodies[g][i]))
		if err != nil {
			return err
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusCreated {
			err = fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(out))
		}
		return err
	})
}

// postEach runs one goroutine per bodies[g], which calls send(g, i) for
// each of its bodies in order (wait, if not nil, before each, off the
// latency clock), and returns every call's latency. The first error
// stops every goroutine and fails the benchmark.
func postEach(b *testing.B, bodies [][][]byte, wait func(), send func(g, i int) error) []time.Duration {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed error
		lat    = make([][]time.Duration, len(bodies))
		stop   atomic.Bool
	)
	for g := range bodies {
		lat[g] = make([]time.Duration, 0, len(bodies[g]))
		wg.Go(func() {
			for i := range bodies[g] {
				if stop.Load() {
					return
				}
				if wait != nil {
					wait()
				}
				t0 := time.Now()
				if err := send(g, i); err != nil {
					mu.Lock()
					if failed == nil {
						failed = err
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		})
	}
	wg.Wait()
	if failed != nil {
		b.Fatalf("create-transaction: %v", failed)
	}
	return slices.Concat(lat...)
}

// report adds req/s, the latency percentiles and the process's CPU time
// per request and in cores (client, server and miner together: they
// share the process) to the benchmark's line. CPU per request holds
// steadier than req/s when other processes take a core.
func report(b *testing.B, lat []time.Duration, elapsed, cpu time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-µs/req")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// miner mines in the background while the benchmark posts.
type miner struct {
	cancel context.CancelFunc
	done   chan struct{}
	blocks atomic.Int64
	err    error // read after done
}

// startMiner mines a block whenever full() holds, or when the mempool
// has held transactions for every (when every > 0).
func startMiner(n *node.Node, full func() bool, every time.Duration) *miner {
	ctx, cancel := context.WithCancel(context.Background())
	m := &miner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		last := time.Now()
		for ctx.Err() == nil {
			if !full() && (every == 0 || time.Since(last) < every || n.Mempool().Len() == 0) {
				time.Sleep(200 * time.Microsecond)
				continue
			}
			if _, err := n.MineOne(ctx); err != nil {
				if ctx.Err() == nil {
					m.err = err
				}
				return
			}
			m.blocks.Add(1)
			last = time.Now()
		}
	}()
	return m
}

func (m *miner) stop(b *testing.B) {
	m.cancel()
	<-m.done
	if m.err != nil {
		b.Fatalf("miner: %v", m.err)
	}
}
