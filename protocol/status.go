package protocol

import (
	"math/big"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// MaxWorkBytes bounds the big-endian total work of a Status. Work per
// block is below 2^256, and no chain will ever sum to more.
const MaxWorkBytes = 32

// Status is a peer's description of its chain: what network, where its
// main chain ends, and how much work that chain holds. The syncer compares
// Work with our own to decide whether to ask for headers.
type Status struct {
	Genesis chain.Hash // the network id; differs, and we hang up
	Tip     chain.Hash
	Height  uint64
	Work    *big.Int // cumulative, genesis included: always > 0
}

// StatusFromPB checks a Status: 32-byte hashes; total work of 1 to 32
// bytes in minimal big-endian form (no leading zero byte), so every work
// value has one encoding and zero, which no chain has, none; and the tip
// is the genesis exactly at height 0, as it is on every real chain.
// Whether Genesis is our network is for the caller, who knows it.
func StatusFromPB(m *pb.Status) (Status, error) {
	var s Status
	if err := hashFromBytes(&s.Genesis, m.GetGenesis(), "status genesis"); err != nil {
		return Status{}, err
	}
	if err := hashFromBytes(&s.Tip, m.GetTip(), "status tip"); err != nil {
		return Status{}, err
	}
	s.Height = m.GetHeight()
	if (s.Height == 0) != (s.Tip == s.Genesis) {
		return Status{}, badMessage("status tip %s at height %d, genesis %s", s.Tip.Short(), s.Height, s.Genesis.Short())
	}
	w := m.GetTotalWork()
	switch {
	case len(w) == 0:
		return Status{}, badMessage("status without work")
	case len(w) > MaxWorkBytes:
		return Status{}, badMessage("status work of %d bytes, limit %d", len(w), MaxWorkBytes)
	case w[0] == 0:
		return Status{}, badMessage("status work with a leading zero byte")
	}
	s.Work = new(big.Int).SetBytes(w)
	return s, nil
}

// StatusToPB encodes s. A nil or non-positive Work encodes as empty,
// which StatusFromPB refuses: a status without work is a bug.
func StatusToPB(s Status) *pb.Status {
	m := &pb.Status{Genesis: s.Genesis[:], Tip: s.Tip[:], Height: s.Height}
	if s.Work != nil && s.Work.Sign() > 0 {
		m.TotalWork = s.Work.Bytes()
	}
	return m
}

// hashFromBytes sets h from b, which must be exactly chain.HashSize bytes.
func hashFromBytes(h *chain.Hash, b []byte, what string) error {
	if len(b) != chain.HashSize {
		return badMessage("%s is %d bytes, want %d", what, len(b), chain.HashSize)
	}
	copy(h[:], b)
	return nil
}
