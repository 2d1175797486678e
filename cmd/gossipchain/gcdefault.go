package main

import "runtime/debug"

// defaultGCPercent is the node's garbage collector target (GOGC) when the
// environment sets none: the heap may grow to three times what is live
// before a collection, not twice. A syncing node allocates for every block
// it connects and commits, and at Go's default of 100 the collector's
// background work took about as much CPU as the store's commit
// (docs/benchmarks.md, "Where a synced block's CPU goes now"); at 200 it
// does half that work (a synced block's CPU fell 5-16% in four of six
// measured pairs, not in two, on a loaded machine). The price is a fifth
// more peak RSS, still well below btcd's: 0.38 of it against 0.31
// (docs/benchmarks.md, "Fewer allocations per commit, and the collector's
// default"). GOGC, when set, wins, as for any Go program.
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
