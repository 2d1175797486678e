//go:build unix

package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/node"
)

// BenchmarkMineOne measures mining one block per call, what
// scripts/bench-btcd.sh's measure b compares with btcd's "generate 1":
// one regtest node, started (a libp2p host on loopback, no peers, no
// mDNS, so each block is also published), its store on disk with the
// per-block fsync (b.TempDir(): run it where TMPDIR is the disk that
// matters).
//
//   - http: POST /mine over one kept-alive loopback connection, one
//     call after the other, as the script's curl sends them;
//   - call: node.MineOne, the same work without the HTTP exchange;
//   - call/nosync: node.MineOne on a store without the per-block fsync
//     (store.WithNoSync), which no node runs: the work of a block
//     without the wait for the disk.
//
// Read in one run, the three split a call's wall time: http − call is
// the HTTP exchange, call − call/nosync the commit's two fdatasyncs
// (and the kernel's work for them), call/nosync the CPU path (template,
// proof of work, checks, connect, the commit's encoding and page
// writes, the publish). It reports blocks/s and cpu-µs/block (the
// process's user and system time, the client's included).
//
//	go test -c -o /tmp/api.test ./api && cd api &&
//	/tmp/api.test -test.run '^$' -test.bench MineOne -test.benchtime 2000x
func BenchmarkMineOne(b *testing.B) {
	b.Run("http", func(b *testing.B) {
		n := startedNode(b, chain.RegTest())
		srv := httptest.NewServer(api.New(n, api.WithContext(context.Background())))
		b.Cleanup(srv.Close)
		client := srv.Client()
		mine := func() {
			resp, err := client.Post(srv.URL+"/mine", "", nil)
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("POST /mine: %d %v", resp.StatusCode, err)
			}
		}
		mine() // the connection and the first commit's file growth
		benchMine(b, n, mine)
	})
	for _, c := range []struct {
		name string
		opts []store.Option
	}{
		{"call", nil},
		{"call/nosync", []store.Option{store.WithNoSync(true)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			n := startedNode(b, chain.RegTest(), c.opts...)
			mine := func() {
				if _, err := n.MineOne(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			mine()
			benchMine(b, n, mine)
		})
	}
}

// startedNode is a node on p, started: a libp2p host on loopback with
// no peers and no mDNS, its store in b.TempDir() opened with opts.
func startedNode(b *testing.B, p *chain.Params, opts ...store.Option) *node.Node {
	n, err := node.New(node.Config{Params: p, DataDir: b.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"}, StoreOptions: opts})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return n
}

// benchMine runs mine b.N times and checks that each added a block.
func benchMine(b *testing.B, n *node.Node, mine func()) {
	start := n.Chain().Tip().Height()
	cpu0 := cpuTime(b)
	t0 := time.Now()
	b.ResetTimer()
	for range b.N {
		mine()
	}
	b.StopTimer()
	wall, cpu := time.Since(t0), cpuTime(b)-cpu0
	if got := n.Chain().Tip().Height() - start; got != uint64(b.N) {
		b.Fatalf("%d blocks for %d calls", got, b.N)
	}
	b.ReportMetric(float64(b.N)/wall.Seconds(), "blocks/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/block")
}
