package p2p

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/gossipchain/gossipchain/protocol"
)

// The policy limits of the network layer: timeouts, rate limits, batch
// sizes, backoffs, ban and cool-down durations, bounded memories and
// GossipSub's score. The wire's own limits (message sizes, protocol
// timeouts) are protocol's, in protocol/limits.go; the mempool's are the
// chain's. Each constant here says why it has its value.

// Connection manager defaults. A node needs a handful of peers for
// GossipSub (mesh degree 6, at most 12) and a few more to sync from; past
// that each peer only costs bandwidth. Trimming starts above ConnHigh and
// goes down to ConnLow, sparing connections younger than the grace period
// so a peer has time to finish the status exchange.
const (
	DefaultConnLow   = 32
	DefaultConnHigh  = 96
	DefaultConnGrace = time.Minute
)

// Dial loops (dialer.go).
const (
	// defaultBackoffMin and defaultBackoffMax: the first retry comes after
	// about a second, doubling to a cap of a minute, so a bootstrap node
	// that restarts is back within a minute and one that is down for good
	// costs one dial a minute.
	defaultBackoffMin = time.Second
	defaultBackoffMax = time.Minute
	// stableAfter is how long a connection must last before the next
	// disconnect starts the backoff again from the minimum; a peer that
	// accepts and drops us at once keeps backing off.
	stableAfter = 30 * time.Second
	// dialTimeout bounds one dial attempt, all addresses included: long
	// enough for a slow handshake over every transport a peer announces.
	dialTimeout = 30 * time.Second
	// rememberedMaxFailures and mdnsMaxFailures: consecutive failed dials
	// (about 1+2+4+8+16+32 s) after which a candidate peer is dropped.
	rememberedMaxFailures = 6
	mdnsMaxFailures       = 6
)

// Discovery and the host's event loop (discovery.go).
const (
	// defaultMDNSYield is how long the peer with the larger ID waits,
	// after an mDNS discovery, for the smaller one to dial it before
	// dialling itself. Two peers that dial each other at the same instant
	// can both fail the handshake and stay apart (go-libp2p issue 2925),
	// so normally only the smaller ID dials; the wait is the fallback for
	// a peer whose multicast only goes one way.
	defaultMDNSYield = 10 * time.Second
	// mdnsNewPerMinute and mdnsMaxLoops bound the dial loops mDNS
	// announcements start: anyone on the LAN can announce any number of
	// peer IDs. A LAN of a few dozen nodes is found within a couple of
	// minutes (announcements repeat), and more mDNS peers than the
	// connection manager's low water would only be trimmed again.
	mdnsNewPerMinute = 16
	mdnsMaxLoops     = DefaultConnLow
	// eventBuffer is the connectedness event queue. The loop never
	// blocks, so this only absorbs bursts (a restart reconnecting to many
	// peers).
	eventBuffer = 256
)

// Peer memory, peers.json (peermemory.go).
const (
	// maxTriedPeers and maxNewPeers bound the two tables (64 in all):
	// more than the connection manager's low water would only be dialled
	// to be trimmed again.
	maxTriedPeers = 32
	maxNewPeers   = 32
	// maxPeersPerGroup is how many entries of one network group (a /16,
	// a /32 of IPv6, one LAN machine) either table holds: a quarter, so
	// an attacker needs four groups to fill the new table, and a group
	// pushes out only its own entries until the table is full.
	maxPeersPerGroup = 8
	// restartNewDials is how many new (heard-of, never dialled) peers a
	// restart dials beside every tried one: enough to find the network
	// again if the tried peers are gone, few enough that they are a
	// minority of the dials while a handful of tried peers remain.
	restartNewDials = 8
	// maxRememberedAddrs bounds one peer's addresses; identify can report
	// many (one per interface and transport).
	maxRememberedAddrs = 8
	// maxPeersFileSize is far above 64 peers × 8 addresses; a larger file
	// is not ours.
	maxPeersFileSize = 1 << 20
	// defaultMemoryDelay debounces writes: a burst of connects (a restart,
	// a LAN coming up) is one write, and addresses learnt by identify a
	// moment after the connect make it into that write.
	defaultMemoryDelay = 5 * time.Second
)

// maxNodeKeySize caps how much of node.key is read. A marshalled ed25519
// key is 68 bytes; anything near the cap is not a key.
const maxNodeKeySize = 4 << 10

// Gossip validators (gossip.go).
const (
	// blockValidateTimeout and txValidateTimeout: a block of 4,096 signed
	// transactions takes well under a second to check here; a validator
	// that takes longer is our fault, and GossipSub ignores the message
	// rather than penalise anyone.
	blockValidateTimeout = 10 * time.Second
	txValidateTimeout    = 2 * time.Second
	// blockValidators is how many blocks are validated at once: each holds
	// a decoded block of up to MaxBlockSize while it waits for the chain,
	// which connects one block at a time anyway.
	blockValidators = 4
	// parentWait bounds how long a gossiped block waits for its parent's
	// validation under way here (inflight.go). A parent normally ends
	// within a missing-transaction request's BlockTxnTimeout (3 s) and a
	// connect; past this it is being fetched whole, and the child is
	// left to sync. Half the validator's timeout leaves the child's own
	// assembly the other half, a request to its sender included.
	parentWait = blockValidateTimeout / 2
	// maxOrphansSeen is how many orphan blocks' hashes gossip remembers,
	// to ignore their other messages (Gossip.orphans): an honest node
	// meets a few at a time, while it syncs their parents.
	maxOrphansSeen = 256
)

// Transaction batches (txbatch.go, protocol.md §16.9).
const (
	// defaultTxBatchWindow is how long the node collects the
	// transactions it admitted from its own API, wallet or rebroadcast
	// before it publishes them as one message: the most a transaction
	// waits for company. Chosen by measurement (docs/benchmarks.md,
	// "Transactions gossiped in batches"): at the five-node load of issue
	// 13 it puts tens of transactions in a message, against the block
	// interval's seconds it is no delay worth counting.
	defaultTxBatchWindow = 20 * time.Millisecond
	// txOutQueue bounds the transactions waiting for the batcher: a
	// submitter past it waits (PublishTx blocks) rather than the queue
	// growing without bound.
	txOutQueue = 4096
)

// Peer scoring (score.go), after the GossipSub v1.1 spec's guidance.
const (
	// scoreDecayInterval is how often counters decay; the decays below
	// are per interval.
	scoreDecayInterval = time.Second
	// invalidMessageWeight is P4's weight; the counter is squared, so n
	// invalid messages cost 100*n² points, and one invalid block takes a
	// peer below gossipThreshold. The counter decays by half in about
	// 69 s, so the penalty halves in about 35 s.
	invalidMessageWeight = -100
	invalidMessageDecay  = 0.99
	// Below gossipThreshold a peer gets no gossip from us, below
	// publishThreshold none of our own messages, below graylistThreshold
	// its messages are dropped unread: one invalid message, one more, a
	// handful.
	gossipThreshold   = -50
	publishThreshold  = -100
	graylistThreshold = -400
	// acceptPXThreshold: peer exchange is taken only from a peer that has
	// earned some score by delivering (P2), not from a newcomer.
	acceptPXThreshold = 10
	// opportunisticGraftThreshold: a mesh whose median score falls below
	// this grafts better peers; a little above zero, so a mesh of idle
	// newcomers is improved once scores are earned.
	opportunisticGraftThreshold = 5
	// ipColocationThreshold: more than three peers behind one IP is
	// suspicious on the internet (loopback is exempt: tests and local
	// networks live there).
	ipColocationThreshold = 3
	// scoreInspectPeriod is how often GossipSub hands us every peer's
	// score for PeerGossip: the explorer polls every few seconds, and
	// each inspection computes every peer's score under GossipSub's lock.
	scoreInspectPeriod = 2 * time.Second
	// maxGossipPeerStats bounds the peers whose gossip counters are
	// remembered (an LRU, peerstats.go): twice the connection manager's
	// high water, so a peer that reconnects finds its counters unless
	// many others were heard from meanwhile.
	maxGossipPeerStats = 2 * DefaultConnHigh
	// maxSeenBlocks is how many recent blocks the propagation view
	// remembers (propagation.go): the explorer's charts show 100.
	maxSeenBlocks = 100
	// retainScore keeps a disconnected peer's score for an hour, so a
	// penalised peer cannot reconnect to a clean slate.
	retainScore = time.Hour
)

// Sync (sync.go, sync_client.go, sync_server.go). A peer that breaks the
// protocol or sends an invalid block is disconnected and refused for
// banTime; one that stalls is only passed over until it sends a new
// status.
const (
	// banTime is long enough that a misbehaving peer's dial loops give
	// up on it or back off to their cap, short enough that a peer banned
	// for a bug of ours, or of an older version, comes back by itself.
	banTime = 10 * time.Minute
	// faultLinger is how long the sync server waits, after answering a
	// bad request with Error 1, before it bans the peer and hangs up:
	// hung up at once, the answer, only queued in yamux, was lost about
	// half the time (docs/protocol.md §17.9). The peer's other requests
	// meanwhile are charged to its allowance as any, and a bad one waits
	// as this one does.
	faultLinger = time.Second
	// graylistBanTime is how long a peer whose rejected transactions
	// alone would graylist it is refused at the gate (graylist.go): a
	// graylisted peer's messages are dropped unread, but each still costs
	// its decryption and decoding while the peer stays connected. As
	// long as a sync ban, for the same reasons.
	graylistBanTime = banTime
	// maxBansPerIP: an IP from which this many peers are banned at once
	// is refused at accept, before the handshake (gater.go), for as long
	// as that many of the bans last. A fresh identity costs an attacker
	// a key and a handshake, and costs us the same handshake: without
	// the bound each identity buys another round of messages. Four
	// spares a NAT shared with a misbehaving peer or two.
	maxBansPerIP = 4
	// maxBannedIPs bounds the IPs whose bans are counted: far more than
	// the connection manager keeps; when full of live entries, a new IP
	// is not counted (its peers' own bans still hold).
	maxBannedIPs = 4096
	// What a peer may ask of the sync server (serve_limits.go): four
	// token buckets per peer, each request charged by what it makes us
	// do.
	//
	// serverRate: every request, of any kind, costs a stream, a read and
	// a decode: 200–330 µs of CPU for the server and the asking peer
	// together on loopback (BenchmarkServeRequest), so a flood of them
	// costs both at most 4–7% of a core per peer. An honest node sends a
	// status every 10 s and, downloading, one GetBlocks per 64 blocks: at
	// 100 a second a download of coinbase-only blocks from one peer was
	// held to 6,400 blocks a second past the burst, where its chain side
	// connects 20,000–38,000; at 200, to 12,800.
	serverRate  = 200 // requests per second
	serverBurst = 400
	// serverHeaderRate: a GetHeaders is charged its max (up to 2,000).
	// Answering 2,000 headers is one store read transaction and 3–5 ms of
	// CPU here (docs/benchmarks.md), so 10,000 headers a second, five
	// maximal requests, cost a peer's server about 2% of a core where 100
	// requests a second used to cost 1.6 cores. An honest client asks for
	// the headers its peer claims above its tip (2,000 at most: see
	// headerSlack) and then downloads their blocks, which takes far
	// longer than 0.2 s for 2,000; the burst lets it fetch ten batches at
	// once.
	serverHeaderRate  = 10_000 // headers per second
	serverHeaderBurst = 20_000
	// serverBlockRate: a GetBlocks is charged one token per hash (a store
	// read each; a block we do not hold is answered from memory). An
	// honest download asks for 64 blocks a request as fast as it can
	// connect them and must not be throttled: blocks of a coinbase alone
	// connect at 20,000–38,000 a second here (SyncCoinbaseOnly's local
	// cases), and at 10,000 a second (burst 2,000) this bucket held a
	// download of 10,000 of them from one peer to 10,000–11,000 a second
	// (docs/benchmarks.md). Past the requests' burst a download from one
	// peer is held to 12,800 (serverRate), and asks up to four peers at
	// once. A peer asking for the same blocks over and over, 128 a
	// request, is held to this: GetBlocks of 128 small blocks cost the
	// server and the peer 0.86 ms together (BenchmarkServeRequest), so
	// about 13% of a core per peer.
	serverBlockRate  = 20_000 // blocks per second
	serverBlockBurst = 8_000
	// serverByteRate: each block sent is charged its encoded size, and an
	// answer the bucket cannot pay for ends there (as at a block we do
	// not have). The burst holds one GetBlocks of 128 maximal blocks
	// (64 MiB), so any valid request is served in full from a full
	// bucket; 16 MiB/s is 128 Mbit/s per peer, more than a node's
	// uplink, so only a peer fetching maximal blocks over and over meets
	// it.
	serverByteRate  = 16 << 20 // bytes per second
	serverByteBurst = 64 << 20
	// serverLimitPeers bounds how many peers' buckets are remembered
	// (an LRU): far more than the connection manager keeps (96), so a
	// peer that hangs up and reconnects finds its buckets as it left them
	// unless a thousand other identities were served meanwhile. Entries
	// need no expiry: the slowest bucket (the bytes: 64 MiB at 16 MiB/s)
	// is full again 4 s after it was emptied, the same as a new one.
	serverLimitPeers = 1024
	// statusInterval is how often the syncer asks every peer for its
	// status even without news. Gossip normally brings every block, but a
	// block forwarded before the mesh formed is lost, and nothing else
	// would tell us the peer is ahead.
	statusInterval = 10 * time.Second
	// requestSyncGap coalesces the status exchanges that blocks arriving
	// ahead of their parents ask for: a fast chain can send dozens a
	// second, and one exchange answers them all.
	requestSyncGap = 500 * time.Millisecond
	// cooldown is how long a peer whose download stalled or made no
	// progress is passed over while it claims the same tip.
	cooldown = time.Minute
	// maxCooledGone bounds the cool-downs kept for peers that hung up
	// while cooling (sync_cool.go): as many as the serve limits' peers,
	// far more than the connection manager keeps.
	maxCooledGone = 1024
	// maxSyncHeaders bounds the headers one download holds while it
	// looks for a run that beats our tip (about 20 MB with their index):
	// a heavier branch normally beats it within the first 2,000, and only
	// a fork whose first 100,000 blocks carry less work than our own
	// chain from the fork point would need more. Past it the peer is
	// cooled down for any tip it claims, and the run is remembered
	// (lowRuns).
	maxSyncHeaders = 100_000
	// headerSlack is what the first GetHeaders of a search for a heavier
	// branch asks for beyond the heights its peer claims above our tip
	// (firstHeaders): a server charges a GetHeaders its max (protocol.md
	// §17.9), and a node following a fast chain a few blocks behind asked
	// for 2,000 each time, ran out of its allowance at five downloads a
	// second and was refused (TestKillMiningNode's followers of a regtest
	// miner). The slack covers a fork point a few blocks below our tip in
	// the same answer (one our locator's dense part names); a deeper one
	// takes the next request, of 2,000.
	headerSlack = 16
	// blocksPerRequest is how many blocks the syncer asks for at once:
	// large enough to keep a link busy, small enough that a batch of
	// maximal blocks (32 MiB) is not much to lose to a bad peer.
	blocksPerRequest = 64
	// maxFetchPeers is how many peers one download fetches bodies from
	// at once, one request each: the leader and three helpers keep a
	// download going when one of them is slow, and more would only
	// split a link that one peer already fills on a LAN.
	maxFetchPeers = 4
	// maxBatchesAhead bounds the batches a download holds from the one
	// it connects next: fetched, being fetched, being checked, waiting
	// to connect or in the commit under way. Sixteen batches of 64
	// blocks let the next eight be fetched and checked while a commit
	// of eight runs (with eight in all, a commit of five left room for
	// three, and the stages took turns instead of overlapping);
	// maxBytesAhead bounds what they hold.
	maxBatchesAhead = 16
	// minCommitBatches and minCommitBytes: a download's commit waits
	// for this many checked batches in order (half the window, 512
	// blocks), or this many bytes of them, while the batch after them
	// is on its way (sync_fetch.go, commitNow); the other half is
	// fetched and checked during the commit. A commit of one batch of
	// small blocks paid two fdatasyncs and the commit's fixed pages for
	// 64 blocks, and each left a core idle meanwhile (benchmarks.md, "A
	// download's commits grouped").
	minCommitBatches = 8
	minCommitBytes   = 4 << 20
	// maxBytesAhead bounds the bytes of blocks a download holds before
	// it asks for more than the batch it connects next: 64 MiB, plus at
	// most one batch per fetching peer under way (4 × 32 MiB of maximal
	// blocks), 192 MiB in all where eight batches of maximal blocks
	// held 256 MiB before.
	maxBytesAhead = 64 << 20
	// stallGrace is how long one peer alone may fetch the batch the
	// window waits on before an idle peer is asked for it too
	// (protocol.md §17.10.1 rule 7): the fixed part of a response's
	// deadline, so a request that is merely under way is not raced.
	stallGrace = protocol.ResponseLatency
	// commitWait: how long the syncer waits for a commit under way
	// before it takes headers that end below a peer's claim for a lie
	// (a commit takes milliseconds, one of a large block with fsync a
	// few tens); a liar is banned that much later.
	commitWait = time.Second
	// announceWait: how long gossip waits for the tip a gossiped block
	// brought to be stored before announcing it (a commit takes
	// milliseconds, one of a large block with fsync a few tens).
	announceWait = 10 * time.Second
	// rateLimitRetries and rateLimitPause bound how long a download waits
	// out a peer's rate limit before giving up on it: 0.2 s, doubling,
	// five times.
	rateLimitRetries = 5
	rateLimitPause   = 200 * time.Millisecond
)

// The network map (netmap.go, protocol.md §19).
const (
	// mapInterval is how often a node asks each peer for its map answer:
	// the explorer redraws every few seconds, and an answer is at most
	// protocol.MaxPeerListSize (16 KiB), so 96 peers cost 150 KiB every
	// 10 s, both ways.
	mapInterval = 10 * time.Second
	// mapFirstRound is how soon after start the first round goes: after
	// identify has told us which peers speak the protocol.
	mapFirstRound = 2 * time.Second
	// mapConcurrency bounds the requests of one round under way at once.
	mapConcurrency = 8
	// mapServeRate and mapServeBurst: what one peer may ask of our map
	// server. An honest peer asks every mapInterval; five times that
	// rate leaves room for a restart, and an answer costs a walk of our
	// connections and a 16 KiB write at most.
	mapServeRate  = rate.Limit(1.0 / 2) // answers per second
	mapServeBurst = 5
)

// DHT discovery (dht.go). A DHT record is anyone's to write, so what the
// lookups can make a node dial is bounded: a few new peers per lookup,
// and no more DHT peers being dialled at once than the connection
// manager's low water mark would keep.
const (
	// dhtWaitPeers is how often discovery checks, before it starts, for
	// a peer in the routing table to advertise to.
	dhtWaitPeers = time.Second
	// dhtFindMin and dhtFindMax bound the wait between lookups: soon
	// after start, when a new node knows nobody, then doubling, and
	// dhtFindMin again after our own addresses change. A node that joins
	// later looks us up itself.
	dhtFindMin = 2 * time.Second
	dhtFindMax = time.Minute
	// dhtFindTimeout ends one lookup; dhtFindLimit caps its records.
	dhtFindTimeout = 30 * time.Second
	dhtFindLimit   = 64
	// dhtNewPerRound caps the new dial loops one lookup starts;
	// dhtMaxLoops the DHT's dial loops at once; dhtMaxFailures the
	// failed dials before a DHT peer is given up (its record may be old).
	// maxProviders caps the provider records a DHT server keeps for the
	// rendezvous key (dhtstore.go): one per node that announces itself,
	// far more than a network's connection manager keeps in touch with.
	maxProviders   = 4096
	dhtNewPerRound = 8
	dhtMaxLoops    = DefaultConnLow / 2
	dhtMaxFailures = 3
)

// NAT traversal (nat.go). The relay service runs only on nodes AutoNAT
// finds public, and is sized for what it is for here: carrying a hole
// punch's coordination and the first messages until two NATed peers
// connect directly, not their traffic. At these limits a relay holds at
// most relayMaxReservations × relayMaxCircuits circuits of
// relayCircuitData each way: 32 × 4 × 2 × 64 KiB = 16 MiB relayed per
// relayCircuitDuration at worst, plus go-libp2p's 2 KiB buffer per
// circuit end.
const (
	relayCircuitDuration      = 2 * time.Minute
	relayCircuitData          = 64 << 10
	relayMaxReservations      = 32
	relayMaxCircuits          = 4
	relayMaxReservationsPerIP = 4
	// autoRelays is how many relays a private node reserves a slot on;
	// autoRelayBootDelay how long it waits for more than one candidate
	// before it takes the one it has (go-libp2p's default is 3 minutes).
	autoRelays         = 2
	autoRelayBootDelay = 10 * time.Second
)
