package api

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/strictjson"
)

// txRequest is the body of POST /create-transaction as far as this
// handler looks at it: which members are present. The members' values
// are decoded by chain.Transaction.UnmarshalJSON, which is strict. Each
// field holds the last text given for its member (nil: absent), as
// encoding/json's map of members would.
type txRequest struct {
	empty                               bool
	sender, nonce, publicKey, signature json.RawMessage
}

func (m *txRequest) set(name string, value []byte) {
	m.empty = false
	switch name {
	case "sender":
		m.sender = value
	case "nonce":
		m.nonce = value
	case "public_key":
		m.publicKey = value
	case "signature":
		m.signature = value
	}
}

// has reports whether a member is present and not null.
func has(v json.RawMessage) bool {
	return v != nil && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// decodeTxRequest reads which members body has: in one pass when it is a
// plain JSON object (strictjson.Members), otherwise through encoding/json,
// whose error says what is wrong with it.
func decodeTxRequest(body []byte) (txRequest, error) {
	m := txRequest{empty: true}
	if strictjson.Members(body, m.set) {
		return m, nil
	}
	return txRequestByMap(body)
}

// txRequestByMap reads body's members through encoding/json's map of
// them.
func txRequestByMap(body []byte) (txRequest, error) {
	m := txRequest{empty: true}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil || all == nil {
		return m, badBody(err)
	}
	for name, v := range all {
		m.set(name, v)
	}
	return m, nil
}

// POST /create-transaction {sender, recipient, amount[, fee, nonce,
// public_key, signature]}.
//
// On signed networks a missing sender, or the node's wallet address
// without a signature, means the node signs with its wallet (choosing the
// nonce, and the fee when it is missing or 0: the minimum relay fee for
// the transfer's size, so the classic client's {"recipient", "amount"}
// is admitted and the recipient gets exactly amount); any other sender
// brings public_key, signature and nonce, and a fee of at least the
// minimum (400 otherwise). On
// unsigned networks any sender name goes, and a missing nonce is drawn at
// random so identical transfers get distinct ids.
func (s *server) createTransaction(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError, or the client went away
	}
	wallet := s.n.WalletAddress()
	tx, members, err := readTx(body, wallet)
	if err != nil {
		return err
	}
	p := s.n.Chain().Params()
	ctx := r.Context()
	var out *chain.Transaction
	switch {
	case p.Signed && tx.Sender == wallet && !has(members.signature):
		if has(members.nonce) || has(members.publicKey) {
			return errorf(EINVALID, "the node signs transfers from its wallet %s: leave out nonce and public_key, or sign the transaction yourself", wallet)
		}
		if out, err = s.n.Send(ctx, tx.Recipient, tx.Amount, tx.Fee); err != nil {
			return err
		}
	case p.Signed:
		for _, m := range []struct {
			name  string
			value json.RawMessage
		}{{"public_key", members.publicKey}, {"signature", members.signature}, {"nonce", members.nonce}} {
			if !has(m.value) {
				return errorf(EINVALID, "%s is missing: a transfer from %s must be signed by its sender (only the node's wallet %s may leave out public_key, signature and nonce)",
					m.name, tx.Sender, wallet)
			}
		}
		out = &tx
	default:
		if !has(members.nonce) {
			var b [8]byte
			rand.Read(b[:])
			// 53 bits, so JavaScript clients read the nonce exactly.
			tx.Nonce = binary.BigEndian.Uint64(b[:]) & chain.MaxAmount
		}
		out = &tx
	}
	if out == &tx {
		err := s.n.SubmitTx(ctx, out)
		if errors.Is(err, chain.ErrTxQueued) {
			// Valid, but after a nonce the node has not seen: held, not
			// yet in a block's reach. 202, not the classic 201.
			s.writeAppended(w, r, http.StatusAccepted, &Submitted{
				Message:     "Transaction is queued until the sender's earlier nonces arrive",
				BlockIndex:  s.n.Chain().NextHeight(),
				Transaction: out,
			})
			return nil
		}
		if err != nil {
			return err
		}
	}
	s.writeAppended(w, r, http.StatusCreated, &Submitted{
		Message:     "Transaction has been submitted successfully",
		BlockIndex:  s.n.Chain().NextHeight(),
		Transaction: out,
	})
	return nil
}

// readTx decodes a create-transaction body: the transaction, the node's
// wallet its sender when the body names none, and which members the body
// gave. A transaction that decodes as it is (it names its sender, as every
// client-signed one does) is read in one pass; any other body takes
// readTxTwice, whose errors and defaults the classic clients know.
func readTx(body []byte, wallet string) (chain.Transaction, txRequest, error) {
	var tx chain.Transaction
	members := txRequest{empty: true}
	if tx.UnmarshalJSONMembers(body, members.set) == nil {
		return tx, members, nil
	}
	return readTxTwice(body, wallet)
}

// readTxTwice is readTx in two passes: which members the body has, then
// the transaction, with the wallet as sender when the body names none.
func readTxTwice(body []byte, wallet string) (chain.Transaction, txRequest, error) {
	var tx chain.Transaction
	members, err := decodeTxRequest(body)
	if err != nil {
		return tx, members, err
	}
	if !has(members.sender) {
		if members.sender != nil {
			return tx, members, errorf(EINVALID, "sender must be a string, not null")
		}
		body = withSender(body, wallet, members.empty)
	}
	if err := tx.UnmarshalJSON(body); err != nil {
		return tx, members, errorf(EINVALID, "%v", err)
	}
	return tx, members, nil
}

// badBody says why a create-transaction body is not a JSON object.
func badBody(err error) error {
	const want = `want a JSON object {"sender", "recipient", "amount"}`
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return errorf(EINVALID, "body is null; %s", want)
	case errors.As(err, &te):
		return errorf(EINVALID, "body is a JSON %s; %s", te.Value, want)
	}
	return errorf(EINVALID, "body is not valid JSON (%v); %s", err, want)
}

// withSender adds "sender": addr to a JSON object that lacks it.
func withSender(obj []byte, addr string, empty bool) []byte {
	obj = bytes.TrimSpace(obj)
	name, _ := json.Marshal(addr) // a string: cannot fail
	out := append([]byte(`{"sender":`), name...)
	if !empty {
		out = append(out, ',')
	}
	return append(out, obj[1:]...)
}

// GET or POST /mine mines one block on the tip, paying the miner address.
// A tip that moves while mining (a block from a peer) is retried a few
// times before giving up with 503.
func (s *server) mine(w http.ResponseWriter, r *http.Request) error {
	if err := drainBody(r); err != nil {
		return err
	}
	var (
		b   *chain.Block
		err error
	)
	for range 3 {
		b, err = s.n.MineOne(r.Context())
		if !errors.Is(err, chain.ErrStaleTip) {
			break
		}
	}
	if err != nil {
		return err
	}
	s.writeAppended(w, r, http.StatusOK, &Mined{Message: "Successfully Mined the new Block", BlockData: b})
	return nil
}

// GET /block/{index or hash}
func (s *server) getBlock(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	c := s.n.Chain()
	var (
		b   *chain.Block
		err error
	)
	if len(id) == 2*chain.HashSize {
		h, perr := chain.ParseHash(id)
		if perr != nil {
			return errorf(EINVALID, "block %q is neither a height nor a 64-hex-digit hash", clip(id))
		}
		b, err = c.Block(h)
	} else {
		height, perr := strconv.ParseUint(id, 10, 64)
		if perr != nil {
			return errorf(EINVALID, "block %q is neither a height nor a 64-hex-digit hash", clip(id))
		}
		b, err = c.BlockAt(height)
	}
	if errors.Is(err, chain.ErrNotFound) {
		return errorf(ENOTFOUND, "no block %s", id)
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, b)
	return nil
}

// GET /transaction/{id}: from the mempool, or the block that holds it.
func (s *server) getTransaction(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("id")
	id, err := chain.ParseHash(raw)
	if err != nil {
		return errorf(EINVALID, "transaction id %q is not 64 hex digits", clip(raw))
	}
	if tx, ok := s.n.Mempool().Get(id); ok {
		s.writeJSON(w, r, http.StatusOK, TxStatus{Transaction: tx, Status: "pending"})
		return nil
	}
	c := s.n.Chain()
	bh, err := c.TxLocation(id)
	if errors.Is(err, chain.ErrNotFound) {
		return errorf(ENOTFOUND, "no transaction %s in the mempool or on the chain", id)
	}
	if err != nil {
		return err
	}
	b, err := c.Block(bh)
	if err != nil {
		return err
	}
	for _, tx := range b.Transactions {
		if tx.ID() == id {
			height := b.Header.Height
			s.writeJSON(w, r, http.StatusOK, TxStatus{Transaction: tx, Status: "confirmed", BlockHash: &bh, BlockIndex: &height})
			return nil
		}
	}
	return errorf(ENOTFOUND, "no transaction %s in the mempool or on the chain", id)
}

// GET /balance/{address}: the account at the tip, or as a block being
// committed leaves it (chain.Chain.Account); zero if never seen.
func (s *server) getBalance(w http.ResponseWriter, r *http.Request) error {
	addr := r.PathValue("address")
	switch {
	case len(addr) > chain.MaxNameLen || !utf8.ValidString(addr):
		return errorf(EINVALID, "address %q is not a valid name", clip(addr))
	case s.n.Chain().Params().Signed && !chain.ValidAddress(addr):
		return errorf(EINVALID, "%q is not a valid address", clip(addr))
	}
	acct, err := s.n.Chain().Account(addr)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, Balance{Address: addr, Balance: acct.Balance, Nonce: acct.Nonce})
	return nil
}

// clip shortens client input echoed in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
