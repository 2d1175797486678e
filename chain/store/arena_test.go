package store

import (
	"bytes"
	"testing"
)

// TestArena checks that the slices an arena hands out keep their bytes
// whatever is handed out after them, across new buffers, and that
// appending to one never writes into the next.
func TestArena(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first int   // the first buffer's size
		sizes []int // the slices taken, in order
	}{
		{"one buffer", 64, []int{8, 32, 16, 8}},
		{"exact fit", 48, []int{16, 32, 16}},
		{"outgrown", 16, []int{8, 32, 8, 300, 1}},
		{"empty start", 0, []int{25, 16, 25, 16}},
		{"empty slices", 8, []int{0, 8, 0, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newArena(tc.first)
			var got, want [][]byte
			for i, n := range tc.sizes {
				at := a.mark(n)
				fill := bytes.Repeat([]byte{byte(i + 1)}, n)
				a.buf = append(a.buf, fill...)
				s := a.cut(at)
				if len(s) != n || cap(s) != n {
					t.Fatalf("slice %d: len %d cap %d, want both %d", i, len(s), cap(s), n)
				}
				got, want = append(got, s), append(want, fill)
			}
			// Growing one slice must leave every other as it was.
			for i := range got {
				_ = append(got[i], 0xee, 0xee, 0xee)
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("slice %d = %x, want %x", i, got[i], want[i])
				}
			}
		})
	}
}
