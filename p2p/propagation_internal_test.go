package p2p

import (
	"testing"
)

// TestSeenLogKeepsTheNewest: past its bound the log drops the oldest
// entries and lists the rest newest first.
func TestSeenLogKeepsTheNewest(t *testing.T) {
	tests := []struct {
		name  string
		added int
	}{
		{"empty", 0},
		{"one", 1},
		{"full", maxSeenBlocks},
		{"wrapped once", maxSeenBlocks + 7},
		{"wrapped twice", 2*maxSeenBlocks + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l seenLog
			for i := range tt.added {
				l.add(BlockSeen{Height: uint64(i)})
			}
			got := l.list()
			if want := min(tt.added, maxSeenBlocks); len(got) != want {
				t.Fatalf("%d entries, want %d", len(got), want)
			}
			for i, s := range got {
				if want := uint64(tt.added - 1 - i); s.Height != want {
					t.Fatalf("entry %d is height %d, want %d (newest first)", i, s.Height, want)
				}
			}
		})
	}
}
