package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// TxVersion is the only transaction version this code accepts.
const TxVersion = 1

// Transaction limits. They bound decoding before anything is allocated.
const (
	// MaxNameLen bounds sender and recipient strings. Addresses are 50
	// bytes; the open network takes any name up to this length.
	MaxNameLen = 128
	// MaxAmount bounds amounts and fees: 2^53-1, the largest integer a
	// JSON number carries exactly in every client, JavaScript included.
	MaxAmount = 1<<53 - 1
	// MaxTxSize is the largest encoded transaction.
	MaxTxSize = 1 + 2*(1+MaxNameLen) + 3*8 + 1 + ed25519.PublicKeySize + 1 + ed25519.SignatureSize
	// minTxSize is the smallest encoding: one-byte names, no key, no
	// signature. Used to bound a claimed transaction count.
	minTxSize = 1 + 2*(1+1) + 3*8 + 1 + 1
)

// signContext is prefixed to the bytes a sender signs, so a transaction
// signature can never be mistaken for a signature over anything else.
const signContext = "gossipchain/tx/v1"

// Transaction moves Amount from Sender to Recipient. On signed networks the
// sender is the address of PublicKey and Signature covers the network id and
// every other field; Nonce is the sender's count of earlier transactions.
// The coinbase has sender "0" and the block height as its nonce.
type Transaction struct {
	Version   uint8
	Sender    string
	Recipient string
	Amount    uint64
	Fee       uint64
	Nonce     uint64
	PublicKey []byte // ed25519, 32 bytes, or empty
	Signature []byte // ed25519, 64 bytes, or empty
}

// IsCoinbase reports whether tx is a coinbase (sender "0").
func (tx *Transaction) IsCoinbase() bool { return tx.Sender == CoinbaseSender }

// EncodedSize returns the length of the canonical encoding.
func (tx *Transaction) EncodedSize() int {
	return 1 + 1 + len(tx.Sender) + 1 + len(tx.Recipient) + 24 + 1 + len(tx.PublicKey) + 1 + len(tx.Signature)
}

// AppendEncode appends the canonical encoding: version (1 byte); sender
// and recipient, each a 1-byte length then UTF-8; amount, fee, nonce as
// big-endian uint64; public key and signature, each a 1-byte length then
// bytes. Fields must already be within their limits (see CheckTxSanity).
func (tx *Transaction) AppendEncode(b []byte) []byte {
	b = tx.appendUnsigned(b)
	b = append(b, byte(len(tx.Signature)))
	return append(b, tx.Signature...)
}

// appendUnsigned appends the encoding up to, not including, the signature.
func (tx *Transaction) appendUnsigned(b []byte) []byte {
	b = append(b, tx.Version)
	b = append(b, byte(len(tx.Sender)))
	b = append(b, tx.Sender...)
	b = append(b, byte(len(tx.Recipient)))
	b = append(b, tx.Recipient...)
	b = binary.BigEndian.AppendUint64(b, tx.Amount)
	b = binary.BigEndian.AppendUint64(b, tx.Fee)
	b = binary.BigEndian.AppendUint64(b, tx.Nonce)
	b = append(b, byte(len(tx.PublicKey)))
	return append(b, tx.PublicKey...)
}

// Encode returns the canonical encoding.
func (tx *Transaction) Encode() []byte {
	return tx.AppendEncode(make([]byte, 0, tx.EncodedSize()))
}

// ID is SHA-256 of the canonical encoding, signature included.
func (tx *Transaction) ID() Hash {
	var buf [MaxTxSize]byte
	return sha256.Sum256(tx.AppendEncode(buf[:0]))
}

// SigningBytes returns what the sender signs: a context string, the
// network id (genesis hash) and the encoding without the signature. The
// network id makes a transaction worthless on any other network.
func (tx *Transaction) SigningBytes(network Hash) []byte {
	b := make([]byte, 0, len(signContext)+HashSize+tx.EncodedSize())
	b = append(b, signContext...)
	b = append(b, network[:]...)
	return tx.appendUnsigned(b)
}

// Sign fills PublicKey and Signature for network with key. The sender
// must already be the key's address.
func (tx *Transaction) Sign(network Hash, key ed25519.PrivateKey) {
	tx.PublicKey = append([]byte(nil), key.Public().(ed25519.PublicKey)...)
	tx.Signature = ed25519.Sign(key, tx.SigningBytes(network))
}

// DecodeTransaction reads one canonical transaction from the front of b and
// returns it with the number of bytes it used. Lengths are checked against
// their limits before anything is copied.
func DecodeTransaction(b []byte) (*Transaction, int, error) {
	r := reader{b: b}
	tx := &Transaction{}
	tx.Version = r.byte()
	tx.Sender = string(r.bytes(MaxNameLen, "sender"))
	tx.Recipient = string(r.bytes(MaxNameLen, "recipient"))
	tx.Amount = r.uint64()
	tx.Fee = r.uint64()
	tx.Nonce = r.uint64()
	if pk := r.bytes(ed25519.PublicKeySize, "public key"); len(pk) > 0 {
		tx.PublicKey = append([]byte(nil), pk...)
	}
	if sig := r.bytes(ed25519.SignatureSize, "signature"); len(sig) > 0 {
		tx.Signature = append([]byte(nil), sig...)
	}
	if r.err == nil && (tx.Sender == "" || tx.Recipient == "") {
		// No valid transaction has an empty name, and minTxSize, which
		// bounds a block's claimed count, assumes none does.
		r.err = ruleError(ErrMalformed, "empty sender or recipient")
	}
	if r.err != nil {
		return nil, 0, fmt.Errorf("transaction: %w", r.err)
	}
	return tx, r.off, nil
}

// PeekFee reads the fee of the transaction encoded at the front of b
// without decoding it: its offset follows from the two name lengths
// (protocol.md §3.2). So a node refuses a fee below its minimum for the
// price of three reads, before the message is decoded. ok is false when b
// runs short of the fee or a name length is past its limit;
// DecodeTransaction then says why. Where DecodeTransaction succeeds,
// PeekFee reads the same fee.
func PeekFee(b []byte) (fee uint64, ok bool) {
	if len(b) < 2 || int(b[1]) > MaxNameLen {
		return 0, false
	}
	r := 2 + int(b[1]) // the recipient's length byte
	if len(b) <= r || int(b[r]) > MaxNameLen {
		return 0, false
	}
	off := r + 1 + int(b[r]) + 8 // past the recipient and the amount
	if len(b) < off+8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[off:]), true
}

// reader decodes big-endian fields and length-prefixed strings, keeping the
// first error so a decoder checks once at the end.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if len(r.b)-r.off < n {
		r.err = ruleError(ErrMalformed, "short %s: need %d bytes, have %d", what, n, len(r.b)-r.off)
		return false
	}
	return true
}

func (r *reader) byte() byte {
	if !r.need(1, "byte") {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) uint64() uint64 {
	if !r.need(8, "integer") {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// bytes reads a 1-byte length then that many bytes, refusing lengths over
// max. The result aliases the input.
func (r *reader) bytes(max int, what string) []byte {
	n := int(r.byte())
	if r.err != nil {
		return nil
	}
	if n > max {
		r.err = ruleError(ErrMalformed, "%s length %d exceeds %d", what, n, max)
		return nil
	}
	if !r.need(n, what) {
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}
