package chain

import (
	"slices"
	"testing"
)

// TestMempoolDigestTxs: a rebuild's digest takes the pool's id for a
// transaction the pool holds itself under it, pending or queued, and
// hashes every other one: a claimed id under which the pool holds another
// transaction, or an equal copy of its own, never reaches the digest.
// The pool's entries are filed here under ids that are not their hashes,
// so the digest shows which ids it took from the pool.
func TestMempoolDigestTxs(t *testing.T) {
	m := NewMempool(RegTest())
	tx := func(n uint64) *Transaction {
		return &Transaction{Sender: "alice", Recipient: "bob", Amount: n, Nonce: n}
	}
	held, queued, other := tx(1), tx(2), tx(3)
	copyOfHeld := *held
	heldKey, queuedKey := Hash{1}, Hash{2}
	m.byID[heldKey] = &poolEntry{tx: held, id: heldKey}
	m.queue.byID[queuedKey] = &queuedTx{tx: queued, id: queuedKey}

	tests := []struct {
		name string
		txs  []*Transaction
		ids  []Hash
		want []Hash
	}{
		{"pending and queued taken from the pool", []*Transaction{held, queued}, []Hash{heldKey, queuedKey}, []Hash{heldKey, queuedKey}},
		{"no ids: hashed", []*Transaction{held, queued}, nil, []Hash{held.ID(), queued.ID()}},
		{"zero id: hashed", []*Transaction{held}, []Hash{{}}, []Hash{held.ID()}},
		{"another transaction's id: hashed", []*Transaction{other}, []Hash{heldKey}, []Hash{other.ID()}},
		{"an equal copy: hashed", []*Transaction{&copyOfHeld}, []Hash{heldKey}, []Hash{held.ID()}},
		{"the pool's transaction under another id: hashed", []*Transaction{held}, []Hash{queuedKey}, []Hash{held.ID()}},
		{"fewer ids than transactions", []*Transaction{held, other}, []Hash{heldKey}, []Hash{heldKey, other.ID()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := m.DigestTxs(tt.txs, tt.ids)
			if !slices.Equal(d.IDs(), tt.want) {
				t.Fatalf("ids %x, want %x", d.IDs(), tt.want)
			}
			if d.Root() != MerkleRoot(tt.want) {
				t.Fatal("the root is not the merkle root of the ids")
			}
			if !d.matches(tt.txs) {
				t.Fatal("the digest does not match the transactions it was made from")
			}
		})
	}

	// Dropped from the pool since the rebuild placed it: hashed.
	delete(m.byID, heldKey)
	if got := m.DigestTxs([]*Transaction{held}, []Hash{heldKey}).IDs(); got[0] != held.ID() {
		t.Fatalf("a dropped transaction's id %x, want its hash %x", got[0], held.ID())
	}
}
