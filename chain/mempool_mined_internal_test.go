package chain

import "testing"

// TestMinedLocalBound: minedLocal forgets its oldest ids past its bound,
// an id taken is forgotten, and what it keeps stays within twice the
// bound however many ids pass through it.
func TestMinedLocalBound(t *testing.T) {
	id := func(i int) Hash { return Hash{byte(i), byte(i >> 8), 1} }
	tests := []struct {
		name       string
		max, added int
		take       []int // taken after adding, in order
		want       map[int]bool
	}{
		{name: "within the bound", max: 4, added: 3, want: map[int]bool{0: true, 1: true, 2: true, 3: false}},
		{name: "oldest forgotten", max: 2, added: 4, want: map[int]bool{0: false, 1: false, 2: true, 3: true}},
		{name: "taken forgotten", max: 4, added: 2, take: []int{1}, want: map[int]bool{0: true, 1: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s minedLocal
			for i := range tt.added {
				s.remember(id(i), tt.max)
			}
			for _, i := range tt.take {
				if !s.take(id(i)) {
					t.Fatalf("take %d: not remembered", i)
				}
			}
			for i, want := range tt.want {
				if got := s.take(id(i)); got != want {
					t.Errorf("id %d remembered %v, want %v", i, got, want)
				}
			}
		})
	}

	var s minedLocal
	for i := range 10_000 {
		s.remember(id(i), 8)
		s.take(id(i)) // returned at once: order keeps ids no longer held
	}
	if len(s.ids) != 0 || len(s.order) > 2*8+1 {
		t.Fatalf("after 10,000 remembered and taken: %d ids, order %d long, want 0 and at most %d", len(s.ids), len(s.order), 2*8+1)
	}
}
