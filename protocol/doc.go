// Package protocol owns what crosses the wire between gossipchain nodes:
// the GossipSub topic names and stream protocol ids (namespaced by the
// network id), the sync protocol's messages and their length-delimited
// codec, and the size limits every reader enforces. It imports chain for
// the types it carries and never a libp2p host.
package protocol
