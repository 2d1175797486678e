package chain

import "crypto/sha256"

// MerkleRoot is the root of a binary hash tree over transaction ids, in
// the manner of RFC 6962: a leaf is SHA-256(0x00 || id), an inner node
// SHA-256(0x01 || left || right), and a level with an odd count carries
// its last node up unchanged. The prefixes keep leaves and inner nodes
// apart (without them, a 65-byte transaction starting with 0x01 would have
// the id of an inner node), and carrying the odd node up, where Bitcoin
// pairs it with itself, leaves no second list of ids with the same root
// (CVE-2012-2459). So a body that matches a header's root is the body the
// miner committed to, and a header cannot be blamed for a swapped body.
// The root of no ids is the zero hash.
func MerkleRoot(ids []Hash) Hash {
	if len(ids) == 0 {
		return ZeroHash
	}
	level := make([]Hash, len(ids))
	var leaf [1 + HashSize]byte
	for i, id := range ids {
		copy(leaf[1:], id[:])
		level[i] = sha256.Sum256(leaf[:])
	}
	var buf [1 + 2*HashSize]byte
	buf[0] = 0x01
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			copy(buf[1:], level[i][:])
			copy(buf[1+HashSize:], level[i+1][:])
			next = append(next, sha256.Sum256(buf[:]))
		}
		level = next
	}
	return level[0]
}

// TxIDs returns the id of every transaction in order.
func TxIDs(txs []*Transaction) []Hash {
	ids := make([]Hash, len(txs))
	for i, tx := range txs {
		ids[i] = tx.ID()
	}
	return ids
}
