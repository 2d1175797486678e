package p2p

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// FetchBlock asks p for one block by hash (GetBlocks with one hash) and
// returns it checked to be the block asked for. Gossip calls it for a
// compact block it could not rebuild; unlike a download it does not go
// through the loop, since the validator that waits on it holds the
// block's fate and its own deadline. A fault (an unrequested or malformed
// answer) gets p banned as in a download.
func (s *Syncer) FetchBlock(ctx context.Context, p peer.ID, h chain.Hash) (*chain.Block, error) {
	bs, err := s.getBlocks(ctx, p, []chain.Hash{h})
	if err != nil {
		if isFault(err) {
			s.punish(p, err)
		}
		return nil, fmt.Errorf("fetch block %s: %w", h.Short(), err)
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("fetch block %s: %w", h.Short(), errNotServed)
	}
	return bs[0], nil
}
