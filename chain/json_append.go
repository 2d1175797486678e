package chain

import (
	"encoding/json"
)

// blockHeadJSON and blockTailJSON are a block's wire shape (see json.go)
// on either side of its transactions, in output order.
type blockHeadJSON struct {
	Index        uint64      `json:"index"`
	Hash         Hash        `json:"hash"`
	PreviousHash Hash        `json:"previous_hash"`
	Proof        uint64      `json:"proof"`
	Timestamp    json.Number `json:"timestamp"`
}

type blockTailJSON struct {
	MerkleRoot Hash    `json:"merkle_root"`
	Version    uint32  `json:"version"`
	Bits       uint32  `json:"bits"`
	Target     string  `json:"target,omitempty"`
	Difficulty float64 `json:"difficulty"`
}

// AppendJSON appends the block's JSON, the bytes MarshalJSON returns, to
// dst. It encodes one transaction at a time straight into dst: encoding
// a block through encoding/json instead copies every transaction's text
// twice more (once to check it, once into the block's), which for a full
// block is several times the answer's size. A server streaming many
// blocks reuses dst and so holds one block's text at a time.
func (b *Block) AppendJSON(dst []byte) ([]byte, error) {
	h := &b.Header
	target, difficulty := jsonTarget(h.Bits)
	head, err := json.Marshal(blockHeadJSON{
		Index:        h.Height,
		Hash:         h.Hash(),
		PreviousHash: h.PrevHash,
		Proof:        h.Nonce,
		Timestamp:    json.Number(jsonSeconds(h.Timestamp)),
	})
	if err != nil {
		return dst, err
	}
	tail, err := json.Marshal(blockTailJSON{
		MerkleRoot: h.MerkleRoot,
		Version:    h.Version,
		Bits:       h.Bits,
		Target:     target,
		Difficulty: difficulty,
	})
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, head[:len(head)-1]...) // without its closing brace
	dst = append(dst, `,"transactions":[`...)
	for i, tx := range b.Transactions {
		if i > 0 {
			dst = append(dst, ',')
		}
		t, err := tx.MarshalJSON()
		if err != nil {
			return dst[:start], err
		}
		dst = append(dst, t...)
	}
	dst = append(dst, "],"...)
	return append(dst, tail[1:]...), nil // without its opening brace
}
