// Package chain owns everything in gossipchain that knows nothing of the
// network: blocks, headers and transactions with their canonical encodings
// and hashes, proof of work and retargeting, the rules a block must follow,
// the ledger of balances and nonces, the block tree with fork choice and
// reorganisations, the orphan pool, the mempool, and the miner.
//
// It does not own storage (it declares the Store it needs; chain/store
// provides it on bbolt), the wire (package protocol), peers (package p2p)
// or the wiring of chain, mempool and miner into a running node (package
// node).
//
// # Rules
//
// A network is a Params value named by its genesis block. A block is
// accepted in three layers, each needing more context than the last:
//
//  1. Sanity (CheckBlockSanity, CheckTxSanity): size and count limits,
//     header version, a target within the network's limit, the hash at or
//     below that target, the merkle root of the transaction ids, one
//     coinbase and first, no duplicate transaction, and each transaction's
//     own fields and signature. Gossip runs this layer before forwarding.
//  2. Context (CheckHeaderContext): height is the parent's plus one, the
//     target is the retargeted one (NextBits), the timestamp is above the
//     median of the last MedianTimeBlocks and not more than MaxFutureDrift
//     ahead of the local clock.
//  3. Connect (StateView.ConnectBlock): the coinbase pays exactly reward
//     plus fees, every sender's nonce is its next, no balance goes below
//     zero (signed networks), and on unsigned networks no transaction is
//     mined twice.
//
// The main chain is the valid branch with the most cumulative work; a tie
// keeps the branch seen first. A heavier branch wins whatever its depth:
// the ledger is rolled back with per-block undo records and rolled forward
// along the new branch, all in one store transaction, so a failure half
// way leaves the old chain in place. A block that breaks a rule is
// remembered, and so are its descendants, and is refused again without
// being checked.
//
// # Errors
//
// Every broken rule is a *RuleError whose Code is an ErrorCode; the codes
// are errors themselves, so callers write errors.Is(err, chain.ErrBadNonce).
// ErrorCode.Transient separates "not now" (unknown parent, duplicate, a
// timestamp slightly in the future) from faults; gossip ignores the first
// kind and penalises the sender for the second. Failures that are not rule
// errors (store I/O, a cancelled context) are our own and carry no code.
//
// # Concurrency
//
// A Chain serialises its writes on one mutex and publishes the tip through
// an atomic pointer; reads go to the store and never wait for a write. The
// Mempool has its own mutex. Neither calls the other: the caller hands the
// Change that ProcessBlock returns to Mempool.Reorg.
package chain
