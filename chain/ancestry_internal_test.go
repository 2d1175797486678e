package chain

import "testing"

// TestAncestorCacheBound: the cache keeps at most ancestorCacheSize
// headers, the newest, each under the hash it was added with.
func TestAncestorCacheBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		added int
		kept  int
	}{
		{"under the bound", ancestorCacheSize - 1, ancestorCacheSize - 1},
		{"at the bound", ancestorCacheSize, ancestorCacheSize},
		{"past the bound", 3*ancestorCacheSize + 5, ancestorCacheSize},
	} {
		ac := newAncestorCache()
		hashOf := func(i int) Hash { return Hash{byte(i), byte(i >> 8), 1} }
		for i := range tc.added {
			ac.add(hashOf(i), &Header{Height: uint64(i)})
			ac.add(hashOf(i), &Header{Height: 1 << 40}) // a second add keeps the first
		}
		if len(ac.byHash) != tc.kept {
			t.Errorf("%s: %d kept, want %d", tc.name, len(ac.byHash), tc.kept)
		}
		for i := range tc.added {
			hdr, ok := ac.get(hashOf(i))
			if want := i >= tc.added-tc.kept; ok != want || ok && hdr.Height != uint64(i) {
				t.Errorf("%s: entry %d: got %v (height %d), want kept=%v", tc.name, i, ok, hdr.Height, want)
			}
		}
	}
}
