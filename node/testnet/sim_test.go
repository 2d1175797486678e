package testnet_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/node/testnet"
)

// TestSimulation20 runs the simulation at a size for go test: 20 real
// nodes on go-libp2p's mocknet, each link 20–200 ms one way (log-normal).
// Blocks mined on different nodes reach every node by gossip, over more
// than one hop, each arrival no sooner than a link's latency after its
// publication; a partition of the simulated network keeps blocks on
// their side, and after the heal every node reaches one tip with mining
// going on.
func TestSimulation20(t *testing.T) {
	lat, err := testnet.ParseLatency("lognormal:20ms-200ms")
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	nt := newNet(t, n, testnet.WithMocknet(lat, 0), testnet.WithTopology(testnet.Random(3)), testnet.WithSeed(20))
	if !nt.Simulated() || len(nt.LinkLatencies()) == 0 {
		t.Fatal("not a simulated network")
	}
	for _, d := range nt.LinkLatencies() {
		if d < lat.Min || d > lat.Max {
			t.Fatalf("link latency %s outside %s", d, lat)
		}
	}
	nt.ResetGossipStats()
	const blocks = 4
	mineRound(nt, []int{0, 7, 13, 19}, blocks)
	f := nt.GossipFigures()
	t.Logf("%d blocks: %d arrivals, delay p50 %s max %s, hops max %d, duplicates %.2f, %.0f bytes in per node per block, %.1f messages per block",
		f.Blocks, len(f.Delays), f.Delays[len(f.Delays)/2], f.Delays[len(f.Delays)-1], f.Hops[len(f.Hops)-1], f.Duplicates, f.BytesIn, f.MessagesPerBlock)
	if f.Blocks != blocks {
		t.Errorf("%d blocks published, want %d", f.Blocks, blocks)
	}
	// Every node but the miner, for every block; sync may bring a few
	// instead of gossip, but not most.
	if len(f.Delays) < blocks*(n-1)*3/4 || len(f.Hops) != len(f.Delays) {
		t.Errorf("%d delays and %d hops, want about %d of each", len(f.Delays), len(f.Hops), blocks*(n-1))
	}
	if f.Delays[0] < lat.Min {
		t.Errorf("a block arrived %s after publication, under the least link latency %s", f.Delays[0], lat.Min)
	}
	if f.Hops[len(f.Hops)-1] < 2 {
		t.Errorf("no block went more than one hop among %d nodes of degree about 6", n)
	}
	if f.MessagesPerBlock < n-1 {
		t.Errorf("%.1f messages per block, fewer than one per receiving node", f.MessagesPerBlock)
	}

	a, b := make([]int, 0, n/2), make([]int, 0, n/2)
	for i := range n {
		if i < n/2 {
			a = append(a, i)
		} else {
			b = append(b, i)
		}
	}
	nt.Partition(a, b)
	mineRound(nt, a, 2)
	mineRound(nt, b, 1)
	if ha, hb := nt.Node(0).Chain().Tip().Height(), nt.Node(n-1).Chain().Tip().Height(); ha != blocks+2 || hb != blocks+1 {
		t.Fatalf("sides at %d and %d, want %d and %d: blocks crossed the cut", ha, hb, blocks+2, blocks+1)
	}
	nt.Heal()
	took, mined, err := nt.ConvergeMining(t.Context(), stepTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one tip %s after the heal (%d blocks mined to break ties)", took.Round(time.Millisecond), mined)
	if h := nt.Node(n - 1).Chain().Tip().Height(); h < blocks+2 {
		t.Fatalf("healed at height %d, want the heavier side's %d or more", h, blocks+2)
	}
	if err := nt.Net.Restart(t.Context(), 1); err == nil {
		t.Error("Restart in a simulation: no error")
	}
}

// TestLatency: the --latency forms parse, the wrong ones do not, and
// draws stay in range; the log-normal one has its median near the
// geometric mean of its bounds (63 ms for 20–200 ms), where uniform's
// is near their middle.
func TestLatency(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		in     string
		want   testnet.Latency
		median time.Duration // expected median of draws, 0: not checked
	}{
		{"fixed:50ms", testnet.Latency{Kind: "fixed", Min: 50 * ms, Max: 50 * ms}, 50 * ms},
		{"uniform:20ms-200ms", testnet.Latency{Kind: "uniform", Min: 20 * ms, Max: 200 * ms}, 110 * ms},
		{"lognormal:20ms-200ms", testnet.Latency{Kind: "lognormal", Min: 20 * ms, Max: 200 * ms}, 63 * ms},
		{"fixed", testnet.Latency{}, 0},
		{"fixed:1ms-2ms", testnet.Latency{}, 0},
		{"uniform:20ms", testnet.Latency{}, 0},
		{"lognormal:0s-1s", testnet.Latency{}, 0},
		{"uniform:2s-1s", testnet.Latency{}, 0},
		{"uniform:1s-2h", testnet.Latency{}, 0},
		{"pareto:1ms-2ms", testnet.Latency{}, 0},
		{"uniform:x-2ms", testnet.Latency{}, 0},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := testnet.ParseLatency(tt.in)
			if tt.want.Kind == "" {
				if err == nil {
					t.Fatalf("parsed as %v, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want || got.String() != tt.in {
				t.Fatalf("got %v (%q), %v; want %v", got, got.String(), err, tt.want)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			draws := make([]time.Duration, 2001)
			for k := range draws {
				draws[k] = got.Draw(rng)
				if draws[k] < got.Min || draws[k] > got.Max {
					t.Fatalf("drew %s outside %s", draws[k], got)
				}
			}
			slices.Sort(draws)
			if m := draws[len(draws)/2]; m < tt.median*9/10 || m > tt.median*11/10 {
				t.Errorf("median %s, want about %s", m, tt.median)
			}
		})
	}
}
