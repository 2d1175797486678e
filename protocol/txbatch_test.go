package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// batchTxs returns n signed transfers' encodings.
func batchTxs(t testing.TB, n int) [][]byte {
	t.Helper()
	p := chain.RegTest()
	w := testwallet.New("batch")
	to := testwallet.New("to").Addr
	out := make([][]byte, n)
	for i := range out {
		out[i] = w.Tx(p, to, 1, 1, uint64(i)).Encode()
	}
	return out
}

// frame is a batch's wire form written by hand: count, then each length
// and its bytes, as protocol.md §16.9 says.
func frame(count uint64, raws ...[]byte) []byte {
	out := binary.AppendUvarint(nil, count)
	for _, r := range raws {
		out = binary.AppendUvarint(out, uint64(len(r)))
		out = append(out, r...)
	}
	return out
}

// repeat returns n copies of raw.
func repeat(raw []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = raw
	}
	return out
}

func TestSplitTxBatch(t *testing.T) {
	txs := batchTxs(t, 3)
	long := bytes.Repeat([]byte{1}, chain.MaxTxSize+1)
	tests := []struct {
		name string
		data []byte
		want int // transactions, or -1 for ErrBadMessage
	}{
		{"three", frame(3, txs...), 3},
		{"one", frame(1, txs[0]), 1},
		{"empty message", nil, -1},
		{"zero count", frame(0), -1},
		{"count above the transactions", frame(4, txs...), -1},
		{"count below the transactions", frame(2, txs...), -1},
		// Both within the byte bound and the count-against-bytes check,
		// so only the count bound refuses it.
		{"count past the bound", frame(MaxTxBatchTxs+1, repeat(txs[0], MaxTxBatchTxs+1)...), -1},
		{"non-minimal count", append([]byte{0x83, 0x00}, frame(3, txs...)[1:]...), -1},
		{"length past the message", append(frame(1, txs[0]), 0)[:len(frame(1, txs[0]))-1], -1},
		{"length past a transaction's bound", frame(1, long), -1},
		{"length below a transaction's minimum", frame(1, []byte{1, 2, 3}), -1},
		{"trailing byte", append(frame(3, txs...), 0), -1},
		// Well framed, every entry within a transaction's bounds, the
		// count within its bound: only the byte bound refuses it.
		{"message past the byte bound", frame(MaxTxBatchSize/(2+chain.MaxTxSize)+1, repeat(long[:chain.MaxTxSize], MaxTxBatchSize/(2+chain.MaxTxSize)+1)...), -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitTxBatch(tc.data)
			if tc.want < 0 {
				if !errors.Is(err, ErrBadMessage) {
					t.Fatalf("got %d transactions, %v; want ErrBadMessage", len(got), err)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("got %d transactions, %v; want %d", len(got), err, tc.want)
			}
			for i, raw := range got {
				if !bytes.Equal(raw, txs[i]) {
					t.Errorf("transaction %d differs", i)
				}
			}
		})
	}
}

// TestTxBatchBounds: a batch takes transactions up to MaxTxBatchTxs and
// MaxTxBatchSize and no further, and what it encodes reads back.
func TestTxBatchBounds(t *testing.T) {
	big := bytes.Repeat([]byte{7}, chain.MaxTxSize)
	tests := []struct {
		name string
		tx   []byte
		max  int // transactions a batch takes
	}{
		{"transfers: the count bound", batchTxs(t, 1)[0], MaxTxBatchTxs},
		{"largest transactions: the byte bound", big, (MaxTxBatchSize - 2) / (2 + chain.MaxTxSize)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b TxBatch
			for b.Fits(tc.tx) {
				b.Add(tc.tx)
			}
			if b.Len() != tc.max {
				t.Fatalf("took %d, want %d", b.Len(), tc.max)
			}
			if !b.Full() && b.Len() == MaxTxBatchTxs {
				t.Fatal("a batch at the count bound is not full")
			}
			data := b.Take()
			if len(data) > MaxTxBatchSize {
				t.Fatalf("%d bytes, past the bound", len(data))
			}
			raws, err := SplitTxBatch(data)
			if err != nil || len(raws) != tc.max {
				t.Fatalf("read back %d, %v", len(raws), err)
			}
			if b.Len() != 0 {
				t.Fatal("Take left transactions in the batch")
			}
		})
	}
}

// FuzzSplitTxBatch: no input panics; every error is ErrBadMessage; what
// is accepted is within the bounds and frames back to the same bytes.
//
//	go test ./protocol -run '^$' -fuzz FuzzSplitTxBatch -fuzztime 30s
func FuzzSplitTxBatch(f *testing.F) {
	txs := batchTxs(f, 3)
	f.Add(frame(3, txs...))
	f.Add(frame(1, txs[0]))
	f.Add(frame(2, txs...))
	f.Add(frame(0))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add(append(frame(1, txs[0]), 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		raws, err := SplitTxBatch(data)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(raws) == 0 || len(raws) > MaxTxBatchTxs {
			t.Fatalf("%d transactions accepted", len(raws))
		}
		var b TxBatch
		for _, r := range raws {
			if len(r) > chain.MaxTxSize {
				t.Fatalf("a transaction of %d bytes accepted", len(r))
			}
			if !b.Fits(r) {
				t.Fatal("an accepted batch does not fit the builder's bounds")
			}
			b.Add(r)
		}
		if again := b.Take(); !bytes.Equal(again, data) {
			t.Fatalf("frames back as %x, read %x", again, data)
		}
	})
}
