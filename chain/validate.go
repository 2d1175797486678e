package chain

import (
	"context"
	"crypto/ed25519"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"
)

// Validation runs in three layers, by what each needs to know:
//
//   - sanity (CheckTxSanity, CheckBlockSanity): the block or transaction
//     alone: sizes, proof of work against the claimed target, merkle root,
//     coinbase shape, signatures. Gossip validators run this layer, so
//     nothing that fails it is ever forwarded.
//   - context (CheckHeaderContext): the parent and its ancestors: height,
//     retargeted target, median time, clock drift.
//   - connect (ledger.go): the ledger at the parent: nonces, balances,
//     coinbase amount.

// CheckTxSanity checks a non-coinbase transaction on its own: version,
// names, amounts, and on signed networks the key (of the sender's address,
// not of small order), address and signature.
func CheckTxSanity(p *Params, tx *Transaction) error { return checkTxSanity(p, tx, nil, nil) }

// checkTxSanity is checkTxSanityContext for a caller with no deadline.
func checkTxSanity(p *Params, tx *Transaction, sigs *SigCache, id *Hash) error {
	return checkTxSanityContext(context.Background(), p, tx, sigs, id)
}

// checkTxSanityContext is CheckTxSanity with the signature looked up in
// sigs first and verified in a batch with concurrent checks (nil: always
// verified, alone). id, if not nil, is tx's id, already computed by the
// caller. An error that is not a *RuleError is ctx's: the transaction
// was not judged.
func checkTxSanityContext(ctx context.Context, p *Params, tx *Transaction, sigs *SigCache, id *Hash) error {
	if err := checkTxShape(p, tx); err != nil {
		return err
	}
	if !p.Signed {
		return nil
	}
	ok, err := sigs.verify(ctx, p, tx, id)
	if err != nil {
		return err
	}
	if !ok {
		return badSignature(tx)
	}
	return nil
}

// badSignature is the error of a signature that does not verify.
func badSignature(tx *Transaction) error {
	return ruleError(ErrBadSignature, "signature does not verify for %s", tx.Sender)
}

// checkTxShape runs every rule of transaction sanity but the signature
// verification itself, which callers do one at a time or in batches.
// Its rules may depend on the transaction's bytes and the network's
// parameters only, never on a height or a tip: a signature cache hit
// stands for this check too (SigCache), wherever the transaction was
// first checked.
func checkTxShape(p *Params, tx *Transaction) error {
	if tx.Version != TxVersion {
		return ruleError(ErrBadTxVersion, "version %d, want %d", tx.Version, TxVersion)
	}
	if tx.IsCoinbase() {
		return ruleError(ErrMultipleCoinbases, "coinbase sender outside the first transaction")
	}
	if err := checkName("sender", tx.Sender); err != nil {
		return err
	}
	if err := checkName("recipient", tx.Recipient); err != nil {
		return err
	}
	if err := checkAmounts(tx); err != nil {
		return err
	}
	if !p.Signed {
		if len(tx.PublicKey) != 0 || len(tx.Signature) != 0 {
			return ruleError(ErrBadSignature, "network %s takes unsigned transactions", p.Name)
		}
		return nil
	}
	if !ValidAddress(tx.Recipient) {
		return ruleError(ErrBadAddress, "recipient %q is not a valid address", tx.Recipient)
	}
	if len(tx.PublicKey) != ed25519.PublicKeySize {
		return ruleError(ErrBadPublicKey, "public key is %d bytes, want %d", len(tx.PublicKey), ed25519.PublicKeySize)
	}
	if !isAddressOf(tx.PublicKey, tx.Sender) {
		return ruleError(ErrBadPublicKey, "public key is of %s, not sender %s", AddressFromPublicKey(tx.PublicKey), tx.Sender)
	}
	if smallOrderKey(tx.PublicKey) {
		return ruleError(ErrSmallOrderKey, "public key %x has small order: anyone can sign for %s", tx.PublicKey, tx.Sender)
	}
	if len(tx.Signature) != ed25519.SignatureSize {
		return ruleError(ErrBadSignature, "signature is %d bytes, want %d", len(tx.Signature), ed25519.SignatureSize)
	}
	return nil
}

func checkName(field, s string) error {
	if s == "" || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return ruleError(ErrBadAddress, "%s must be 1 to %d bytes of UTF-8, got %d bytes", field, MaxNameLen, len(s))
	}
	return nil
}

func checkAmounts(tx *Transaction) error {
	if tx.Amount == 0 || tx.Amount > MaxAmount {
		return ruleError(ErrBadAmount, "amount %d, want 1 to %d", tx.Amount, uint64(MaxAmount))
	}
	if tx.Fee > MaxAmount || tx.Amount+tx.Fee > MaxAmount {
		return ruleError(ErrBadAmount, "amount %d plus fee %d exceeds %d", tx.Amount, tx.Fee, uint64(MaxAmount))
	}
	return nil
}

// checkCoinbase checks the shape of a block's first transaction. Its amount
// is checked at connect, when the fees are known.
func checkCoinbase(p *Params, cb *Transaction, height uint64) error {
	if !cb.IsCoinbase() {
		return ruleError(ErrFirstTxNotCoinbase, "first transaction is from %q", cb.Sender)
	}
	if cb.Version != TxVersion {
		return ruleError(ErrBadTxVersion, "coinbase version %d, want %d", cb.Version, TxVersion)
	}
	if err := checkName("recipient", cb.Recipient); err != nil {
		return err
	}
	if p.Signed && !ValidAddress(cb.Recipient) {
		return ruleError(ErrBadAddress, "coinbase recipient %q is not a valid address", cb.Recipient)
	}
	if cb.Amount == 0 || cb.Amount > MaxAmount {
		return ruleError(ErrBadCoinbaseAmount, "coinbase amount %d, want 1 to %d", cb.Amount, uint64(MaxAmount))
	}
	switch {
	case cb.Fee != 0:
		return ruleError(ErrBadCoinbase, "coinbase fee %d, want 0", cb.Fee)
	case cb.Nonce != height:
		return ruleError(ErrBadCoinbase, "coinbase nonce %d, want the height %d", cb.Nonce, height)
	case len(cb.PublicKey) != 0 || len(cb.Signature) != 0:
		return ruleError(ErrBadCoinbase, "coinbase carries a key or signature")
	}
	return nil
}

// CheckHeaderSanity checks what a header proves on its own: version, a
// target within the network's limit, and a hash at or below that target.
func CheckHeaderSanity(p *Params, h *Header) error {
	if h.Version != HeaderVersion {
		return ruleError(ErrBadVersion, "header version %d, want %d", h.Version, HeaderVersion)
	}
	target, neg, over := CompactToBig(h.Bits)
	switch {
	case neg || over || target.Sign() <= 0:
		return ruleError(ErrBadTarget, "bits %08x do not encode a positive 256-bit target", h.Bits)
	case target.Cmp(p.PowLimit) > 0:
		return ruleError(ErrBadTarget, "target %064x is easier than the limit %064x", target, p.PowLimit)
	}
	hash := h.Hash()
	tb := TargetBytes(target)
	if !HashMeetsTarget(&hash, &tb) {
		return ruleError(ErrHighHash, "hash %s above target %064x", hash, target)
	}
	return nil
}

// CheckBlockSanity runs every context-free check on a block and returns the
// transaction ids, so callers need not hash them again.
func CheckBlockSanity(p *Params, b *Block) ([]Hash, error) {
	return checkBlockSanity(p, b, nil, nil, true)
}

// checkBlockSanity is CheckBlockSanity with signatures looked up in sigs
// first (nil: always verified), and the ids and merkle root taken from d
// when it was computed from b's transactions (nil: hashed here). With
// remember, the signatures that verify, and their keys, are added to
// sigs (see verifyBlockJobs).
func checkBlockSanity(p *Params, b *Block, sigs *SigCache, d *TxDigest, remember bool) ([]Hash, error) {
	bc := prepareBlockSanity(p, b, sigs, d)
	sigs.verifyBlockJobs(p, bc.jobs, remember)
	return bc.result()
}

// blockCheck is a block's sanity check with its signatures still to
// verify, so that those of many blocks can be verified in one batch.
type blockCheck struct {
	ids []Hash
	// err is the first failure other than a signature's; it is reported
	// unless a signature of an earlier transaction fails.
	err error
	// jobs are the signatures of the transactions before err's that the
	// cache does not hold, in block order.
	jobs []sigJob
}

// result is the check's outcome once its jobs are verified: the failure
// of the lowest transaction index, as a check one transaction at a time
// would report it. A job left unverified because an earlier one failed
// (in a sync batch, one of an earlier block) says nothing of the block:
// ErrUnchecked, which does not mark it invalid.
func (bc *blockCheck) result() ([]Hash, error) {
	for i := range bc.jobs {
		switch {
		case bc.jobs[i].skipped:
			return nil, ErrUnchecked
		case !bc.jobs[i].ok:
			return nil, badSignature(bc.jobs[i].tx)
		}
	}
	if bc.err != nil {
		return nil, bc.err
	}
	return bc.ids, nil
}

// prepareBlockSanity runs every check of block sanity but the signature
// verifications, which it leaves in the result's jobs; d is
// checkBlockSanity's.
func prepareBlockSanity(p *Params, b *Block, sigs *SigCache, d *TxDigest) *blockCheck {
	fail := func(err error) *blockCheck { return &blockCheck{err: err} }
	if n := len(b.Transactions); n == 0 {
		return fail(ruleError(ErrNoTransactions, "block has no coinbase"))
	} else if n > MaxBlockTxs {
		return fail(ruleError(ErrTooManyTxs, "%d transactions, limit %d", n, MaxBlockTxs))
	}
	if size := b.EncodedSize(); size > MaxBlockSize {
		return fail(ruleError(ErrBlockTooBig, "block is %d bytes, limit %d", size, MaxBlockSize))
	}
	if err := CheckHeaderSanity(p, &b.Header); err != nil {
		return fail(err)
	}
	ids, root := d.idsAndRoot(b.Transactions)
	if root != b.Header.MerkleRoot {
		return fail(ruleError(ErrBadMerkleRoot, "merkle root %s, header says %s", root.Short(), b.Header.MerkleRoot.Short()))
	}
	seen := make(map[Hash]struct{}, len(ids))
	for i, id := range ids {
		if _, dup := seen[id]; dup {
			return fail(ruleError(ErrDuplicateTx, "transaction %d (%s) repeats an earlier one", i, id.Short()))
		}
		seen[id] = struct{}{}
	}
	if err := checkCoinbase(p, b.Transactions[0], b.Header.Height); err != nil {
		return fail(err)
	}
	jobs, err := checkShapes(p, b.Transactions, ids, sigs)
	return &blockCheck{ids: ids, err: err, jobs: jobs}
}

// parallelMin is the number of transactions (or signatures) below which
// checking them on one goroutine is faster than starting more.
const parallelMin = 32

// checkShapes runs checkTxShape on every transaction but the coinbase,
// spread over the cores when many are not in the cache, and returns the
// first failure (lowest index, whatever the scheduling) with the
// signatures still to verify: those of the transactions before it that
// the cache does not hold, in block order.
func checkShapes(p *Params, txs []*Transaction, ids []Hash, sigs *SigCache) ([]sigJob, error) {
	// A hit is a transaction that passed its shape and its signature on
	// this network (SigCache): hashing it was the check, and its
	// addresses' checksums, a tenth of connecting a block of admitted
	// transfers, are not computed again. The lookups come first, all at
	// once, so a block whose transactions all hit (a relay hop's normal
	// case) starts no goroutine.
	var hit []bool // hit[i-1]: transaction i's
	toCheck := len(txs) - 1
	if p.Signed {
		var hits int
		hit, hits = sigs.on(p).cachedEach(ids[1:])
		toCheck -= hits
	}
	scan := func(lo, hi int) (jobs []sigJob, err error) {
		for i := lo; i < hi; i++ {
			if hit != nil && hit[i-1] {
				continue
			}
			if err := checkTxShape(p, txs[i]); err != nil {
				return jobs, err
			}
			if p.Signed {
				jobs = append(jobs, sigJob{tx: txs[i], id: ids[i]})
			}
		}
		return jobs, nil
	}
	workers := runtime.GOMAXPROCS(0)
	if toCheck < parallelMin || workers == 1 {
		return scan(1, len(txs))
	}
	jobs := make([][]sigJob, workers)
	errs := make([]error, workers)
	chunk := (len(txs) - 1 + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo := 1 + w*chunk
		hi := min(lo+chunk, len(txs))
		if lo >= hi {
			break
		}
		wg.Go(func() { jobs[w], errs[w] = scan(lo, hi) })
	}
	wg.Wait()
	var all []sigJob
	for w := range workers {
		all = append(all, jobs[w]...)
		if errs[w] != nil {
			return all, errs[w]
		}
	}
	return all, nil
}

// CheckHeaderContext checks a header against its parent: height, the
// retargeted target, a timestamp above the median of recent blocks and not
// more than MaxFutureDrift ahead of now.
func CheckHeaderContext(p *Params, src HeaderSource, h, parent *Header, now time.Time) error {
	if h.Height != parent.Height+1 {
		return ruleError(ErrBadHeight, "height %d, parent is at %d", h.Height, parent.Height)
	}
	want, err := NextBits(p, src, parent)
	if err != nil {
		return err
	}
	if h.Bits != want {
		return ruleError(ErrUnexpectedTarget, "bits %08x, want %08x", h.Bits, want)
	}
	mtp, err := MedianTime(p, src, parent)
	if err != nil {
		return err
	}
	if h.Timestamp <= mtp {
		return ruleError(ErrTimeTooOld, "timestamp %d ms not above median time %d ms", h.Timestamp, mtp)
	}
	if limit := now.Add(p.MaxFutureDrift).UnixMilli(); h.Timestamp > limit {
		return ruleError(ErrTimeTooNew, "timestamp %d ms is past %d ms (now + %s)", h.Timestamp, limit, p.MaxFutureDrift)
	}
	return nil
}
