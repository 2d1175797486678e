// Package p2p owns a node's place in the network: the libp2p host and its
// identity, peer discovery (mDNS, bootstrap peers and the network's own
// DHT), getting through NATs (AutoNAT, relays, hole punching), GossipSub topics and
// their validators, and the chain-sync stream protocol with the syncer that
// moves the node to the peers' most-work chain. It reaches the chain only
// through the narrow interface it declares.
//
// # What it owns
//
//   - The libp2p host (host.go): transports, security, muxer, resource
//     and connection managers, and the node's identity (identity.go,
//     node.key). Host embeds the plain libp2p host, which is what gossip
//     and the syncer are given.
//   - Who is connected and why (peertable.go): every connection's
//     source (mDNS, bootstrap, register, remembered, inbound, outbound),
//     as logged and as the API lists it.
//   - Keeping peers connected (dialer.go, discovery.go): one dial loop
//     per wanted peer, with backoff; mDNS; bootstrap, added and
//     remembered peers, the last kept in peers.json (peermemory.go).
//   - Discovery beyond the LAN (dht.go): the network's Kademlia DHT,
//     the rendezvous key advertised and looked up, and the bounds on
//     what its records make the node dial.
//   - NAT traversal (nat.go): the libp2p options of AutoNAT, the relay
//     service and AutoRelay, hole punching, announced addresses and port
//     mapping; connection kinds (direct or relayed); reachability; the
//     process-wide list of ranges a lab declares public.
//   - Bans and blocks (gater.go): the one store of refused peers, enforced
//     at the connection gate and consulted by the syncer.
//   - Gossip (gossip.go, score.go): the tx and block topics, their
//     validators and the peer-score parameters.
//   - Compact block relay (compact.go, recenttxs.go, blocktxn.go,
//     fetch_block.go): rebuilding a gossiped compact block from the
//     mempool and the batches lately received, asking its
//     sender for the missing transactions and serving such requests, and
//     fetching a block whole through the syncer when neither works.
//   - Sync: the syncer and its API (sync.go), its loop and peer table
//     (sync_loop.go) with the cool-downs of peers that failed a
//     download (sync_cool.go), requests and the status exchange (sync_client.go),
//     the headers-first download (sync_download.go), and serving headers
//     and blocks (sync_server.go). What each peer may ask of the
//     server, charged by cost and kept across its reconnects, is
//     serve_limits.go.
//   - What the explorer shows of the network: per-peer gossip counters
//     and scores (peerstats.go), when recent blocks were first seen and
//     from whom (propagation.go), and the network-map protocol's server
//     and client (netmap.go).
//   - Judging peers (verdict.go): every rule that turns an outcome into
//     a gossip verdict (accept, ignore, reject) or a sync fault (ban).
//   - Its policy limits (limits.go): timeouts, rate limits, batch sizes,
//     backoffs, ban times, bounded memories, score thresholds.
//
// # What it leaves to others
//
// The wire is protocol's: message encodings, topic names, protocol IDs,
// and the size limits and timeouts every node must agree on. What makes a
// block or transaction valid, and connecting blocks, is chain's. The node
// implements Chain: it keeps its mempool in step with the blocks p2p hands
// it, and decides nothing about peers. Gossip and the syncer decide about
// peers from what Chain reports: whether to forward, announce, ask a peer
// for a missing branch, or ban it. The node wires the parts together
// (NewHost, NewSyncer with the host as its Bans, NewGossip with the
// syncer as its SyncTrigger), publishes what it mines or is submitted, and
// closes gossip, then the syncer, then the host. p2p imports protocol and
// chain only.
//
// # Who owns which goroutine
//
//   - Host: one event loop reads connectedness events, keeps the peer
//     table, wakes the dial loops and AddPeer (which returns once the
//     connection it made is logged) and calls HostConfig.OnPeer (which
//     must not block). The dialer runs one loop per kept peer under the
//     discovery context Start gives, and the peer memory one debounced
//     writer. All are counted by the host's WaitGroup and end with its
//     context; Close cancels, waits, then writes peers.json a last time.
//     mDNS runs go-libp2p's goroutines and calls back on fresh ones.
//   - Gossip: relays both topics (no subscription, no reader) and runs
//     the transaction batcher; Close cancels and waits.
//     Transaction validators run on GossipSub's own goroutines; block
//     validators, at most blockValidators blocks at once per Gossip, on
//     the package's kept workers (blockWorkers, workers.go), while
//     GossipSub's goroutine waits for them. Both call into Chain and the
//     SyncTrigger from there; a block validator also waits there on its
//     parent's validation by another validator (at most parentWait,
//     inflight.go), its blocktxn request and whole-block fetch, each with
//     a deadline, and on its processing (ProcessEarly, on earlyWorkers).
//     The workers are shared by every Gossip in the process and end
//     after a minute idle; Close does not wait for them. The blocktxn
//     server runs on libp2p's stream goroutines.
//   - Syncer: one loop (run, sync_loop.go) owns the peer table and every
//     due time in it (status refresh, re-asks, cool-downs), as
//     GossipSub's router owns its own. Connectedness events (from the
//     host's event bus), statuses, RequestSync, Announce, SyncNow and the
//     end of a download reach it on channels, and it never blocks: each
//     status exchange runs on a goroutine of its own and reports back,
//     and so does the one download at a time (sync_download.go), so
//     status keeps flowing while a download runs and a peer that comes to
//     claim more work preempts it. Within a download, the headers asked
//     for ahead of its bodies come from one goroutine (moreHeaders,
//     sync_download.go) that the download cancels and waits for before
//     it returns. SyncNow waits on a channel the loop
//     closes at the end of the pass. All are counted by the syncer's
//     WaitGroup; Close cancels them (a cancelled request resets its
//     stream) and waits. Stream handlers (the server) run on libp2p's
//     goroutines: Close removes the handler but does not wait for a
//     request being served.
//   - NetMap: one loop asks the peers each round, at most mapConcurrency
//     at once on goroutines it waits for; Close cancels and waits. Its
//     server runs on libp2p's stream goroutines.
package p2p
