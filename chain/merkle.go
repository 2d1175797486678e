package chain

import "crypto/sha256"

// MerkleRoot is the root of a binary hash tree over transaction ids. An
// inner node is SHA-256(0x01 || left || right); a level with an odd count
// carries its last node up unchanged. Unlike Bitcoin, which pairs the last
// node with itself, this leaves no second list of ids with the same root
// (CVE-2012-2459), so a block whose body fails the merkle check cannot
// poison its header's hash. The root of no ids is the zero hash.
func MerkleRoot(ids []Hash) Hash {
	if len(ids) == 0 {
		return ZeroHash
	}
	level := append([]Hash(nil), ids...)
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
