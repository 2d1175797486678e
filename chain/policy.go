package chain

import "time"

// Policy limits of this package in one place: how much a node keeps of
// what is not (yet) on its main chain. None is consensus: two nodes with
// other values still agree on every block. The wire's limits are in
// protocol/limits.go, the consensus limits beside the types they bound
// (MaxBlockSize, MaxBlockTxs in block.go; MaxNameLen, MaxAmount, MaxTxSize
// in tx.go; MaxLocatorLen in locator.go), the network layer's in
// p2p/limits.go. docs/architecture.md lists where each limit lives.

// Mempool limits by default (WithMaxTxs, WithMaxBytes,
// WithMaxPerSender): the count bounds bookkeeping, the bytes bound memory
// (10,000 transactions of at most MaxTxSize fit well inside them), and
// the per-sender cap bounds the time one sender's pending chain costs
// each admission.
const (
	defaultMempoolTxs   = 10_000
	defaultMempoolBytes = 32 << 20
	defaultPerSender    = 64
)

// Queue of early nonces (mempool_queue.go). A gossip burst reorders
// transactions of one sender by a few places at most, so a window of 16
// nonces is plenty; the total bounds are small next to the pending pool's because queued
// transactions are checked only for their signature and that their
// sender could pay for them alone. Ten minutes is far longer than any
// reordering in flight; a gap that lasts that long is a lost transaction,
// which the sender's wallet sends again.
const (
	defaultQueueWindow    = 16
	defaultQueuePerSender = 16
	defaultQueueTxs       = 1024
	defaultQueueBytes     = 1 << 20
	defaultQueueTTL       = 10 * time.Minute
)

// defaultSigCache is how many verified signatures a chain remembers
// (about 120 bytes each, 8 MiB in all): several times the mempool's
// 10,000, so a transaction admitted under churn is still remembered when
// its block comes, and more than a few full blocks (about 2,300 signed
// transfers each) synced in one batch.
const defaultSigCache = 1 << 16

// workGateSlack is how many blocks' work (at the tip's target) an
// unrequested block's branch may fall short of the tip by and still count
// as an honest race lost (ErrNotHeavier, no fault) rather than a cheap
// side branch (ErrLowWork, a fault; protocol.md §9.5): one, for a rival
// of the tip that arrives as late as one more block (staleMinerWindow
// widens it for blocks on recent parents). Either way nothing is stored.
const workGateSlack = 1

// staleMinerWindow: a block that falls short of the tip by more than
// workGateSlack but whose parent is at most this old, at a target at
// most one retarget step easier than the tip's, is a miner's that was
// behind (ErrNotHeavier, no fault; protocol.md §9.5 rule 3), not a cheap
// side branch. Honest miners forward their own blocks, built on the tip
// they hold: under load, or after a partition, that tip can trail the
// network's by several blocks (15 in the five-node testnet at 8,000
// transfers a second), and rejecting the blocks graylisted the miner,
// whose later blocks then reached its peers only by sync, 10 s at a
// time (docs/benchmarks.md).
// Such a block still cost about a block at the network's target;
// branches from older parents, or at easier targets, stay faults.
const staleMinerWindow = 10 * time.Minute

// sideBranchPruneDepth: a side-branch block whose cumulative work is
// more than this many blocks' work (at the tip's target) below the tip's
// is deleted (prune.go, protocol.md §9.6). A hundred blocks is deeper
// than any honest reorganisation, and a branch that does come back from
// there is found again by headers first and its bodies fetched anew.
const sideBranchPruneDepth = 100

// headerChunkLen and headerCacheChunks size the cache of main-chain
// headers HeadersAfter answers from (headercache.go): runs of 2,000, a
// maximal GetHeaders answer, 64 of them (128,000 headers, about 13 MB
// with their hashes). A flood of GetHeaders over a stretch the cache
// holds costs a locator lookup and a copy per request; one that ranges
// over more runs than the cache holds costs what every request cost
// before it, and the peer's header allowance still bounds it.
const (
	headerChunkLen    = 2000
	headerCacheChunks = 64
)

// Orphan pool and invalid-block memory (WithOrphanLimits): blocks whose
// parent has not arrived wait here, bounded so a peer sending unconnectable
// blocks costs at most 32 MiB; the hashes of blocks found invalid are
// remembered so their descendants are refused without work.
const (
	defaultOrphans       = 256
	defaultOrphanBytes   = 32 << 20
	defaultInvalidMemory = 4096
)

// DefaultMinRelayFee is the minimum relay fee a node asks on signed
// networks by default (WithMinRelayFee; the node's --min-relay-fee): one
// coin per 1,000 bytes of a transaction's encoding, rounded up per
// transaction, so a signed transfer (225 bytes) pays at least one coin.
// Coins are indivisible, so one is the least fee that is not free. At fee
// 0 a key holding one coin could fill every block with self-transfers;
// at one coin a transfer, a block's 512 KiB (about 2,300 transfers)
// costs about 2,300 coins, 46 block rewards, for each block filled, while
// an honest transfer pays 2% of one block's reward. The open network has
// no minimum: its fees are not backed by balances, so a minimum would
// cost an attacker nothing, and the classic client sends no fee.
const DefaultMinRelayFee FeeRate = NetworkMinRelayFee

// NetworkMinRelayFee is the signed networks' floor under every node's
// minimum relay fee (Params.RelayFeeFloor, protocol.md §11.7 rule 5):
// one coin per 1,000 bytes, the default minimum itself. A node may ask
// more (--min-relay-fee), never less. A fee below a node's own minimum is
// that node's policy, and a peer whose operator asks less relays such
// transactions in good faith, so they cost their sender nothing; a fee
// below the floor is refused by every node alike, so relaying one is a
// fault that costs the peer its connection like any never-valid
// transaction, and zero-fee bloat stops at the first few messages of
// each identity instead of being read as long as it is sent.
const NetworkMinRelayFee FeeRate = 1

// defaultPendingTTL is how long a transaction may stay pending
// (WithPendingTTL), counted from when this node first admitted it, across
// restarts. Bitcoin Core expires after two weeks (72 hours before 0.14),
// about 2,000 of its blocks; Dogecoin, with 1-minute blocks, after a day.
// A day is 17,280 devnet blocks, and a full pool
// (10,000 transactions) drains in a handful of blocks, so a transaction
// that waited a day has been outbid for thousands of blocks and will not
// win. A day still covers a node that is down overnight and a partition
// that takes hours to heal. Without a bound, a transaction that never
// wins holds its slot, and its bytes in mempool.dat, for ever.
const defaultPendingTTL = 24 * time.Hour
