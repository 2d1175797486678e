package testnet

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTopologies: every layout bootstraps only from earlier nodes, never
// twice from one, and joins all nodes up.
func TestTopologies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, top := range []Topology{Line(), Ring(), Star(), Random(1), Random(2), Random(5)} {
		for _, n := range []int{1, 2, 3, 10, 50} {
			boots := top.boots(n, rng)
			var links []link
			all := make([]int, n)
			for i, bs := range boots {
				all[i] = i
				for k, b := range bs {
					if b < 0 || b >= i || slices.Contains(bs[:k], b) {
						t.Fatalf("%s, %d nodes: node %d bootstraps from %v", top, n, i, bs)
					}
					links = append(links, link{from: i, to: b})
				}
			}
			if c := components(all, links); len(c) != 1 {
				t.Errorf("%s, %d nodes: %d pieces: %v", top, n, len(c), c)
			}
		}
	}
}

func TestComponents(t *testing.T) {
	links := []link{{1, 0}, {2, 1}, {4, 3}, {6, 5}}
	got := components([]int{0, 1, 2, 3, 4, 5}, links)
	want := [][]int{{0, 1, 2}, {3, 4}, {5}} // 6 is not in the set
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("components = %v, want %v", got, want)
	}
}
