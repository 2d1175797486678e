// Package protocol owns what crosses the wire between gossipchain nodes:
// the GossipSub topic names and stream protocol ids (namespaced by the
// network id), the sync protocol's messages and their length-delimited
// codec, and the size limits every reader enforces. It imports chain for
// the types it carries and never a libp2p host: streams reach it as an
// io.Reader and io.Writer, so everything here is tested without a network.
//
// # Sync protocol
//
// The schema is pb/sync.proto. A client opens a stream, writes one
// Request and reads Responses until the server closes:
//
//   - Status → Status: genesis, tip, height and total work of each side.
//   - GetHeaders{locator, stop, max} → Headers: main-chain headers after
//     the fork point, at most max, linked oldest first.
//   - GetBlocks{hashes} → Block, Block, …: the blocks asked for in order,
//     stopping at the first the server lacks.
//   - any request → Error{code, message} when the server refuses.
//
// # Compact blocks and the blocktxn protocol
//
// The block topic carries compact blocks (compact.go, after BIP152): a
// header, a nonce, 48-bit SipHash short ids of the transactions the
// receiver should have, and the others whole, the coinbase always. A
// receiver that lacks some asks the sender on the blocktxn protocol
// (blocktxn.go): one request of indexes, one answer of transactions, each
// delimited by the end of its side of the stream and bounded by
// MaxBlockTxnRequestSize and MaxBlockTxnResponseSize.
//
// # Checks, in the order a message meets them
//
//  1. Framing (Reader): a length prefix over MaxRequestSize or
//     MaxMessageSize is refused before anything is allocated; the body
//     buffer grows only as bytes arrive; the bytes must decode.
//  2. Requests, on the server (StatusFromPB, ValidateGetHeaders,
//     ValidateGetBlocks): every hash 32 bytes, every count within its
//     limit, before any store read.
//  3. Responses, on the client (StatusFromResponse, HeadersFromResponse,
//     BlockFromResponse): the answer is the kind asked for, has no more
//     items than asked, headers start at the locator and link, a block is
//     the one asked for. A peer is bounded by what we asked, not only by
//     the protocol's maxima.
//
// What this package leaves out: whether a header or block obeys the chain
// rules (proof of work, targets, signatures) is chain's to check; stream
// deadlines, rate limits and penalties are p2p's, using the constants
// here; whether a Status's genesis is our network is the caller's.
//
// # Errors
//
// Every error about a peer's message wraps ErrBadMessage, and some also a
// finer sentinel (ErrMessageTooLarge, ErrUnrequested); errors from chain's
// decoders stay wrapped too, so errors.Is(err, chain.ErrMalformed) holds.
// An Error response becomes a *RemoteError, which is ErrRemote. Errors of
// the stream itself pass through: io.EOF means a clean end between
// messages, io.ErrUnexpectedEOF a stream cut inside one.
package protocol
