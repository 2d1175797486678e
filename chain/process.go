package chain

import (
	"errors"
	"fmt"
	"math/big"
	"time"
)

// processOne validates one block into root in the order of protocol.md
// §7.1: known, header sanity, parent, context, the work gate (unrequested
// blocks only, §9.5), body sanity (unless sanity holds its outcome
// already), then storage and, if its branch is now the heaviest, a reorg
// onto it. Everything before body sanity reads the header and the
// store only, so a block that cannot win costs no signature check and
// no byte stored. Orphans waiting for the block follow it.
func (c *Chain) processOne(root *overlay, b *Block, sanity *sanityResult, requested bool) error {
	h := b.Hash()
	if err := c.checkKnown(root, h); err != nil {
		return err
	}
	if err := CheckHeaderSanity(c.p, &b.Header); err != nil {
		c.invalid.add(h) // the hash itself fails: no body can mend it
		return err
	}
	if c.invalid.has(b.Header.PrevHash) {
		c.invalid.add(h)
		return ruleError(ErrKnownInvalid, "block %s has invalid parent %s", h.Short(), b.Header.PrevHash.Short())
	}
	parent, err := root.Meta(b.Header.PrevHash)
	if errors.Is(err, ErrNotFound) {
		// The pool takes only blocks whose body holds, so filling it
		// costs proof of work (at the network's easiest target, as an
		// orphan's cannot be judged against its parent's) and a valid
		// body each. A forged body costs the checker a chunk or two of
		// signatures (verifyBlockJobs), not all of them.
		if _, err := c.checkBody(b, h, sanity, false); err != nil {
			return err
		}
		c.orphans.add(b, h, requested)
		return ruleError(ErrUnknownParent, "block %s at height %d: parent %s unknown",
			h.Short(), b.Header.Height, b.Header.PrevHash.Short())
	} else if err != nil {
		return fmt.Errorf("read parent: %w", err)
	}
	if parent.Status&StatusInvalid != 0 || c.invalid.has(parent.Hash) {
		c.invalid.add(h)
		return ruleError(ErrKnownInvalid, "block %s has invalid parent %s", h.Short(), parent.Hash.Short())
	}
	if err := CheckHeaderContext(c.p, c.ancestry(root), &b.Header, &parent.Header, c.now()); err != nil {
		if code := CodeOf(err); code != 0 && !code.Transient() {
			c.invalid.add(h)
		}
		return err
	}
	// Its children's walks start by reading it (ancestry.go).
	c.ancestors.add(h, &b.Header)
	if !requested {
		tip, err := tipMeta(root)
		if err != nil {
			return err
		}
		if err := workGate(tip, parent, &b.Header, c.orphans.workAbove(h), c.now(), c.p.MaxRetargetFactor); err != nil {
			return err
		}
	}
	ids, err := c.checkBody(b, h, sanity, true)
	if err != nil {
		return err
	}
	root.noteIDs(h, ids)
	meta := &BlockMeta{
		Hash:    h,
		Header:  b.Header,
		Work:    addWork(parent.Work, b.Header.Bits),
		Size:    uint32(b.EncodedSize()),
		TxCount: uint32(len(b.Transactions)),
	}
	root.b.Blocks[h] = b
	root.b.Metas[h] = meta
	if err := c.maybeReorg(root, meta); err != nil {
		return err
	}
	c.processOrphans(root, h)
	return nil
}

// checkBody returns the block's sanity outcome, computing it unless
// sanity holds it (its signatures remembered only with remember: not an
// orphan's, verifyBlockJobs), and remembers a hash whose body the header
// commits to as invalid.
func (c *Chain) checkBody(b *Block, h Hash, sanity *sanityResult, remember bool) ([]Hash, error) {
	if sanity == nil {
		sanity = newSanity(c.p, b, c.sigs, nil, remember)
	}
	if err := sanity.err; err != nil {
		if BodyCommitted(err) {
			c.invalid.add(h)
		}
		return nil, err
	}
	return sanity.ids, nil
}

// workGate is the work-before-bytes rule (protocol.md §9.5) for a block
// that came unrequested at now: its branch, counting the orphans already
// waiting on it (above), must have more work than the tip, or the block
// is not stored. A branch that falls short by no more than the tip
// block's own work is an honest mining race lost, or a block that came
// one block late: ErrNotHeavier, which costs its relayer nothing. So is
// one further behind whose parent is recent and whose target is at most
// one retarget step (retarget, the factor) easier than the tip's: a
// miner that was behind (staleMinerWindow). Any other is ErrLowWork:
// honest nodes relay only blocks that joined their main chain, so such a
// block is somebody's cheap side branch. A block that extends the tip
// always passes.
func workGate(tip, parent *BlockMeta, hdr *Header, above *big.Int, now time.Time, retarget int64) error {
	w := addWork(parent.Work, hdr.Bits)
	w.Add(w, above)
	if w.Cmp(tip.Work) > 0 {
		return nil
	}
	short := new(big.Int).Sub(tip.Work, w)
	slack := new(big.Int).Mul(workForBits(tip.Header.Bits), big.NewInt(workGateSlack))
	if short.Cmp(slack) <= 0 {
		return ruleError(ErrNotHeavier, "block %s at height %d: its branch has %s work, the tip %s",
			hdr.Hash().Short(), hdr.Height, w, tip.Work)
	}
	// In milliseconds, as timestamps are and the drift rule compares.
	if age := now.UnixMilli() - parent.Header.Timestamp; age <= staleMinerWindow.Milliseconds() {
		// A miner whose parent sits before a retarget mines at the old
		// target: one step easier is still a miner's. Targets, not
		// works, are compared: a work is rounded down, a target exact.
		own, _, _ := CompactToBig(hdr.Bits)
		limit, _, _ := CompactToBig(tip.Header.Bits)
		if own.Cmp(limit.Mul(limit, big.NewInt(max(1, retarget)))) <= 0 {
			return ruleError(ErrNotHeavier, "block %s at height %d: built on a tip of %d ms ago, its branch has %s work, the tip %s",
				hdr.Hash().Short(), hdr.Height, age, w, tip.Work)
		}
	}
	return ruleError(ErrLowWork, "block %s at height %d: its branch has %s work, more than %d block(s) short of the tip's %s",
		hdr.Hash().Short(), hdr.Height, w, workGateSlack, tip.Work)
}

// PrecheckHeader judges the header of an unrequested block before its
// body is even decoded: gossip calls it on the first HeaderSize bytes of a
// compact block, whose assembly may cost requests to the sender, so the
// header must earn them. It returns the header's sanity or context
// failure, ErrKnownInvalid for a block or parent that failed before, or
// the work gate's refusal (protocol.md §9.5: ErrNotHeavier, ErrLowWork);
// nil for a header that passes or is stored already, and for one whose
// parent is unknown (an orphan: the caller asks for its parents rather
// than ask its sender for anything; a body it holds whole is checked).
func (c *Chain) PrecheckHeader(hdr *Header) error {
	h := hdr.Hash()
	_, judged, failed, gate := c.precheck(hdr, h)
	if failed != nil {
		return failed
	}
	if judged {
		c.prechecked.add(h)
	}
	return gate
}

// PrecheckChild judges the header of an unrequested block whose parent is
// not validated yet but is being validated here, from the parent's own
// header (which passed PrecheckHeader): what PrecheckHeader would check of
// hdr once the parent is validated, short of the work gate. The header's
// sanity, a block known invalid, height, target and median time: the
// parent's header stands in for its stored record, and its ancestors are
// read from the chain. Gossip lets only a block whose header passes wait
// for its parent's validation, so a header that waits costs its maker a
// block's work at the branch's target.
func (c *Chain) PrecheckChild(hdr, parent *Header) error {
	if hdr.PrevHash != parent.Hash() {
		return fmt.Errorf("header %s does not follow %s", hdr.Hash().Short(), parent.Hash().Short())
	}
	if err := CheckHeaderSanity(c.p, hdr); err != nil {
		return err
	}
	if h := hdr.Hash(); c.invalid.has(h) {
		return ruleError(ErrKnownInvalid, "block %s failed validation before", h.Short())
	}
	return CheckHeaderContext(c.p, c.ancestry(c.reader()), hdr, parent, c.now())
}

// precheck runs, before the chain's lock is taken, the checks of an
// unrequested block that need no body: header sanity, context against a
// stored parent, and the work gate against the published tip. It returns
// whether the body is worth checking before the lock (checkBody: not when
// a cheaper check fails), the cheaper check's failure if one failed (a
// locked pass reports it again, in pipeline order), and the gate's
// refusal; judged reports a header that passed every check, its parent
// stored (not an orphan's, of which only the sanity is checked). h is
// hdr's hash.
func (c *Chain) precheck(hdr *Header, h Hash) (checkBody, judged bool, failed, gate error) {
	// A block validated and being committed counts as stored, and may
	// be the parent: its child may come before the commit ends. Each read
	// takes the chain's reader afresh: a block is in the pending write or
	// in the store from its validation on.
	if _, err := c.Meta(h); err == nil {
		return false, false, nil, nil
	}
	if err := CheckHeaderSanity(c.p, hdr); err != nil {
		return false, false, err, nil
	}
	// Not under the chain's lock, which a commit holds: a block built on
	// one being committed is checked meanwhile, and sees its parent in
	// the pending write (reader).
	invalid := c.invalid.has(h) || c.invalid.has(hdr.PrevHash)
	waiting := c.orphans.has(h)
	above := c.orphans.workAbove(h)
	if invalid {
		return false, false, ruleError(ErrKnownInvalid, "block %s or its parent failed validation before", h.Short()), nil
	}
	if waiting {
		return false, false, nil, nil
	}
	parent, err := c.Meta(hdr.PrevHash)
	switch {
	case errors.Is(err, ErrNotFound):
		return true, false, nil, nil // an orphan: the pool takes only checked bodies
	case err != nil:
		return false, false, fmt.Errorf("read parent of %s: %w", h.Short(), err), nil
	case parent.Status&StatusInvalid != 0:
		return false, false, ruleError(ErrKnownInvalid, "block %s: its parent failed validation before", h.Short()), nil
	}
	if err := CheckHeaderContext(c.p, c.ancestry(c.reader()), hdr, &parent.Header, c.now()); err != nil {
		return false, false, err, nil
	}
	if err := workGate(c.tip.Load(), parent, hdr, above, c.now(), c.p.MaxRetargetFactor); err != nil {
		return false, false, nil, err
	}
	return true, true, nil, nil
}

// checkKnown refuses blocks already stored, waiting as orphans, or known to
// be invalid, before any hashing of their body.
func (c *Chain) checkKnown(r stateReader, h Hash) error {
	if c.invalid.has(h) {
		return ruleError(ErrKnownInvalid, "block %s failed validation before", h.Short())
	}
	m, err := r.Meta(h)
	switch {
	case err == nil && m.Status&StatusInvalid != 0:
		return ruleError(ErrKnownInvalid, "block %s failed validation before", h.Short())
	case err == nil:
		return ruleError(ErrDuplicateBlock, "block %s already stored", h.Short())
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("read block %s: %w", h.Short(), err)
	case c.orphans.has(h):
		return ruleError(ErrDuplicateBlock, "block %s already waiting for its parent", h.Short())
	}
	return nil
}

// BodyCommitted reports whether a block's failure (err, from its checks)
// was found with the body proved to be the one its header commits to,
// and so condemns the header hash itself: false for the failures found
// before the merkle root matched (size, count, an empty body, the merkle
// root itself) and for an error that is not a rule's. A failure it is
// false for may be a body someone swapped under a good header: the
// sender of that body is at fault, not the header, and remembering the
// hash as invalid would let that someone blacklist a good block.
func BodyCommitted(err error) bool {
	switch CodeOf(err) {
	case ErrBlockTooBig, ErrTooManyTxs, ErrNoTransactions, ErrBadMerkleRoot, 0:
		return false
	}
	return true
}

// processOrphans processes, breadth first, every orphan that descends
// from h. Their failures are logged, not returned: the caller's block was
// fine.
func (c *Chain) processOrphans(root *overlay, h Hash) {
	queue := []Hash{h}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		for _, o := range c.orphans.takeChildren(parent) {
			oh := o.b.Hash()
			// Its body passed when it entered the pool: not checked again.
			if err := c.processOne(root, o.b, &sanityResult{}, o.requested); err != nil {
				c.log.Debug("orphan rejected", "hash", oh.Short(), "height", o.b.Header.Height, "reason", err)
				continue
			}
			queue = append(queue, oh)
		}
	}
}

// reorgTo makes target the tip in o: it disconnects the main chain down
// to the fork point and connects target's branch up from it. On a rule
// failure it returns the block that broke the rule; o must then be
// dropped.
func (c *Chain) reorgTo(o *overlay, tip, target *BlockMeta) (bad *BlockMeta, err error) {
	var attach []*BlockMeta
	m := target
	for {
		mh, err := o.MainHash(m.Height())
		if err == nil && mh == m.Hash {
			break
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("find fork: %w", err)
		}
		if m.Status&StatusInvalid != 0 {
			return m, ruleError(ErrKnownInvalid, "branch contains invalid block %s", m.Hash.Short())
		}
		attach = append(attach, m)
		if m, err = o.Meta(m.Header.PrevHash); err != nil {
			return nil, fmt.Errorf("find fork: %w", err)
		}
	}
	fork := m
	for t := tip; t.Hash != fork.Hash; {
		if err := c.disconnect(o, t); err != nil {
			return nil, err
		}
		if t, err = o.Meta(t.Header.PrevHash); err != nil {
			return nil, fmt.Errorf("disconnect: %w", err)
		}
	}
	for i := len(attach) - 1; i >= 0; i-- {
		m := attach[i]
		blk, err := o.Block(m.Hash)
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		if err := c.connect(o, blk, m); err != nil {
			if CodeOf(err) != 0 {
				return m, err
			}
			return nil, err
		}
	}
	o.b.Tip = target.Hash
	return nil, nil
}

// connect applies a block's transactions to the ledger in o and puts it
// on the main chain.
func (c *Chain) connect(o *overlay, b *Block, meta *BlockMeta) error {
	if err := o.readAhead(blockAddresses(b)); err != nil {
		return err
	}
	v := NewStateView(c.p, o)
	if err := v.ConnectBlock(b); err != nil {
		return err
	}
	ids := o.txIDs(meta.Hash, b)
	if !c.p.Signed {
		// Without nonces, nothing else stops a transaction from being
		// mined twice: refuse ids the main chain already holds.
		for i, id := range ids {
			if _, err := o.TxLocation(id); err == nil {
				return ruleError(ErrDuplicateTx, "transaction %d (%s) is already on the main chain", i, id.Short())
			} else if !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("tx index: %w", err)
			}
		}
	}
	mergeInto(&o.b.Accounts, v.Changes()) // the view is dropped
	o.b.Undos[meta.Hash] = v.Undo()
	o.b.Main[meta.Height()] = meta.Hash
	if len(o.b.TxIndex) == 0 {
		o.b.TxIndex = make(map[Hash]Hash, len(ids))
	}
	for _, id := range ids {
		o.b.TxIndex[id] = meta.Hash
	}
	if meta.Status&StatusConnected == 0 {
		m := *meta
		m.Status |= StatusConnected
		o.b.Metas[meta.Hash] = &m
	}
	return nil
}

// blockAddresses returns every address b's transactions touch, the
// coinbase's recipient first, repeats included.
func blockAddresses(b *Block) []string {
	out := make([]string, 0, 2*len(b.Transactions))
	for i, tx := range b.Transactions {
		if i > 0 {
			out = append(out, tx.Sender)
		}
		out = append(out, tx.Recipient)
	}
	return out
}

// disconnect takes the tip block off the main chain in o, restoring the
// ledger from its undo record.
func (c *Chain) disconnect(o *overlay, meta *BlockMeta) error {
	b, err := o.Block(meta.Hash)
	if err != nil {
		return fmt.Errorf("disconnect %s: %w", meta.Hash.Short(), err)
	}
	u, err := o.Undo(meta.Hash)
	if err != nil {
		return fmt.Errorf("disconnect %s: %w", meta.Hash.Short(), err)
	}
	for _, e := range u.Entries {
		o.b.Accounts[e.Address] = e.Prev
	}
	o.b.Undos[meta.Hash] = nil
	o.b.Main[meta.Height()] = ZeroHash
	for _, tx := range b.Transactions {
		o.b.TxIndex[tx.ID()] = ZeroHash
	}
	return nil
}

// branchDiff returns the blocks that leave the main chain when the tip
// moves from old to new (newest first) and those that join it (oldest
// first).
func branchDiff(r stateReader, old, new *BlockMeta) (disc, conn []*Block, err error) {
	a, b := old, new
	for a.Hash != b.Hash {
		if a.Height() >= b.Height() {
			blk, err := r.Block(a.Hash)
			if err != nil {
				return nil, nil, err
			}
			disc = append(disc, blk)
			if a, err = r.Meta(a.Header.PrevHash); err != nil {
				return nil, nil, err
			}
		} else {
			blk, err := r.Block(b.Hash)
			if err != nil {
				return nil, nil, err
			}
			conn = append(conn, blk)
			if b, err = r.Meta(b.Header.PrevHash); err != nil {
				return nil, nil, err
			}
		}
	}
	for i, j := 0, len(conn)-1; i < j; i, j = i+1, j-1 {
		conn[i], conn[j] = conn[j], conn[i]
	}
	return disc, conn, nil
}
