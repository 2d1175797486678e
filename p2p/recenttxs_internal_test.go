package p2p

import (
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestRecentTxsBounds: the ring keeps the newest transactions within
// both bounds, whichever binds first, lets the oldest go first, and
// keeps a transaction added twice once.
func TestRecentTxsBounds(t *testing.T) {
	tests := []struct {
		name  string
		names int // length of sender and recipient names
		add   int
	}{
		{name: "count binds", names: 8, add: recentTxsMax + 1000},
		{name: "bytes bind", names: chain.MaxNameLen, add: recentTxsMax},
		{name: "under both", names: 8, add: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txs := make([]*chain.Transaction, tt.add)
			for i := range txs {
				txs[i] = &chain.Transaction{Sender: strings.Repeat("s", tt.names), Recipient: strings.Repeat("r", tt.names),
					Amount: 1, Nonce: uint64(i)}
			}
			ids := chain.TxIDs(txs)
			r := newRecentTxs()
			// In pieces, as batches come, and the last piece twice.
			for i := 0; i < len(txs); i += 500 {
				j := min(i+500, len(txs))
				r.add(txs[i:j], ids[i:j])
			}
			last := len(txs) - min(500, len(txs))
			r.add(txs[last:], ids[last:])

			var held []chain.Hash
			size := 0
			r.rangeTxs(func(id chain.Hash, tx *chain.Transaction) bool {
				held = append(held, id)
				size += tx.EncodedSize()
				return true
			})
			if len(held) > recentTxsMax || size > recentTxsBytes {
				t.Fatalf("%d transactions of %d bytes held; bounds %d and %d", len(held), size, recentTxsMax, recentTxsBytes)
			}
			if size != r.bytes || len(held) != len(r.byID) {
				t.Fatalf("held %d of %d bytes; counted %d and %d bytes", len(held), size, len(r.byID), r.bytes)
			}
			// The newest, oldest first; all of them when they fit.
			want := ids[len(ids)-len(held):]
			for k := range held {
				if held[k] != want[k] {
					t.Fatalf("entry %d is not the transaction %d", k, len(ids)-len(held)+k)
				}
			}
			full := len(held) == recentTxsMax || size+txs[0].EncodedSize() > recentTxsBytes
			if len(held) < len(txs) && !full {
				t.Fatalf("%d of %d held, %d bytes: dropped some with room left", len(held), len(txs), size)
			}
			if tt.add <= recentTxsMax && tt.names < 100 && len(held) != len(txs) {
				t.Fatalf("%d of %d held", len(held), len(txs))
			}
		})
	}
}
