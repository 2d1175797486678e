package store

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortWrites: the writes come out in the keys' byte order whatever
// their lengths and shared prefixes, each write once.
func TestSortWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(n, size int) [][]byte {
		var out [][]byte
		for range n {
			k := make([]byte, size)
			for i := range k {
				k[i] = byte(rng.UintN(256))
			}
			out = append(out, k)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		keys [][]byte
	}{
		{"empty", nil},
		{"sorted", [][]byte{{1}, {1, 2}, {2}}},
		{"short keys and prefixes", [][]byte{{0xff, 0, 0}, {0xff}, {0xff, 0}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 3, 4, 5, 6, 7, 8, 0}, {}, {0}}},
		{"ties in the first eight bytes", [][]byte{[]byte("abcdefgh-z"), []byte("abcdefgh-a"), []byte("abcdefgh"), []byte("abcdefg")}},
		{"random hashes", random(3000, 32)},
		{"random short", random(500, 3)},
		{"more than the index holds", random(1<<16+5, 8)},
		{"shared first six bytes", func() [][]byte {
			var out [][]byte
			for _, k := range random(300, 4) {
				out = append(out, append([]byte("sixsix"), k...))
			}
			return out
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := make([]write, len(tc.keys))
			for i, k := range tc.keys {
				ws[i] = write{key: k, val: []byte{byte(i)}}
			}
			got := sortWrites(slices.Clone(ws))
			if len(got) != len(ws) {
				t.Fatalf("%d writes out of %d", len(got), len(ws))
			}
			want := slices.Clone(ws)
			slices.SortStableFunc(want, func(a, b write) int { return bytes.Compare(a.key, b.key) })
			for i := range want {
				if !bytes.Equal(got[i].key, want[i].key) {
					t.Fatalf("write %d has key %x, want %x", i, got[i].key, want[i].key)
				}
			}
		})
	}
}
