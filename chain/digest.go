package chain

import "slices"

// TxDigest is what hashing a list of transactions gives: each one's id
// and the merkle root over them, computed here, in this process, from
// the transactions themselves. A relay hop needs them twice, once to
// see whether a compact block was rebuilt right (its root against the
// header's) and once in the block's sanity check (the root again, the
// duplicate ids, the signature cache): the rebuild hands its digest to
// Chain.CheckBlockDigest so that the block's check does not hash its
// transactions again (nor the digest, where it takes the mempool's ids:
// Mempool.DigestTxs).
// Only DigestTxs and Mempool.DigestTxs make one, so a digest's ids
// are this process's own hashes of its transactions, never ids a peer
// sent, and the chain uses it only for the very transactions it was
// computed from (see matches).
type TxDigest struct {
	// txs are the transactions hashed, in order: the caller's slice may
	// change after, this copy does not.
	txs  []*Transaction
	ids  []Hash
	root Hash
}

// DigestTxs hashes every transaction of txs and the merkle root over
// their ids.
func DigestTxs(txs []*Transaction) *TxDigest { return newDigest(txs, TxIDs(txs)) }

// newDigest is the digest of txs whose ids are ids, each this process's
// own hash of that very transaction.
func newDigest(txs []*Transaction, ids []Hash) *TxDigest {
	return &TxDigest{txs: slices.Clone(txs), ids: ids, root: MerkleRoot(ids)}
}

// Root is the merkle root over the transactions' ids.
func (d *TxDigest) Root() Hash { return d.root }

// IDs returns the transactions' ids, in order. The slice is the
// digest's own: the caller must not modify it.
func (d *TxDigest) IDs() []Hash { return d.ids }

// matches reports whether d was computed from txs: the same transaction
// values in the same places, not merely equal ones. Transactions are
// never modified once built (the mempool, the batches lately received
// and the blocks share them), so the same value hashes as it did. A nil
// digest matches nothing.
func (d *TxDigest) matches(txs []*Transaction) bool {
	if d == nil || len(d.txs) != len(txs) {
		return false
	}
	for i, tx := range txs {
		if d.txs[i] != tx {
			return false
		}
	}
	return true
}

// idsAndRoot returns the ids and the merkle root of txs: d's when it was
// computed from them, else hashed now.
func (d *TxDigest) idsAndRoot(txs []*Transaction) ([]Hash, Hash) {
	if d.matches(txs) {
		return d.ids, d.root
	}
	ids := TxIDs(txs)
	return ids, MerkleRoot(ids)
}

// DigestTxs is the package's DigestTxs for the transactions a compact
// block was rebuilt from by id (Range): ids[i], when the pool holds
// txs[i] itself under it, is taken as txs[i]'s id without hashing it
// again, since the pool keys every transaction by its id, hashed from it
// when it was admitted (TestMempoolKeysAreIDs). Every other transaction
// is hashed here: ids[i] zero, another value held under ids[i] (a wrong
// claim, or an equal copy), or one the pool dropped since. So every id of
// the digest is still a hash this process took of that very transaction,
// never the id a short id was meant for: a short-id collision that placed
// a wrong transaction of the pool gets that transaction's own id, and
// the merkle root fails. A rebuild's ids cost a map lookup each instead
// of encoding and hashing the transaction: in a relay hop of a 100 KiB
// block that was about a third of the hop's CPU (docs/benchmarks.md).
func (m *Mempool) DigestTxs(txs []*Transaction, ids []Hash) *TxDigest {
	out := make([]Hash, len(txs))
	known := make([]bool, len(txs))
	m.mu.Lock()
	for i, tx := range txs {
		if i < len(ids) && m.holdsAs(ids[i], tx) {
			out[i], known[i] = ids[i], true
		}
	}
	m.mu.Unlock()
	for i, tx := range txs {
		if !known[i] {
			out[i] = tx.ID()
		}
	}
	return newDigest(txs, out)
}

// holdsAs reports whether the pool holds tx itself, pending or queued,
// under id: the same value, not an equal one. Called with mu held.
func (m *Mempool) holdsAs(id Hash, tx *Transaction) bool {
	if e, ok := m.byID[id]; ok {
		return e.tx == tx
	}
	q, ok := m.queue.byID[id]
	return ok && q.tx == tx
}
