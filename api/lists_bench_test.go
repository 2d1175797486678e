package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// selfTransfers offers a block template as many signed transfers of 1
// coin from key to itself as fit, with consecutive nonces: one funded key
// fills any number of full blocks without the mempool's per-sender cap.
type selfTransfers struct {
	p     *chain.Params
	addr  string
	key   []byte
	nonce uint64
}

func (s *selfTransfers) Select(maxTxs, maxBytes int) []*chain.Transaction {
	var out []*chain.Transaction
	for size := 0; len(out) < maxTxs; {
		tx := &chain.Transaction{Version: chain.TxVersion, Sender: s.addr, Recipient: s.addr, Amount: 1, Nonce: s.nonce + uint64(len(out))}
		tx.Sign(s.p.NetworkID(), s.key)
		if size += tx.EncodedSize(); size > maxBytes {
			break
		}
		out = append(out, tx)
	}
	s.nonce += uint64(len(out))
	return out
}

// discardWriter is a ResponseWriter that keeps nothing, so the heap a
// request costs is the server's alone.
type discardWriter struct {
	h http.Header
	n atomic.Int64
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(int)     {}
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return len(b), nil
}

// peakHeap runs f and returns the most heap in use while it ran, above
// what was in use before, sampled every 200 µs.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return max(peak.Load(), base) - base
}

// BenchmarkChainPage measures one GET /chain page of full blocks (512 KiB
// of signed transfers each, the largest a block holds) as the API now
// writes it, streamed and cut at api.MaxListBytes, against encoding the
// same blocks whole with encoding/json as the API did before. It reports
// the answer's size, the blocks in it, and the peak heap above the
// baseline while one page is written. The chain is built before the
// timer (about a minute):
//
//	go test -run '^$' -bench ChainPage -benchtime 5x ./api
func BenchmarkChainPage(b *testing.B) {
	const blocks = 24
	ctx := context.Background()
	p := chain.RegTest()
	w := testwallet.Random(b)
	addr, key := w.Addr, w.Key
	n, err := node.New(node.Config{Params: p, DataDir: b.TempDir(), MinerAddress: addr})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if _, err := n.MineOne(ctx); err != nil { // the coins the transfers move
		b.Fatal(err)
	}
	src := &selfTransfers{p: p, addr: addr, key: key}
	for range blocks {
		blk, err := n.Chain().Mine(ctx, src, addr, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.Chain().ProcessBlock(ctx, blk); err != nil {
			b.Fatal(err)
		}
	}
	h := api.New(n)

	b.Run("stream", func(b *testing.B) {
		var size int64
		var peak uint64
		for b.Loop() {
			w := &discardWriter{h: http.Header{}}
			req := httptest.NewRequest(http.MethodGet, "/chain?from=2", nil)
			req.Host = "localhost"
			peak = max(peak, peakHeap(func() { h.ServeHTTP(w, req) }))
			size = w.n.Load()
		}
		b.ReportMetric(float64(size)/(1<<20), "answer-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	})
	b.Run("encoding-json", func(b *testing.B) {
		var all []*chain.Block
		for i := uint64(2); i <= blocks+1; i++ {
			blk, err := n.Chain().BlockAt(i)
			if err != nil {
				b.Fatal(err)
			}
			all = append(all, blk)
		}
		var size int64
		var peak uint64
		for b.Loop() {
			w := &discardWriter{h: http.Header{}}
			peak = max(peak, peakHeap(func() {
				// The blocks are read again, as the old handler did.
				page := make([]*chain.Block, 0, len(all))
				for _, a := range all {
					blk, err := n.Chain().Block(a.Hash())
					if err != nil {
						b.Fatal(err)
					}
					page = append(page, blk)
				}
				if err := json.NewEncoder(w).Encode(struct {
					Chain  []*chain.Block `json:"chain"`
					Length uint64         `json:"length"`
				}{page, blocks + 2}); err != nil {
					b.Fatal(err)
				}
			}))
			size = w.n.Load()
		}
		b.ReportMetric(float64(size)/(1<<20), "answer-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	})
}

var _ io.Writer = (*discardWriter)(nil)
