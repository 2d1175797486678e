package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/fsutil"
)

// The mempool outlives a restart, as Bitcoin Core's mempool.dat does: a
// transaction the node accepted and had not seen mined is not lost
// because the node stopped, even one that never reached a peer. Close
// writes mempool.dat; New reads it back, each transaction checked again
// (signature, nonce, balance) against the chain as it is then.
//
// Format 2: the magic line "gossipchain mempool 2\n", then per
// transaction a flag byte (1: submitted to this node, so rebroadcast),
// when this node first admitted it as a uvarint of Unix milliseconds, its
// encoded length as a uvarint and its canonical encoding, in the order
// the pool would mine them (a sender's nonces ascending), then the
// transactions queued for a nonce gap. The admission time makes expiry
// (chain.WithPendingTTL) count from the first admission, not from each
// start: otherwise a transaction that never wins would live for ever on
// a node that restarts.
//
// Format 1 ("gossipchain mempool 1\n") is format 2 without the times,
// as written before; it is still read, each transaction counted as
// admitted when the file was last written (its modification time), the
// latest it can have been.
const (
	mempoolFile   = "mempool.dat"
	mempoolMagic  = "gossipchain mempool 2\n"
	mempoolMagic1 = "gossipchain mempool 1\n"
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
	now := time.Now()
	for _, tx := range append(txs, f.mempool.QueuedTxs()...) {
		id := tx.ID()
		flag := byte(0)
		if own[id] {
			flag = 1
		}
		at, ok := f.mempool.AdmittedAt(id)
		if !ok || at.After(now) {
			at = now
		}
		enc := tx.Encode()
		buf.WriteByte(flag)
		buf.Write(binary.AppendUvarint(nil, uint64(max(at.UnixMilli(), 0))))
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
// chain no longer allows (mined meanwhile, say) or that has expired is
// dropped; a damaged file is reported and the rest of it skipped.
func (f *poolFile) load() (int, error) {
	file, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errMempoolFile, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errMempoolFile, err)
	}
	data, err := io.ReadAll(file)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errMempoolFile, err)
	}
	rest, timed := bytes.CutPrefix(data, []byte(mempoolMagic))
	if !timed {
		var ok bool
		if rest, ok = bytes.CutPrefix(data, []byte(mempoolMagic1)); !ok {
			return 0, fmt.Errorf("%w: not a mempool file", errMempoolFile)
		}
	}
	taken := 0
	for len(rest) > 0 {
		e, n, ok := readFileEntry(rest, timed, info.ModTime())
		if !ok {
			return taken, fmt.Errorf("%w: damaged after %d transactions", errMempoolFile, taken)
		}
		rest = rest[n:]
		if err := f.intake.restoreTx(e.tx, e.admitted, e.own); err != nil && !errors.Is(err, chain.ErrTxQueued) {
			continue
		}
		taken++
		if e.own {
			// Published by the process before, perhaps long ago: due
			// for gossip at the first rebroadcast.
			f.relay.hold(e.tx.ID())
		}
	}
	return taken, nil
}

// fileEntry is one transaction of the file.
type fileEntry struct {
	tx       *chain.Transaction
	own      bool
	admitted time.Time
}

// readFileEntry decodes the entry at the front of b and returns it with
// the bytes it used; timed says whether the entry carries its admission
// time (format 2), and written is when the file was written, the
// admission time of a format 1 entry.
func readFileEntry(b []byte, timed bool, written time.Time) (fileEntry, int, bool) {
	if len(b) == 0 || b[0] > 1 {
		return fileEntry{}, 0, false
	}
	e := fileEntry{own: b[0] == 1, admitted: written}
	off := 1
	if timed {
		ms, k := binary.Uvarint(b[off:])
		if k <= 0 || ms > math.MaxInt64 {
			return fileEntry{}, 0, false
		}
		e.admitted = time.UnixMilli(int64(ms))
		off += k
	}
	size, k := binary.Uvarint(b[off:])
	if k <= 0 || size > uint64(len(b)-off-k) {
		return fileEntry{}, 0, false
	}
	off += k
	body := b[off : off+int(size)]
	tx, used, err := chain.DecodeTransaction(body)
	if err != nil || used != len(body) {
		return fileEntry{}, 0, false
	}
	e.tx = tx
	return e, off + int(size), true
}
