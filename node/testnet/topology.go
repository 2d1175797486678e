package testnet

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// A Topology says, for each node i of n, which earlier nodes (< i) it
// takes as bootstrap peers. Only earlier ones: nodes start in order, and
// a bootstrap address needs a listening host. Every layout below is
// connected; the Net checks that of custom ones.
type Topology struct {
	name  string
	boots func(n int, rng *rand.Rand) [][]int
}

func (t Topology) String() string { return t.name }

// Line: each node bootstraps from the one before it. The longest paths,
// so the slowest propagation.
func Line() Topology {
	return Topology{"line", func(n int, _ *rand.Rand) [][]int {
		out := make([][]int, n)
		for i := 1; i < n; i++ {
			out[i] = []int{i - 1}
		}
		return out
	}}
}

// Ring: a line whose last node also bootstraps from the first.
func Ring() Topology {
	return Topology{"ring", func(n int, rng *rand.Rand) [][]int {
		out := Line().boots(n, rng)
		if n > 2 {
			out[n-1] = append(out[n-1], 0)
		}
		return out
	}}
}

// Star: every node bootstraps from node 0.
func Star() Topology {
	return Topology{"star", func(n int, _ *rand.Rand) [][]int {
		out := make([][]int, n)
		for i := 1; i < n; i++ {
			out[i] = []int{0}
		}
		return out
	}}
}

// Random: each node bootstraps from k distinct earlier nodes picked at
// random (all of them while there are fewer). Connected by construction;
// k = 2 gives an average degree of almost 4, about what a node on a LAN
// finds. The Net's seed makes it repeatable.
func Random(k int) Topology {
	return Topology{fmt.Sprintf("random(%d)", k), func(n int, rng *rand.Rand) [][]int {
		out := make([][]int, n)
		for i := 1; i < n; i++ {
			pick := rng.Perm(i)[:min(k, i)]
			slices.Sort(pick)
			out[i] = pick
		}
		return out
	}}
}

// link is a connection the Net keeps: from dials to.
type link struct{ from, to int }

// components splits the nodes in set into the connected pieces of the
// links among them, each piece sorted, the pieces in order of their
// smallest node.
func components(set []int, links []link) [][]int {
	in := make(map[int]bool, len(set))
	parent := make(map[int]int, len(set))
	for _, i := range set {
		in[i], parent[i] = true, i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	for _, l := range links {
		if in[l.from] && in[l.to] {
			parent[find(l.from)] = find(l.to)
		}
	}
	byRoot := make(map[int][]int)
	for _, i := range set {
		r := find(i)
		byRoot[r] = append(byRoot[r], i)
	}
	var out [][]int
	for _, c := range byRoot {
		slices.Sort(c)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}
