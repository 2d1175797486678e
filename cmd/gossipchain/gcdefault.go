package main

import "runtime/debug"

// defaultGCPercent is the node's garbage collector target (GOGC) when the
// environment sets none: the heap may grow to three times what is live
// before a collection, not twice. A syncing node allocates for every block
// it connects and commits, and at Go's default of 100 the collector's
// background work took about as much CPU as the store's commit
// (docs/benchmarks.md, "Where a synced block's CPU goes now"); at 200 a
// block of four transfers costs 5-10% less CPU. The heap the node keeps
// live is small (its caches are bounded by count), so the peak RSS stays
// far below btcd's (docs/benchmarks.md, issue 13 "Fewer allocations per
// commit"). GOGC, when set, wins, as it does for any Go program.
const defaultGCPercent = 200

// setGCDefault applies defaultGCPercent unless getenv("GOGC") is set, and
// reports the percent it applied (0: none).
func setGCDefault(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		return 0
	}
	debug.SetGCPercent(defaultGCPercent)
	return defaultGCPercent
}
