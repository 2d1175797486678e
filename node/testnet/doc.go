// Package testnet runs a gossipchain network inside one test process, to
// prove that it keeps working and loses nothing under faults, and to
// measure it. It is test-support code: tests, benchmarks and the
// `gossipchain testnet` command (which adds load) import it; the node
// itself never does.
//
// Its operations take a context and return errors, as any library's do,
// so the command drives a Net directly and a test wraps the calls in a
// helper that fails the test on error. New starts the nodes; Close
// stops them and removes their directories, and may be called again.
// The Net's notes (links added, nodes stopped) and the nodes' own logs
// go to the slog.Logger of WithLogger. Errors a driver may branch on are
// typed: ErrStopped, ErrRunning, ErrClosed, ErrPartitioned,
// ErrNotPartitioned, and *WaitError for a wait that ran out of time.
//
// A Net owns N full nodes (node.New + Start): each a real libp2p host on
// 127.0.0.1 TCP (mDNS always off: it multicasts on every interface), a
// real bbolt store in its own temporary data directory, and the node's
// own gossip, sync and mempool. The nodes find each other only through
// bootstrap addresses laid out by a Topology. On top of that the Net
// offers the faults and the waits a test needs:
//
//   - Partition cuts every link between groups of nodes with the hosts'
//     connection gaters (p2p.Host.Block), so nothing redials across the
//     cut, and Heal lifts it and dials the cut links again;
//   - a cut or a stop returns once gossip has settled on the links
//     left (WaitGossipSettled), not once the meshes join every node,
//     which GossipSub does not promise after prunes; a wait that runs
//     out says what it saw in one line (Summary);
//   - Stop closes a node cleanly and Restart opens it again on the same
//     data directory, peer ID and, when free, listen port;
//   - WaitConverged and the other waits recheck at every tip change of a
//     running node (and on a short poll for what tips do not show, such
//     as mempools) until their deadline: never a fixed sleep;
//   - ConvergeMining waits for one tip as a real network reaches it: it
//     mines a block whenever the nodes sit on tied tips of equal work,
//     which proof of work keeps until the next block;
//   - Audit recomputes balances and nonces from a node's main chain with
//     code of its own, so a test can check that nothing was lost or
//     applied twice without trusting the ledger it is testing.
//
// The Net keeps each group of running nodes connected: where a stop or a
// cut would leave a group in pieces it adds a link (an AddPeer, as an
// operator's /register-node), and says so in its log.
//
// WithMocknet runs the same nodes on go-libp2p's mocknet instead, for
// networks of up to a few thousand in one process: links with a latency
// drawn per link from a Latency and a bandwidth, stores without fsync on
// tmpfs, no transport, security or muxer (sim.go). GossipFigures reads
// what GossipSub's tracer saw of each block: hops, delays, duplicates,
// bytes and messages.
//
// What it leaves out: separate processes (a kill -9 needs one; the cmd
// tests run the binary), mDNS (only inside network namespaces; see
// node/netns_e2e_test.go) and load generation (the testnet command's,
// in cmd/gossipchain/testnet.go). A Net is driven from one
// goroutine; its nodes, and Node, Nodes and Running, may be used from
// any.
package testnet
