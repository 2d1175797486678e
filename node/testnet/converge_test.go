package testnet_test

import (
	"testing"
)

// TestConvergeMiningBreaksTie: the wait that failed in issue 14 ("no
// common tip after 2m0s" with nodes split over two blocks of equal work
// at one height). Two halves mine one block each while partitioned, then
// heal: proof of work keeps that tie until the next block, so a network
// that stops mining never agrees. ConvergeMining mines on as a real
// network would, and every node ends on one tip.
func TestConvergeMiningBreaksTie(t *testing.T) {
	nt := newNet(t, 4)
	a, b := []int{0, 1}, []int{2, 3}
	nt.Mine(0, 1)
	nt.WaitConverged(stepTimeout)
	nt.Partition(a, b)
	nt.Mine(0, 1)
	nt.Mine(2, 1)
	nt.WaitConverged(stepTimeout, a...)
	nt.WaitConverged(stepTimeout, b...)
	n0, n2 := nt.Node(0).Chain().Tip(), nt.Node(2).Chain().Tip()
	if n0.Hash == n2.Hash || n0.Work.Cmp(n2.Work) != 0 {
		t.Fatalf("setup: want two tips of equal work, got %s and %s", n0.Hash.Short(), n2.Hash.Short())
	}
	nt.Heal()

	_, mined, err := nt.ConvergeMining(t.Context(), stepTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if mined == 0 {
		t.Fatal("the tie was broken without a new block: equal work should have held it")
	}
	tip := nt.Node(0).Chain().Tip()
	if tip.Height() < 3 {
		t.Fatalf("converged at height %d, want past the tie at 2", tip.Height())
	}
	for _, i := range nt.Running() {
		if h := nt.Node(i).Chain().Tip().Hash; h != tip.Hash {
			t.Fatalf("n%d on %s, n0 on %s", i, h.Short(), tip.Hash.Short())
		}
	}
}
