package chain

// CheckedBlocks is a sync batch whose context-free checks (signatures
// included) have run.
type CheckedBlocks struct {
	blocks []*Block
	sanity []*sanityResult
}

// Blocks returns the batch.
func (cb *CheckedBlocks) Blocks() []*Block { return cb.blocks }

// Failed reports whether a block of the batch failed its checks: its
// connect will stop at that block, so a caller gathering batches for one
// commit has no reason to wait for more.
func (cb *CheckedBlocks) Failed() bool {
	for _, r := range cb.sanity {
		if r != nil && r.err != nil {
			return true
		}
	}
	return false
}
