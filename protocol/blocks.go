package protocol

import (
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// ValidateGetBlocks checks a GetBlocks on the server before any store
// read: 1 to MaxBlocksPerRequest hashes, each 32 bytes, none twice (a
// repeated hash would make us send the same block again for nothing).
func ValidateGetBlocks(m *pb.GetBlocks) ([]chain.Hash, error) {
	raw := m.GetHashes()
	if len(raw) == 0 || len(raw) > MaxBlocksPerRequest {
		return nil, badMessage("%d block hashes, want 1 to %d", len(raw), MaxBlocksPerRequest)
	}
	out := make([]chain.Hash, len(raw))
	seen := make(map[chain.Hash]struct{}, len(raw))
	for i, b := range raw {
		if err := hashFromBytes(&out[i], b, "block hash"); err != nil {
			return nil, err
		}
		if _, dup := seen[out[i]]; dup {
			return nil, badMessage("block hash %s asked for twice", out[i].Short())
		}
		seen[out[i]] = struct{}{}
	}
	return out, nil
}

// GetBlocksToPB encodes a request for blocks by hash.
func GetBlocksToPB(hashes []chain.Hash) *pb.GetBlocks {
	m := &pb.GetBlocks{Hashes: make([][]byte, len(hashes))}
	for i := range hashes {
		m.Hashes[i] = hashes[i][:]
	}
	return m
}

// BlockFromPB decodes a block with chain.DecodeBlock, which bounds its
// size and transaction count before allocating. It checks the encoding
// only; BlockFromResponse also checks that it is the block asked for.
// Errors wrap ErrBadMessage and chain's rule error.
func BlockFromPB(m *pb.Block) (*chain.Block, error) {
	b, err := chain.DecodeBlock(m.GetBlock())
	if err != nil {
		return nil, badMessage("block: %w", err)
	}
	return b, nil
}
