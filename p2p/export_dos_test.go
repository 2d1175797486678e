package p2p

// CountLoopbackBans makes h's gate count bans against loopback addresses
// as against any other IP (protocol.md §14.4 rule 2), so that a
// measurement on loopback sees the per-IP bound a remote attacker meets.
func (h *Host) CountLoopbackBans() { h.gater.ipExempt = nil }
