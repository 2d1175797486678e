package testnet

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// summaryTips is how many distinct tips Summary names before it lumps
// the rest together: a failed wait at 100 or 1,000 nodes must say what
// it saw in a few lines, not one per node.
const summaryTips = 4

// Summary says what the network looks like now, in a few lines whatever
// its size: how many nodes run, the distinct tips with how many nodes
// sit on each (the heaviest first, with the nodes' names when few), the
// sides of a partition, and the spread of peer counts and block-topic
// mesh sizes. Failed waits quote it.
func (nt *Net) Summary() string {
	type tipGroup struct {
		meta  *chain.BlockMeta
		nodes []int
	}
	byHash := map[chain.Hash]*tipGroup{}
	var peers, mesh []int
	stopped := 0
	topic := protocol.BlockTopic(nt.cfg.params.NetworkID())
	for i := range nt.members {
		n := nt.Node(i)
		if n == nil {
			stopped++
			continue
		}
		t := n.Chain().Tip()
		g := byHash[t.Hash]
		if g == nil {
			g = &tipGroup{meta: t}
			byHash[t.Hash] = g
		}
		g.nodes = append(g.nodes, i)
		peers = append(peers, len(n.Host().Network().Peers()))
		mesh = append(mesh, nt.meshSize(i, topic))
	}
	groups := make([]*tipGroup, 0, len(byHash))
	for _, g := range byHash {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *tipGroup) int {
		if c := b.meta.Work.Cmp(a.meta.Work); c != 0 {
			return c
		}
		return cmp.Compare(len(b.nodes), len(a.nodes))
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%d running, %d stopped; %d tips:", len(nt.members)-stopped, stopped, len(groups))
	for k, g := range groups {
		if k == summaryTips {
			rest := 0
			for _, g := range groups[k:] {
				rest += len(g.nodes)
			}
			fmt.Fprintf(&b, " and %d nodes on %d other tips", rest, len(groups)-k)
			break
		}
		fmt.Fprintf(&b, " %d on %d/%s (work %s)%s;", len(g.nodes), g.meta.Height(), g.meta.Hash.Short(), g.meta.Work, nodeList(g.nodes))
	}
	if nt.group != nil {
		fmt.Fprintf(&b, " partitioned into sides of %s;", sideSizes(nt.sidesOf(nt.Running())))
	}
	fmt.Fprintf(&b, " peers per node %s; block mesh per node %s", spread(peers), spread(mesh))
	return b.String()
}

// nodeList names the nodes when there are few enough to read.
func nodeList(nodes []int) string {
	if len(nodes) > 8 {
		return ""
	}
	s := make([]string, len(nodes))
	for k, i := range nodes {
		s[k] = fmt.Sprintf("n%d", i)
	}
	return " [" + strings.Join(s, " ") + "]"
}

func sideSizes(sides [][]int) string {
	s := make([]string, len(sides))
	for k, side := range sides {
		s[k] = fmt.Sprint(len(side))
	}
	return strings.Join(s, "/")
}

// spread is min/median/max of v, "-" when empty.
func spread(v []int) string {
	if len(v) == 0 {
		return "-"
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return fmt.Sprintf("min %d median %d max %d", v[0], v[len(v)/2], v[len(v)-1])
}

// meshSize counts the peers node i has grafted on topic.
func (nt *Net) meshSize(i int, topic string) int {
	nt.mu.Lock()
	m := nt.members[i].mesh
	nt.mu.Unlock()
	if m == nil {
		return 0
	}
	return m.Size(topic)
}
