package chain

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSON forms of transactions and blocks, with the classic Flask teaching
// chain's field names (index, previous_hash, proof, timestamp, transactions,
// sender, recipient, amount), so its clients read gossipchain's output and
// post transactions to it unchanged.
//
// A transaction:
//
//	{"id": "<64 hex>", "sender": "...", "recipient": "...",
//	 "amount": 10, "fee": 1, "nonce": 0, "version": 1,
//	 "public_key": "<64 hex>", "signature": "<128 hex>"}
//
// public_key and signature are left out when empty. A block:
//
//	{"index": 1, "hash": "<64 hex>", "previous_hash": "<64 hex>",
//	 "proof": 1234, "timestamp": 1795478405.123, "transactions": [...],
//	 "merkle_root": "<64 hex>", "version": 1, "bits": 504365055,
//	 "target": "<64 hex>", "difficulty": 1048575}
//
// proof is the header nonce, timestamp is Unix seconds with millisecond
// precision, bits the compact target. hash, target and difficulty (the
// expected number of hashes per block, float64 of Work) are derived from
// the other fields; target is left out when bits encode no 256-bit target.
//
// Decoding is for hostile input (HTTP clients, peers' /chain output) and
// never panics. It is stricter than encoding/json: member names match
// exactly (encoding/json folds case, so {"amount":1,"Amount":2} would be two
// spellings of one field, read differently by other parsers), unknown and
// repeated members are refused, integers are JSON integers within range
// (never strings, fractions or exponents), strings are valid UTF-8 without
// lone surrogate escapes (which encoding/json turns into U+FFFD silently),
// and a given id or hash must equal the one computed. Whatever decodes
// also fits the binary encoding's limits. Every error wraps ErrMalformed,
// except a block over MaxBlockTxs (ErrTooManyTxs) or MaxBlockSize
// (ErrBlockTooBig), and names the field at fault.

// txMembers holds the raw text of each member of a posted transaction;
// nil means absent.
type txMembers struct {
	id, sender, recipient, amount, fee, nonce, version, publicKey, signature json.RawMessage
}

func (m *txMembers) field(name string) *json.RawMessage {
	switch name {
	case "id":
		return &m.id
	case "sender":
		return &m.sender
	case "recipient":
		return &m.recipient
	case "amount":
		return &m.amount
	case "fee":
		return &m.fee
	case "nonce":
		return &m.nonce
	case "version":
		return &m.version
	case "public_key":
		return &m.publicKey
	case "signature":
		return &m.signature
	}
	return nil
}

// MarshalJSON encodes the transaction as described at the top of this file.
// A sender or recipient that is not UTF-8 (possible only in a transaction
// that fails CheckTxSanity) is refused: JSON cannot carry it, and replacing
// bytes would show an id that does not match the names shown.
func (tx *Transaction) MarshalJSON() ([]byte, error) { return tx.AppendJSON(nil) }

// AppendJSON appends the transaction's JSON, the bytes MarshalJSON
// returns (encoding/json's own form of them, HTML characters escaped), to
// dst. It writes the members by hand: encoding a struct by reflection and
// then having the caller's encoder check and copy the text again cost an
// HTTP answer more than the rest of its encoding.
func (tx *Transaction) AppendJSON(dst []byte) ([]byte, error) {
	if !utf8.ValidString(tx.Sender) {
		return dst, jsonMalformed("sender is not valid UTF-8")
	}
	if !utf8.ValidString(tx.Recipient) {
		return dst, jsonMalformed("recipient is not valid UTF-8")
	}
	id := tx.ID()
	dst = append(dst, `{"id":"`...)
	dst = hex.AppendEncode(dst, id[:])
	dst = append(dst, `","sender":`...)
	dst = AppendJSONString(dst, tx.Sender)
	dst = append(dst, `,"recipient":`...)
	dst = AppendJSONString(dst, tx.Recipient)
	dst = append(dst, `,"amount":`...)
	dst = strconv.AppendUint(dst, tx.Amount, 10)
	dst = append(dst, `,"fee":`...)
	dst = strconv.AppendUint(dst, tx.Fee, 10)
	dst = append(dst, `,"nonce":`...)
	dst = strconv.AppendUint(dst, tx.Nonce, 10)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendUint(dst, uint64(tx.Version), 10)
	if len(tx.PublicKey) > 0 {
		dst = append(dst, `,"public_key":"`...)
		dst = hex.AppendEncode(dst, tx.PublicKey)
		dst = append(dst, '"')
	}
	if len(tx.Signature) > 0 {
		dst = append(dst, `,"signature":"`...)
		dst = hex.AppendEncode(dst, tx.Signature)
		dst = append(dst, '"')
	}
	return append(dst, '}'), nil
}

// AppendJSONString appends s as a JSON string the way encoding/json
// writes it: text of printable ASCII that needs no escape (every address,
// every message of the API's answers) is copied; anything else goes
// through encoding/json.
func AppendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			q, _ := json.Marshal(s) // a string: cannot fail
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// UnmarshalJSON decodes a transaction. sender, recipient and amount are
// required; fee and nonce default to 0, version to TxVersion; public_key,
// signature and id may be absent, null or (key and signature) "". A bare
// null is refused rather than ignored (encoding/json's convention): a
// request body of null is not a transaction. On error tx is unchanged.
func (tx *Transaction) UnmarshalJSON(data []byte) error {
	var m txMembers
	return tx.decodeJSON(data, &m)
}

// UnmarshalJSONMembers is UnmarshalJSON that, when it succeeds, also
// hands each member the object has to member, by name and raw text (which
// aliases data), so a caller that must know which members were given
// (the API's create-transaction) does not read the body a second time.
func (tx *Transaction) UnmarshalJSONMembers(data []byte, member func(name string, value []byte)) error {
	var m txMembers
	if err := tx.decodeJSON(data, &m); err != nil {
		return err
	}
	for _, f := range [...]struct {
		name  string
		value json.RawMessage
	}{{"id", m.id}, {"sender", m.sender}, {"recipient", m.recipient}, {"amount", m.amount}, {"fee", m.fee},
		{"nonce", m.nonce}, {"version", m.version}, {"public_key", m.publicKey}, {"signature", m.signature}} {
		if f.value != nil {
			member(f.name, f.value)
		}
	}
	return nil
}

// decodeJSON is UnmarshalJSON, reading the members into m.
func (tx *Transaction) decodeJSON(data []byte, m *txMembers) error {
	if err := jsonObject(data, "transaction", m.field); err != nil {
		return err
	}
	var (
		out Transaction
		err error
	)
	if out.Sender, err = jsonName(m.sender, "sender"); err != nil {
		return err
	}
	if out.Recipient, err = jsonName(m.recipient, "recipient"); err != nil {
		return err
	}
	if m.amount == nil {
		return jsonMalformed("amount is missing")
	}
	if out.Amount, err = jsonUint(m.amount, "amount", MaxAmount); err != nil {
		return err
	}
	if !jsonAbsent(m.fee) {
		if out.Fee, err = jsonUint(m.fee, "fee", MaxAmount); err != nil {
			return err
		}
	}
	if !jsonAbsent(m.nonce) {
		if out.Nonce, err = jsonUint(m.nonce, "nonce", math.MaxUint64); err != nil {
			return err
		}
	}
	out.Version = TxVersion
	if !jsonAbsent(m.version) {
		v, err := jsonUint(m.version, "version", math.MaxUint8)
		if err != nil {
			return err
		}
		out.Version = uint8(v)
	}
	if out.PublicKey, err = jsonHexBytes(m.publicKey, "public_key", ed25519.PublicKeySize); err != nil {
		return err
	}
	if out.Signature, err = jsonHexBytes(m.signature, "signature", ed25519.SignatureSize); err != nil {
		return err
	}
	if !jsonAbsent(m.id) {
		id, err := jsonHash(m.id, "id")
		if err != nil {
			return err
		}
		if got := out.ID(); got != id {
			return jsonMalformed("id %s does not match the transaction, whose id is %s", id, got)
		}
	}
	*tx = out
	return nil
}

// blockMembers holds the raw text of each member of a block object.
type blockMembers struct {
	index, hash, previousHash, proof, timestamp, transactions,
	merkleRoot, version, bits, target, difficulty json.RawMessage
}

func (m *blockMembers) field(name string) *json.RawMessage {
	switch name {
	case "index":
		return &m.index
	case "hash":
		return &m.hash
	case "previous_hash":
		return &m.previousHash
	case "proof":
		return &m.proof
	case "timestamp":
		return &m.timestamp
	case "transactions":
		return &m.transactions
	case "merkle_root":
		return &m.merkleRoot
	case "version":
		return &m.version
	case "bits":
		return &m.bits
	case "target":
		return &m.target
	case "difficulty":
		return &m.difficulty
	}
	return nil
}

// MarshalJSON encodes the block as described at the top of this file.
func (b *Block) MarshalJSON() ([]byte, error) { return b.AppendJSON(nil) }

// UnmarshalJSON decodes a block and rebuilds its header. Every header field
// is required; hash, target and difficulty are optional and, when given,
// must equal the values derived from the header (difficulty exactly, as
// MarshalJSON writes it). The merkle root is taken as given, not checked
// against the transactions: that is a validation rule (ErrBadMerkleRoot).
// On error b is unchanged.
func (b *Block) UnmarshalJSON(data []byte) error {
	var m blockMembers
	if err := jsonObject(data, "block", m.field); err != nil {
		return err
	}
	for _, req := range []struct {
		raw  json.RawMessage
		name string
	}{
		{m.index, "index"}, {m.previousHash, "previous_hash"}, {m.proof, "proof"},
		{m.timestamp, "timestamp"}, {m.transactions, "transactions"},
		{m.merkleRoot, "merkle_root"}, {m.version, "version"}, {m.bits, "bits"},
	} {
		if req.raw == nil {
			return jsonMalformed("%s is missing", req.name)
		}
	}
	var (
		h   Header
		err error
	)
	if h.Height, err = jsonUint(m.index, "index", math.MaxUint64); err != nil {
		return err
	}
	if h.PrevHash, err = jsonHash(m.previousHash, "previous_hash"); err != nil {
		return err
	}
	if h.Nonce, err = jsonUint(m.proof, "proof", math.MaxUint64); err != nil {
		return err
	}
	if h.Timestamp, err = jsonMillis(m.timestamp, "timestamp"); err != nil {
		return err
	}
	if h.MerkleRoot, err = jsonHash(m.merkleRoot, "merkle_root"); err != nil {
		return err
	}
	v, err := jsonUint(m.version, "version", math.MaxUint32)
	if err != nil {
		return err
	}
	h.Version = uint32(v)
	bits, err := jsonUint(m.bits, "bits", math.MaxUint32)
	if err != nil {
		return err
	}
	h.Bits = uint32(bits)
	txs, err := jsonTransactions(m.transactions)
	if err != nil {
		return err
	}
	out := Block{Header: h, Transactions: txs}
	if size := out.EncodedSize(); size > MaxBlockSize {
		return ruleError(ErrBlockTooBig, "block encodes to %d bytes, limit %d", size, MaxBlockSize)
	}
	if err := jsonCheckDerived(&m, &h); err != nil {
		return err
	}
	*b = out
	return nil
}

// jsonCheckDerived checks the optional hash, target and difficulty members
// against the values h gives.
func jsonCheckDerived(m *blockMembers, h *Header) error {
	if !jsonAbsent(m.hash) {
		given, err := jsonHash(m.hash, "hash")
		if err != nil {
			return err
		}
		if got := h.Hash(); got != given {
			return jsonMalformed("hash %s does not match the header, whose hash is %s", given, got)
		}
	}
	target, difficulty := jsonTarget(h.Bits)
	if !jsonAbsent(m.target) {
		s, err := jsonString(m.target, "target")
		if err != nil {
			return err
		}
		if target == "" {
			return jsonMalformed("target given, but bits %08x encode no 256-bit target", h.Bits)
		}
		if !strings.EqualFold(s, target) {
			return jsonMalformed("target %s does not match bits %08x, which encode %s", jsonShorten(s), h.Bits, target)
		}
	}
	if !jsonAbsent(m.difficulty) {
		given, err := jsonFloat(m.difficulty, "difficulty")
		if err != nil {
			return err
		}
		if given != difficulty {
			return jsonMalformed("difficulty %v does not match bits %08x, which give %v", given, h.Bits, difficulty)
		}
	}
	return nil
}

// jsonTransactions decodes the transactions array, refusing more than
// MaxBlockTxs elements before decoding the one over.
func jsonTransactions(raw json.RawMessage) ([]*Transaction, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, jsonMalformed("transactions must be an array")
	}
	txs := []*Transaction{}
	for dec.More() {
		if len(txs) == MaxBlockTxs {
			return nil, ruleError(ErrTooManyTxs, "more than %d transactions", MaxBlockTxs)
		}
		var el json.RawMessage
		if err := dec.Decode(&el); err != nil {
			return nil, jsonMalformed("transaction %d: %v", len(txs), err)
		}
		tx := new(Transaction)
		if err := tx.UnmarshalJSON(el); err != nil {
			return nil, jsonWrapIndex(len(txs), err)
		}
		txs = append(txs, tx)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonMalformed("transactions: %v", err)
	}
	return txs, nil
}

func jsonWrapIndex(i int, err error) error {
	var re *RuleError
	if errors.As(err, &re) {
		return &RuleError{Code: re.Code, Msg: "transaction " + strconv.Itoa(i) + ": " + re.Msg}
	}
	return jsonMalformed("transaction %d: %v", i, err)
}

// jsonTarget returns the target bits encode as 64 hex digits and the
// difficulty, float64 of Work; "" and 0 when bits encode no 256-bit target.
func jsonTarget(bits uint32) (string, float64) {
	t, neg, over := CompactToBig(bits)
	if neg || over || t.BitLen() > 8*HashSize {
		return "", 0
	}
	tb := TargetBytes(t)
	f, _ := new(big.Float).SetInt(Work(t)).Float64()
	return hex.EncodeToString(tb[:]), f
}
