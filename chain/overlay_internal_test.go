package chain

import (
	"slices"
	"testing"
)

// TestTxIDsFromEnclosingOverlay: a block connects in the reorg's child
// overlay, while its sanity check's ids are noted in the process's root;
// connect must take those rather than hash every transaction again.
func TestTxIDsFromEnclosingOverlay(t *testing.T) {
	b := RegTest().Genesis()
	h := b.Hash()
	want := TxIDs(b.Transactions)
	tests := []struct {
		name   string
		noteIn int // 0: root, 1: child, -1: nowhere
		reused bool
	}{
		{"noted in the root", 0, true},
		{"noted in the child", 1, true},
		{"noted nowhere", -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newOverlay(nil)
			child := newOverlay(root)
			noted := slices.Clone(want)
			switch tc.noteIn {
			case 0:
				root.noteIDs(h, noted)
			case 1:
				child.noteIDs(h, noted)
			}
			got := child.txIDs(h, b)
			if !slices.Equal(got, want) {
				t.Fatalf("ids %v, want %v", got, want)
			}
			if same := &got[0] == &noted[0]; same != tc.reused {
				t.Fatalf("the noted ids were reused: %v, want %v", same, tc.reused)
			}
		})
	}
}
