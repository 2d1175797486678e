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

// TestMedianTimeRemembered: a source that remembers median windows
// answers a tip asked for again from memory while it is among the last
// medianCacheSize kept, and a child of a kept tip from its parent's
// window without a walk; every answer is the median walked.
func TestMedianTimeRemembered(t *testing.T) {
	p := RegTest()
	line := &headerLine{}
	for i := range 40 {
		// Timestamps out of order, so a median taken over the wrong
		// window shows.
		h := &Header{Height: uint64(i), Timestamp: int64((i * 7919) % 101)}
		if i > 0 {
			h.PrevHash = line.hdrs[i-1].Hash()
		}
		line.hdrs = append(line.hdrs, h)
	}
	// A header that names 20 as its parent but claims height 30: its
	// window is walked, not taken from 20's.
	liar := &Header{Height: 30, PrevHash: line.hdrs[20].Hash(), Timestamp: 55}
	// step asks for tip's median, which it walked for or not.
	type step struct {
		tip    *Header
		walked bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"following the chain", []step{
			{line.hdrs[20], true}, {line.hdrs[21], false}, {line.hdrs[20], false},
			{line.hdrs[23], true}, // 22's window was never kept
			{line.hdrs[24], false}, {line.hdrs[25], false}, {line.hdrs[26], false},
			{line.hdrs[27], false}, {line.hdrs[28], false},
			{line.hdrs[20], true}, // pushed out by 23 – 28
			{line.hdrs[20], false},
		}},
		{"from genesis", []step{
			{line.hdrs[0], false}, {line.hdrs[1], false}, {line.hdrs[2], false},
			{line.hdrs[3], false}, {line.hdrs[4], false},
		}},
		{"a height that does not follow its parent's", []step{
			{line.hdrs[20], true}, {liar, true},
		}},
	} {
		src := rememberingLine{line, newAncestorCache()}
		for i, st := range tc.steps {
			line.steps = 0
			got, err := MedianTime(p, src, st.tip)
			if err != nil {
				t.Fatal(err)
			}
			want, err := medianTime(p, &headerLine{hdrs: line.hdrs}, st.tip)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: step %d, tip %d: median %d, want %d", tc.name, i, st.tip.Height, got, want)
			}
			if walked := line.steps > 0; walked != st.walked {
				t.Errorf("%s: step %d, tip %d: walked %v, want %v", tc.name, i, st.tip.Height, walked, st.walked)
			}
		}
	}
}

// TestMedianTimeWindowLengths: following a chain from genesis, a window
// of any length up to maxMedianBlocks is built from the parent's without
// a walk, a longer one is walked every time, and every median is the
// walked one.
func TestMedianTimeWindowLengths(t *testing.T) {
	for _, blocks := range []int{1, 2, 11, maxMedianBlocks, maxMedianBlocks + 1} {
		p := *RegTest()
		p.MedianTimeBlocks = blocks
		line := &headerLine{}
		src := rememberingLine{line, newAncestorCache()}
		for i := range 40 {
			h := &Header{Height: uint64(i), Timestamp: int64((i * 7919) % 101)}
			if i > 0 {
				h.PrevHash = line.hdrs[i-1].Hash()
			}
			line.hdrs = append(line.hdrs, h)
			line.steps = 0
			got, err := MedianTime(&p, src, h)
			if err != nil {
				t.Fatal(err)
			}
			want, err := medianTime(&p, &headerLine{hdrs: line.hdrs}, h)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%d blocks, height %d: median %d, want %d", blocks, i, got, want)
			}
			wantWalk := blocks > maxMedianBlocks && i > 0
			if walked := line.steps > 0; walked != wantWalk {
				t.Errorf("%d blocks, height %d: walked %v, want %v", blocks, i, walked, wantWalk)
			}
		}
	}
}

// TestMedianWindowKeptOnce: a window kept twice (two validators on one
// parent) takes one slot, so it pushes out no other window kept before.
func TestMedianWindowKeptOnce(t *testing.T) {
	ac := newAncestorCache()
	hashOf := func(i int) Hash { return Hash{byte(i), 2} }
	for i := range medianCacheSize {
		ac.keepWindow(hashOf(i), timeWindow{n: 1})
	}
	last := hashOf(medianCacheSize - 1)
	ac.keepWindow(last, timeWindow{n: 1})
	for i := range medianCacheSize {
		if _, ok := ac.window(hashOf(i)); !ok {
			t.Errorf("window %d pushed out by a window kept again", i)
		}
	}
}
