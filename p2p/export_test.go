package p2p

// PeerEntries is how many peers the syncer keeps state for, for tests
// that check the table does not outlive its peers.
func (s *Syncer) PeerEntries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.peers) + int(s.table.Load())
}
