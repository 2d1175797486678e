package protocol

import (
	"encoding/binary"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// Size and count limits of everything a node reads from a peer. Each is
// checked before anything is allocated for it, so no number a peer sends
// sizes a buffer beyond these. The tests check the relations stated here
// (the largest valid message fits its limit).
const (
	// MaxMessageSize bounds one sync message, the length prefix excluded.
	// The largest legitimate one is a Response carrying a block of
	// chain.MaxBlockSize: 8 bytes of protobuf framing on top (two tags,
	// two 3-byte lengths). A full Headers response is under 200 KB. The
	// extra KiB lets a later optional field in Response or Block ship
	// without a coordinated limit change.
	MaxMessageSize = chain.MaxBlockSize + 1<<10

	// MaxRequestSize bounds one sync request. The largest valid one is a
	// GetBlocks of MaxBlocksPerRequest hashes, about 4.4 KB; a server need
	// not buffer half a megabyte because a client claims it will send one.
	MaxRequestSize = 8 << 10

	// MaxHeadersPerResponse bounds a Headers response, and the max a
	// GetHeaders may ask for (Bitcoin's number). 2000 headers are 192 KB
	// on the wire, almost three hours of devnet's 5-second blocks per
	// round trip, and at most that much unverified data per request.
	MaxHeadersPerResponse = 2000

	// MaxBlocksPerRequest bounds the hashes of one GetBlocks. At most
	// 64 MiB of blocks per stream, and, with the per-block deadline of
	// ResponseTimeout, a stalling peer holds one stream for minutes, not
	// hours. The syncer spreads larger downloads over several requests
	// and peers.
	MaxBlocksPerRequest = 128

	// MaxLocatorLen bounds the locator of a GetHeaders. chain.Locator
	// never builds a longer one and chain.HeadersAfter refuses one.
	MaxLocatorLen = chain.MaxLocatorLen

	// MaxErrorMessageLen bounds the text of an Error response: enough for
	// a sentence, and all a peer may make us log.
	MaxErrorMessageLen = 256

	// MaxGossipMessageSize is for GossipSub's WithMaxMessageSize, which
	// bounds a whole pubsub RPC frame (envelope, signature, key, topic
	// name, control messages) and not only our payload. 1 MiB is the
	// go-libp2p-pubsub default and what other implementations assume: a
	// frame over the receiver's limit makes it drop the sender's
	// subscriptions for the rest of the connection (docs/architecture.md, pitfalls), so we
	// must never send more than peers with default settings accept. The
	// largest block, chain.MaxBlockSize = 512 KiB, leaves half a MiB for
	// the envelope, which is a few hundred bytes.
	MaxGossipMessageSize = 1 << 20

	// MaxBlockMessageSize bounds the payload of the block topic: one
	// compact block (compact.go). The largest sends every transaction of
	// a maximal block whole: the block's bytes, plus the nonce, an empty
	// short-id list and a one-byte index difference per transaction,
	// under 4.2 KB; 8 KiB covers them.
	MaxBlockMessageSize = chain.MaxBlockSize + 8<<10

	// MaxBlockTxnRequestSize bounds a request for a compact block's
	// missing transactions (blocktxn.go): the block hash, a count and at
	// most chain.MaxBlockTxs-1 index differences of at most 2 bytes each,
	// about 8.2 KB.
	MaxBlockTxnRequestSize = 9 << 10

	// MaxBlockTxnResponseSize bounds the answer: the block hash, a count
	// and transactions that fit in one block.
	MaxBlockTxnResponseSize = chain.HashSize + binary.MaxVarintLen16 + chain.MaxBlockSize

	// MaxTxMessageSize bounds one transaction of the transaction topic's
	// batches: one canonical transaction encoding.
	MaxTxMessageSize = chain.MaxTxSize

	// MaxTxBatchTxs bounds the transactions of one message of the
	// transaction topic (txbatch.go). Enough that a node admitting a few
	// thousand transactions a second sends a few dozen messages, not
	// thousands; few enough that a hostile batch costs a validator at
	// most 256 signature checks (about 12 ms on one core), as 256
	// single-transaction messages did.
	MaxTxBatchTxs = 256

	// MaxTxBatchSize bounds the payload of one message of the transaction
	// topic: 256 ordinary transfers (about 200 bytes each) fit; fewer
	// transactions of the largest size. Far inside MaxGossipMessageSize.
	MaxTxBatchSize = 64 << 10
)

// Stream deadlines. A peer that misses one has its stream reset; the
// syncer asks someone else. Every value leaves room for a congested link
// and a busy peer, and none lets a silent peer hold a stream for long.
const (
	// StatusTimeout bounds the whole status exchange: open the stream,
	// write our Status, read theirs. Both are ~120 bytes and need no disk
	// read: a peer slower than this is no use for sync.
	StatusTimeout = 10 * time.Second

	// RequestReadTimeout bounds, on the server, the time from a stream
	// opening to its request read in full. Clients write the request at
	// once; a stream that sends nothing only holds our resources.
	RequestReadTimeout = 10 * time.Second

	// RequestTimeout bounds, on the client, one GetHeaders exchange from
	// writing the request to the last header read, and for GetBlocks the
	// wait for the first block. It covers the server's store reads.
	RequestTimeout = 30 * time.Second

	// ResponseLatency is the fixed part of the deadline for each further
	// response message (see ResponseTimeout): a round trip and a store
	// read on a loaded peer.
	ResponseLatency = 5 * time.Second

	// MinTransferRate, in bytes per second, is the slowest a peer may
	// stream responses before we give up on it (Lotus uses 50 KiB/s). It
	// makes a maximal block due within ResponseTimeout(MaxMessageSize),
	// about 13 s, and 128 such blocks within 28 minutes.
	MinTransferRate = 64 << 10

	// BlockTxnTimeout bounds, on the client, a request for a compact
	// block's missing transactions, from opening the stream to the last
	// byte of the answer. The peer that sent the compact block holds the
	// transactions in memory or in one stored block: a round trip and a
	// read. It is short because the block validator waits on it; past it
	// the block is fetched whole (protocol.md §16.6).
	BlockTxnTimeout = 3 * time.Second
)

// ResponseTimeout returns how long to wait for one response message of up
// to size bytes after the previous one: ResponseLatency plus the size at
// MinTransferRate. Deadlines set per message, not per stream, let a fast
// peer finish a long download while a peer trickling a few bytes a second
// to keep a stream open fails its next deadline. Servers use the same
// bound for each write to a slow reader.
func ResponseTimeout(size int) time.Duration {
	return ResponseLatency + time.Duration(size)*time.Second/MinTransferRate
}

// The network-map protocol (netmap.go, docs/protocol.md §19). An answer
// is small and bounded whatever the answering node's peer count: it lists
// a sample of its connections, not all of them.
const (
	// MaxMapPeers bounds the peers of one PeerList: more than a node's
	// GossipSub mesh and sync peers together, and enough to draw a LAN.
	MaxMapPeers = 64
	// MaxMapSeen bounds the seen blocks of one PeerList: the last few
	// minutes of devnet's blocks, what the propagation view compares.
	MaxMapSeen = 32
	// MaxPeerIDBytes bounds a binary peer ID. An ed25519 ID (identity
	// multihash) is 38 bytes, a hashed one (RSA, secp256k1) 34.
	MaxPeerIDBytes = 64
	// MaxTransportLen bounds a transport name ("quic-v1" is 7).
	MaxTransportLen = 16
	// MaxPeerListSize bounds one PeerList, the length prefix excluded. A
	// list at every other limit above encodes to 10,093 bytes
	// (TestMaxPeerListFits); the rest is room for a later field.
	MaxPeerListSize = 16 << 10
	// PeerListTimeout bounds, on the client, opening a map stream and
	// reading the answer, and on the server writing it. The answer needs
	// no disk read.
	PeerListTimeout = 10 * time.Second
)
