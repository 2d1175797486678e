package chain

import "slices"

// TxDigest is what hashing a list of transactions gives: each one's id
// and the merkle root over them, computed here, in this process, from
// the transactions themselves. A relay hop needs them twice, once to
// see whether a compact block was rebuilt right (its root against the
// header's) and once in the block's sanity check (the root again, the
// duplicate ids, the signature cache): the rebuild hands its digest to
// Chain.CheckBlockDigest so that each transaction is hashed once per
// hop. Only DigestTxs makes one, so a digest's ids are never ids a peer
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
func DigestTxs(txs []*Transaction) *TxDigest {
	ids := TxIDs(txs)
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
