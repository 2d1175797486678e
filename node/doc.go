// Package node composes one gossipchain node: it owns the chain, mempool,
// miner and p2p host of one data directory and carries the events between
// them (a connected block updates the mempool and is published; a gossiped
// transaction enters the mempool).
package node
