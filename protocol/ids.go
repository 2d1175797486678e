package protocol

import (
	"encoding/hex"

	"github.com/gossipchain/gossipchain/chain"
)

// Every name a node uses on the network lives in this file, namespaced by
// the network id (the genesis hash), so nodes of different networks never
// share a topic, a protocol or an mDNS service. NetTag is the first 8
// bytes of the id in hex: unique enough to keep networks apart, short
// enough for a DNS label; the status exchange compares the whole id.

// NetTag returns the short network name used inside ids and topics.
func NetTag(network chain.Hash) string { return hex.EncodeToString(network[:8]) }

// TxTopic is the GossipSub topic of transactions. Version 3: a message
// is a batch of transactions (txbatch.go), where version 2 carried one;
// version 2 dropped GossipSub's signature, which version 1 carried.
// Nodes of different versions never share a topic.
func TxTopic(network chain.Hash) string { return "/gossipchain/" + NetTag(network) + "/tx/3" }

// BlockTopic is the GossipSub topic of blocks. Version 3: the payload is
// a compact block (compact.go), where version 2 carried the whole block.
func BlockTopic(network chain.Hash) string { return "/gossipchain/" + NetTag(network) + "/block/3" }

// SyncProtocol is the stream protocol id of chain sync.
func SyncProtocol(network chain.Hash) string {
	return "/gossipchain/" + NetTag(network) + "/sync/1.0.0"
}

// BlockTxnProtocol is the stream protocol id on which a node asks the
// peer that gossiped it a compact block for the transactions it lacks.
func BlockTxnProtocol(network chain.Hash) string {
	return "/gossipchain/" + NetTag(network) + "/blocktxn/1.0.0"
}

// MDNSService is the mDNS service name nodes of one network advertise.
func MDNSService(network chain.Hash) string { return "gossipchain-" + NetTag(network) }

// MapProtocol is the stream protocol id of the network map (a node's
// peers and tip, for the explorer). Only nodes that answer it register it.
func MapProtocol(network chain.Hash) string {
	return "/gossipchain/" + NetTag(network) + "/netmap/1.0.0"
}

// DHTPrefix is the protocol prefix of the network's Kademlia DHT:
// go-libp2p-kad-dht appends "/kad/1.0.0". A prefix of our own makes each
// gossipchain network a DHT of its own, apart from the IPFS one
// ("/ipfs/kad/1.0.0") and from every other gossipchain network.
func DHTPrefix(network chain.Hash) string { return "/gossipchain/" + NetTag(network) }

// Rendezvous is the namespace nodes advertise themselves under in the
// DHT and look each other up by. go-libp2p's routing discovery turns it
// into a content id (the SHA-256 multihash of the string) and stores
// provider records for it.
func Rendezvous(network chain.Hash) string { return "gossipchain/" + NetTag(network) + "/peers/1" }
