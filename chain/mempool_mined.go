package chain

// minedLocal remembers the ids of this node's own transactions (AddLocal)
// that left the pool in a connected block, so that if the block is
// disconnected they come back as local (Mempool.Reorg). Without it a
// returned transaction counted as a peer's everywhere, also on the node
// whose client submitted it, and pools full of their own clients'
// transactions evicted it on every node: the 5-node testnet at 250 ms
// blocks lost 2,934 submitted transfers that way (docs/benchmarks.md).
//
// It is bounded by the pool's transaction limit, oldest forgotten first:
// a block deeper than a pool's worth of this node's own transactions is
// rarely disconnected, and its transactions then come back as peers'.
// It is guarded by Mempool.mu.
type minedLocal struct {
	ids   map[Hash]struct{}
	order []Hash // oldest first; may hold ids already taken
}

// remember notes id, forgetting the oldest past max.
func (s *minedLocal) remember(id Hash, max int) {
	if s.ids == nil {
		s.ids = make(map[Hash]struct{})
	}
	if _, ok := s.ids[id]; ok {
		return
	}
	s.ids[id] = struct{}{}
	s.order = append(s.order, id)
	for len(s.ids) > max && len(s.order) > 0 {
		delete(s.ids, s.order[0])
		s.order = s.order[1:]
	}
	// Taken ids stay in order until they reach its head: compact when
	// they are most of it, so order stays within twice max.
	if len(s.order) > 2*max {
		live := make([]Hash, 0, len(s.ids))
		for _, h := range s.order {
			if _, ok := s.ids[h]; ok {
				live = append(live, h)
			}
		}
		s.order = live
	}
}

// take reports whether id was remembered, and forgets it.
func (s *minedLocal) take(id Hash) bool {
	if _, ok := s.ids[id]; !ok {
		return false
	}
	delete(s.ids, id)
	return true
}
