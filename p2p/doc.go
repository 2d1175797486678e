// Package p2p owns a node's place in the network: the libp2p host and its
// identity, peer discovery (mDNS and bootstrap peers), GossipSub topics and
// their validators, and the chain-sync stream protocol with the syncer that
// moves the node to the peers' most-work chain. It reaches the chain only
// through the narrow interface it declares.
package p2p
