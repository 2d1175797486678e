package chain_test

import "testing"

// BenchmarkPrecheck is the header's share of a gossiped block's checks,
// on a chain of twelve blocks: PrecheckHeader as gossip's validator runs
// it, then CheckBlock (ProcessBlock's checks before the lock) of a block
// whose header was prechecked, which does not precheck it again, and of
// one that was not. The blocks carry a coinbase only, so CheckBlock's
// body check is small beside its header's.
func BenchmarkPrecheck(b *testing.B) {
	h := newHarness(b, nil)
	parent := h.extend(h.tipHash(), 12)[11].Hash()
	prechecked, unchecked := h.build(parent, nil, nil), h.build(parent, nil, nil)
	if err := h.c.PrecheckHeader(&prechecked.Header); err != nil {
		b.Fatal(err)
	}
	for _, bench := range []struct {
		name string
		run  func() error
	}{
		{"header", func() error { return h.c.PrecheckHeader(&prechecked.Header) }},
		{"checkblock-prechecked", func() error { _, err := h.c.CheckBlock(prechecked); return err }},
		{"checkblock-unchecked", func() error { _, err := h.c.CheckBlock(unchecked); return err }},
	} {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bench.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
