package chain

// SideBranchPruneDepth is sideBranchPruneDepth, for the tests.
const SideBranchPruneDepth = sideBranchPruneDepth
