package api

import (
	"math/big"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics serves GET /metrics from a registry of its own (not
// Prometheus's global one), so several nodes in one process each report
// their own figures, together with go-libp2p's metrics that the node
// gathers (Node.Metrics). The node's counters are read once per scrape.
func (s *server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		nodeCollector{s.n},
	)
	return promhttp.HandlerFor(prometheus.Gatherers{reg, s.n.Metrics()},
		promhttp.HandlerOpts{ErrorLog: slogAdapter{s}, MaxRequestsInFlight: 4})
}

type slogAdapter struct{ s *server }

func (a slogAdapter) Println(v ...any) { a.s.log.Warn("metrics", "reason", v) }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("gossipchain_"+name, help, labels, nil)
}

var (
	descPeers     = desc("peers", "Connected peers.")
	descHeight    = desc("height", "Height of the main chain's tip.")
	descWork      = desc("total_work", "Cumulative work of the main chain (approximate: a float64).")
	descMempool   = desc("mempool_transactions", "Transactions waiting in the mempool.")
	descQueued    = desc("mempool_queued_transactions", "Transactions held until their sender's earlier nonces arrive.")
	descMinFee    = desc("mempool_min_fee", "The least fee per transaction the mempool takes now beside the minimum relay fee: raised when a full pool evicts, decaying after; 0 when not raised.")
	descGossipIn  = desc("gossip_received_total", "Gossip messages from peers, by topic and verdict.", "topic", "result")
	descGossipPub = desc("gossip_published_total", "Gossip messages this node published, by topic.", "topic")
	descGossipOut = desc("gossip_sent_total", "Gossip message copies queued to peers (published or forwarded), by topic.", "topic")
	descSync      = desc("sync_downloads_total", "Downloads from peers, by result.", "result")
	descSyncBlk   = desc("sync_blocks_total", "Blocks connected by downloads from peers.")
	descSyncSrv   = desc("sync_requests_served_total", "Sync requests answered for peers.")
	descSyncing   = desc("syncing", "1 while a download from a peer runs.")
	descHashes    = desc("miner_hashes_total", "Block hashes the miner has tried.")
	descHashRate  = desc("miner_hash_rate", "Block hashes per second over the last few seconds.")
	descMining    = desc("mining", "1 if the node mines continuously.")
	descEventSubs = desc("event_subscribers", "Open event streams.")
	descVerifies  = desc("signature_verifications_total", "ed25519 signature verifications done.")
	descSigHits   = desc("signature_cache_hits_total", "Signatures found already verified (mempool admission, then the block).")
	descSigBatch  = desc("signature_batches_total", "Batch verifications (four signatures or more) among the verifications.")
	descSigFull   = desc("signature_queue_full_total", "Admissions that found the queue of signature checks full and waited.")
	descCompact   = desc("compact_blocks_total", "Gossiped compact blocks assembled, by how: rebuilt from the mempool, missing transactions requested from the sender, or fetched whole.", "result")
	descCmpTxs    = desc("compact_txs_requested_total", "Transactions asked of compact blocks' senders.")
	descCmpRecent = desc("compact_txs_recent_total", "Compact blocks' transactions found among the gossiped batches lately received rather than in the mempool.")
	descBlockTxn  = desc("blocktxn_served_total", "Requests for a compact block's missing transactions answered for peers.")
)

// nodeCollector reports the node's counters (node.Stats).
type nodeCollector struct{ n Node }

func (nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeers, descHeight, descWork, descMempool, descQueued, descMinFee, descGossipIn, descGossipPub,
		descGossipOut, descSync, descSyncBlk, descSyncSrv, descSyncing, descHashes, descHashRate, descMining, descEventSubs, descVerifies, descSigHits, descSigBatch, descSigFull,
		descCompact, descCmpTxs, descCmpRecent, descBlockTxn} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.n.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descPeers, float64(st.Status.Peers))
	gauge(descHeight, float64(st.Status.Height))
	if w, ok := new(big.Float).SetString(st.Status.TotalWork); ok {
		f, _ := w.Float64()
		gauge(descWork, f)
	}
	gauge(descMempool, float64(st.Status.Mempool))
	gauge(descQueued, float64(st.Queued))
	gauge(descMinFee, float64(st.Status.MempoolMinFee))
	for _, t := range []struct {
		name string
		s    struct{ In, Accepted, Rejected, Ignored, Published, Sent uint64 }
	}{{"tx", st.Gossip.Tx}, {"block", st.Gossip.Block}} {
		counter(descGossipIn, t.s.Accepted, t.name, "accepted")
		counter(descGossipIn, t.s.Rejected, t.name, "rejected")
		counter(descGossipIn, t.s.Ignored, t.name, "ignored")
		counter(descGossipPub, t.s.Published, t.name)
		counter(descGossipOut, t.s.Sent, t.name)
	}
	counter(descSync, st.Sync.Started, "started")
	counter(descSync, st.Sync.Finished, "finished")
	counter(descSync, st.Sync.Failed, "failed")
	counter(descSyncBlk, st.Sync.Blocks)
	counter(descSyncSrv, st.Sync.Served)
	gauge(descSyncing, b2f(st.Sync.Syncing))
	counter(descHashes, st.Hashes)
	gauge(descHashRate, st.Status.HashRate)
	gauge(descMining, b2f(st.Status.Mining))
	gauge(descEventSubs, float64(st.Subscribers))
	counter(descVerifies, st.Sigs.Verifies)
	counter(descSigHits, st.Sigs.Hits)
	counter(descSigBatch, st.Sigs.Batches)
	counter(descSigFull, st.Sigs.QueueFull)
	counter(descCompact, st.Gossip.Compact.Rebuilt, "rebuilt")
	counter(descCompact, st.Gossip.Compact.Requested, "requested")
	counter(descCompact, st.Gossip.Compact.Fetched, "fetched")
	counter(descCmpTxs, st.Gossip.Compact.TxsRequested)
	counter(descCmpRecent, st.Gossip.Compact.TxsRecent)
	counter(descBlockTxn, st.Gossip.Compact.Served)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
