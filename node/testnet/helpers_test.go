package testnet_test

import (
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node/testnet"
)

// stepTimeout bounds each step of a test: a side agreeing on a new block,
// a transaction reaching the mempools of a side. Measured with -race on
// 2 cores they take tens of milliseconds; a step that needs the syncer's
// 10 s status refresh still fits.
const stepTimeout = 30 * time.Second

// mineRound mines k blocks on the given nodes in turn, waiting after
// each for the miner's side of the network to agree, so no two blocks
// compete at one height.
func mineRound(nt *testnet.Net, nodes []int, k int) {
	for j := range k {
		i := nodes[j%len(nodes)]
		nt.Mine(i, 1)
		nt.WaitConverged(stepTimeout, nt.Side(i)...)
	}
}

func ids(txs ...*chain.Transaction) []chain.Hash {
	out := make([]chain.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.ID()
	}
	return out
}
