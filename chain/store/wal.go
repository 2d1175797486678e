package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/gossipchain/gossipchain/chain"
)

// The write-ahead log keeps the memtable's batches durable (memtable.go):
// Apply of a deferred batch appends one record and syncs it, and a group
// commit that reached bbolt resets the log, once it also committed the
// batches appended while it wrote (group.go). It is WALSuffix after the
// store file's path.
//
//	header  magic "gcwal\x00\x00\x02" (8) | generation uint64 | base tip (32) |
//	        CRC-32C of the 48 bytes before
//	record  payload length uint32 | CRC-32C of what follows the CRC |
//	        generation uint64 | sequence uint64 | payload (encodeRecord)
//
// The base tip is the store file's tip when the generation began: its
// records extend it. Open replays them only over a file whose tip is that
// one (no group commit happened) or one of the records' own (a group
// commit of the records up to it did, and no reset followed): a log over
// a file that moved on since (a copy of chain.db restored, or a build
// without the log run after a crash) would roll the file's tip and
// balances back, and is refused.
//
// A reset rewrites the header with the next generation and writes the
// next records over the old ones from the header's end on: the file
// grows to the largest group and keeps its size, and a record written
// over an old one changes no file size, so its fdatasync writes no inode.
// Truncating the file at each reset instead made every record grow it:
// records of 1,200 bytes, groups of 64, each record and reset synced, on
// the development machine's disk took 20–35% longer each (150–990 µs
// against 105–750 µs, the disk shared and noisy) in 6 of 7 alternating
// rounds; the first, its file just created, went the other way. Open
// reads the records of
// the header's generation in sequence from 0 and stops at the first that
// is short, fails its CRC, or has another generation or sequence: the
// torn tail of a crash, or the older records behind the newest. A reset
// is synced before any record of its generation is written, except the
// one an Apply makes on its way to appending (restart), which its
// record's sync takes with it.

// WALSuffix follows the store file's path in the log's.
const WALSuffix = "-wal"

const (
	walHeaderSize = 8 + 8 + chain.HashSize + 4
	walRecordHead = 4 + 4 + 8 + 8
	// walMaxRecord bounds a record's length as read: a deferred batch
	// holds at most one block, under 512 KiB (tryDefer), and its undo
	// records and accounts are a fraction of that (a block of 2,300
	// transfers, 518 KB, logged 767 KB).
	walMaxRecord = 1 << 30
	// walMaxFile bounds the log file Open reads whole. The log holds the
	// memtable's batches, up to twice its bounds (about 2.5 MiB of block
	// encodings and a last block of up to 512 KiB) with their undo
	// records and accounts (about half as much again for blocks of
	// transfers), and keeps its largest size; ten times that
	// is damage, and read whole it could take the process's memory.
	walMaxFile = 64 << 20
)

var (
	walMagic  = [8]byte{'g', 'c', 'w', 'a', 'l', 0, 0, 2}
	walCastag = crc32.MakeTable(crc32.Castagnoli)
)

// walResetFault, set by tests only, fails a reset before it writes.
var walResetFault func() error

// wal is the open log. Called under applyMu, or in Open.
type wal struct {
	f      *os.File
	path   string
	noSync bool
	gen    uint64
	base   chain.Hash // the store's tip when gen began
	seq    uint64
	off    int64
	buf    []byte
}

// openWAL opens the log at path, creating it on top of the store's tip
// base if there is none, and returns it with the batches its current
// generation holds, oldest first.
func openWAL(path string, noSync bool, base chain.Hash) (*wal, []*chain.Batch, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, nil, fmt.Errorf("write-ahead log: %w", err)
	}
	w := &wal{f: f, path: path, noSync: noSync}
	if fi, err := f.Stat(); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("write-ahead log: %w", err)
	} else if fi.Size() > walMaxFile {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%w: write-ahead log %s is %d bytes, more than a log holds (%d): move it aside, "+
			"open again, and the node downloads any missing blocks from its peers (docs/operator.md)",
			ErrCorrupt, path, fi.Size(), walMaxFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, walMaxFile+1))
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("write-ahead log: %w", err)
	}
	if len(data) == 0 {
		// New, or created by a crash before its header was synced,
		// when no batch can have been in it: start it, and sync the
		// directory so that the file itself survives a machine crash.
		if err := w.reset(base); err != nil {
			_ = f.Close()
			return nil, nil, err
		}
		if err := syncDir(filepath.Dir(path), noSync); err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("write-ahead log: %w", err)
		}
		return w, nil, nil
	}
	if w.gen, w.base, err = readWALHeader(data); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%w: write-ahead log %s: %w; a crash while the log was being emptied leaves this "+
			"(its batches were in the store file already), damage otherwise (its batches are lost): move it aside, "+
			"open again, and the node downloads any missing blocks from its peers (docs/operator.md)", ErrCorrupt, path, err)
	}
	batches, err := w.readRecords(data)
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("write-ahead log %s: %w", path, err)
	}
	// Open's reset (replayWAL) skips a generation: a record of the one
	// after the header's may be on disk though the header that began
	// it is not (restart), and must not be read as one of the next.
	w.gen++
	return w, batches, nil
}

// readWALHeader returns the generation and base tip of a header that
// checks.
func readWALHeader(data []byte) (uint64, chain.Hash, error) {
	if len(data) < walHeaderSize {
		return 0, chain.Hash{}, fmt.Errorf("header is %d bytes, want %d", len(data), walHeaderSize)
	}
	if [8]byte(data[:8]) != walMagic {
		return 0, chain.Hash{}, errors.New("not a gossipchain write-ahead log of this version (bad magic)")
	}
	crcAt := walHeaderSize - 4
	if crc32.Checksum(data[:crcAt], walCastag) != binary.BigEndian.Uint32(data[crcAt:]) {
		return 0, chain.Hash{}, errors.New("header checksum mismatch")
	}
	return binary.BigEndian.Uint64(data[8:]), chain.Hash(data[16:crcAt]), nil
}

// readRecords decodes the records of w's generation in data, in
// sequence, up to the first that does not check, and leaves w to append
// after the last. A record that checks but does not decode was written
// by a bug or damaged past its CRC: ErrCorrupt.
func (w *wal) readRecords(data []byte) ([]*chain.Batch, error) {
	var out []*chain.Batch
	off := walHeaderSize
	for len(data)-off >= walRecordHead {
		head := data[off:]
		n := binary.BigEndian.Uint32(head)
		if n > walMaxRecord || int(n) > len(head)-walRecordHead {
			break // torn: the record's bytes never all reached the file
		}
		body := head[8 : walRecordHead+int(n)]
		if crc32.Checksum(body, walCastag) != binary.BigEndian.Uint32(head[4:]) ||
			binary.BigEndian.Uint64(body) != w.gen || binary.BigEndian.Uint64(body[8:]) != w.seq {
			break // torn, or an older generation's record behind the newest
		}
		b, err := decodeRecord(body[16:])
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", w.seq, err)
		}
		out = append(out, b)
		w.seq++
		off += walRecordHead + int(n)
	}
	w.off = int64(off)
	return out, nil
}

// next returns the log's buffer with room for a record's head: the
// caller appends the payload to it and hands the result to append, so
// that a payload is encoded where it is written from (a block of 1,000
// transfers logs 360 KB, which a copy from a buffer of its own took
// again).
func (w *wal) next() []byte {
	return append(w.buf[:0], make([]byte, walRecordHead)...)
}

// append writes rec, next's buffer with the payload appended, as one
// record, and syncs it.
func (w *wal) append(rec []byte) error {
	w.buf = rec
	binary.BigEndian.PutUint32(w.buf, uint32(len(rec)-walRecordHead))
	binary.BigEndian.PutUint64(w.buf[8:], w.gen)
	binary.BigEndian.PutUint64(w.buf[16:], w.seq)
	binary.BigEndian.PutUint32(w.buf[4:], crc32.Checksum(w.buf[8:], walCastag))
	if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	if err := w.sync(); err != nil {
		return err
	}
	w.off += int64(len(w.buf))
	w.seq++
	return nil
}

// reset starts the next generation on top of the store's tip base: the
// records before it are ignored
// from the moment its header is synced. Called once the batches they
// hold are committed to bbolt.
func (w *wal) reset(base chain.Hash) error {
	if err := w.restart(base); err != nil {
		return err
	}
	return w.sync()
}

// restart is reset without the sync, for an Apply about to append its
// batch to the log, whose own sync then takes the header with it: one
// flush instead of two on the path of the first block logged after a
// commit straight to bbolt (a sync's batch, a reorg's). The two writes
// may reach the disk in either order, or one without the other, and
// every outcome opens as it should. The old header's generation holds
// no record at all (the memtable is empty where tryDefer calls it, and
// it empties only once a reset is synced, or at Open's), so nothing of
// it is replayed over the file's new tip; the new header names
// the tip the new record extends. Open finds either the old header, and
// the new record is not of its generation; or the new header and a
// record that is torn or of an older generation; or both: the batch,
// which its Apply had not yet acknowledged in the first two. A record of
// the generation after the header's on disk is why Open's reset skips
// one (openWAL). One is enough: an unsynced restart is followed by an
// append and its sync, or the store fails and writes nothing more.
func (w *wal) restart(base chain.Hash) error {
	if walResetFault != nil {
		if err := walResetFault(); err != nil {
			return fmt.Errorf("write-ahead log reset: %w", err)
		}
	}
	var h [walHeaderSize]byte
	copy(h[:], walMagic[:])
	binary.BigEndian.PutUint64(h[8:], w.gen+1)
	copy(h[16:], base[:])
	crcAt := walHeaderSize - 4
	binary.BigEndian.PutUint32(h[crcAt:], crc32.Checksum(h[:crcAt], walCastag))
	if _, err := w.f.WriteAt(h[:], 0); err != nil {
		return fmt.Errorf("write-ahead log reset: %w", err)
	}
	w.gen, w.base, w.seq, w.off = w.gen+1, base, 0, walHeaderSize
	if cap(w.buf) > memMaxBytes {
		w.buf = nil // one huge batch's buffer is not kept for ever
	}
	return nil
}

func (w *wal) sync() error {
	if w.noSync {
		return nil
	}
	if err := fdatasync(w.f); err != nil {
		return fmt.Errorf("write-ahead log sync: %w", err)
	}
	return nil
}

func (w *wal) close() error { return w.f.Close() }

// syncDir fsyncs a directory, so that a file created in it survives a
// machine crash.
func syncDir(dir string, noSync bool) error {
	if noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
