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

// headerLine is a HeaderSource over one line of headers, indexed by
// height, that counts its walks' steps.
type headerLine struct {
	hdrs  []*Header
	steps int
}

func (l *headerLine) Ancestor(tip *Header, height uint64) (*Header, error) {
	l.steps++
	return l.hdrs[height], nil
}

// rememberingLine is a headerLine with an ancestorCache's medians.
type rememberingLine struct {
	*headerLine
	*ancestorCache
}

// TestMedianTimeRemembered: a source that remembers medians answers a
// tip asked for again from memory, while it is among the last
// medianCacheSize kept, and every answer is the median walked.
func TestMedianTimeRemembered(t *testing.T) {
	p := RegTest()
	line := &headerLine{}
	for i := range 40 {
		// Timestamps out of order, so a median taken at the wrong tip shows.
		line.hdrs = append(line.hdrs, &Header{Height: uint64(i), Timestamp: int64((i * 7919) % 101)})
	}
	src := rememberingLine{line, newAncestorCache()}
	for i, tc := range []struct {
		height uint64
		walked bool
	}{
		{20, true}, {21, true}, {20, false}, {22, true}, {23, true}, {21, false},
		{24, true}, {25, true}, {20, true}, // 20 was pushed out by 22 – 25
		{20, false},
	} {
		tip := line.hdrs[tc.height]
		line.steps = 0
		got, err := MedianTime(p, src, tip)
		if err != nil {
			t.Fatal(err)
		}
		want, err := medianTime(p, &headerLine{hdrs: line.hdrs}, tip)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("step %d, tip %d: median %d, want %d", i, tc.height, got, want)
		}
		if walked := line.steps > 0; walked != tc.walked {
			t.Errorf("step %d, tip %d: walked %v, want %v", i, tc.height, walked, tc.walked)
		}
	}
}
