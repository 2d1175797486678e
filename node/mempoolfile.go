package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/fsutil"
)

// The mempool outlives a restart, as Bitcoin Core's mempool.dat does: a
// transaction the node accepted and had not seen mined is not lost
// because the node stopped, even one that never reached a peer. Close
// writes mempool.dat; New reads it back, each transaction checked again
// (signature, nonce, balance) against the chain as it is then.
//
// Format: the magic line "gossipchain mempool 1\n", then per transaction
// a flag byte (1: submitted to this node, so rebroadcast), its encoded
// length as a uvarint and its canonical encoding, in the order the pool
// would mine them (a sender's nonces ascending), then the transactions
// queued for a nonce gap.
const (
	mempoolFile  = "mempool.dat"
	mempoolMagic = "gossipchain mempool 1\n"
)

// OriginRestored is the origin of a transaction read back from
// mempool.dat at start.
const OriginRestored = "restored"

// errMempoolFile is wrapped by every reason mempool.dat cannot be read.
var errMempoolFile = errors.New("mempool.dat")

// poolFile is mempool.dat in the node's data directory.
//
// Concurrency: load runs in New, before the node is shared; save runs in
// Close, after every goroutine of the node has stopped and intake refuses
// transactions, so the pool it writes no longer changes.
type poolFile struct {
	path    string
	mempool *chain.Mempool
	intake  *intake
	relay   *relay
}

// save writes the pool to the file.
func (f *poolFile) save() error {
	var buf bytes.Buffer
	buf.WriteString(mempoolMagic)
	own := f.relay.own.ids()
	// Pending transactions in the order they would be mined, then the
	// queued ones (each sender's in nonce order), so that reading the
	// file back in order queues them again behind what they wait for.
	txs := f.mempool.Select(f.mempool.Len(), f.mempool.Bytes()+1)
	for _, tx := range append(txs, f.mempool.QueuedTxs()...) {
		flag := byte(0)
		if own[tx.ID()] {
			flag = 1
		}
		enc := tx.Encode()
		buf.WriteByte(flag)
		buf.Write(binary.AppendUvarint(nil, uint64(len(enc))))
		buf.Write(enc)
	}
	if err := fsutil.WriteFileAtomic(f.path, buf.Bytes()); err != nil {
		return fmt.Errorf("save mempool: %w", err)
	}
	return nil
}

// load offers the transactions of the file to the pool and reports how
// many it took back. A missing file is an empty pool; a transaction the
// chain no longer allows (mined meanwhile, say) is dropped; a damaged
// file is reported and the rest of it skipped.
func (f *poolFile) load() (int, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errMempoolFile, err)
	}
	rest, ok := bytes.CutPrefix(data, []byte(mempoolMagic))
	if !ok {
		return 0, fmt.Errorf("%w: not a mempool file", errMempoolFile)
	}
	taken := 0
	for len(rest) > 0 {
		flag := rest[0]
		size, k := binary.Uvarint(rest[1:])
		if k <= 0 || size > uint64(len(rest)-1-k) || flag > 1 {
			return taken, fmt.Errorf("%w: damaged after %d transactions", errMempoolFile, taken)
		}
		body := rest[1+k : 1+k+int(size)]
		rest = rest[1+k+int(size):]
		tx, used, err := chain.DecodeTransaction(body)
		if err != nil || used != len(body) {
			return taken, fmt.Errorf("%w: damaged after %d transactions", errMempoolFile, taken)
		}
		if err := f.intake.addTx(tx, OriginRestored); err != nil && !errors.Is(err, chain.ErrTxQueued) {
			continue
		}
		taken++
		if flag == 1 {
			// Published by the process before, perhaps long ago: due
			// for gossip at the first rebroadcast.
			f.relay.hold(tx.ID())
		}
	}
	return taken, nil
}
