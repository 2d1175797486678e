package chain_test

import (
	"crypto/sha256"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestBlockRules breaks each block and transaction rule once and checks
// that the block is refused with that rule's code, that the tip stays,
// and (for rules that condemn the block itself) that a second submission
// is refused cheaply as known-invalid.
func TestBlockRules(t *testing.T) {
	alice, bob := testwallet.New("alice"), testwallet.New("bob")
	// funded returns a harness where alice holds 100 and her nonce is 0.
	funded := func(t *testing.T) *harness {
		h := newHarness(t, nil)
		h.fund(alice, 100)
		return h
	}
	plain := func(t *testing.T) *harness { return newHarness(t, nil) }
	txOf := func(h *harness, mut func(*chain.Transaction)) *chain.Transaction {
		tx := alice.Tx(h.p, bob.Addr, 10, 1, 0)
		if mut != nil {
			mut(tx)
			tx.Sign(h.p.NetworkID(), alice.Key)
		}
		return tx
	}
	cases := []struct {
		name  string
		setup func(*testing.T) *harness
		block func(h *harness) *chain.Block
		want  chain.ErrorCode
		// sticky: a second submission is refused as ErrKnownInvalid.
		sticky bool
	}{
		{"no transactions", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) { b.Transactions = nil })
		}, chain.ErrNoTransactions, false},
		{"too many transactions", funded, func(h *harness) *chain.Block {
			tx := txOf(h, nil)
			txs := make([]*chain.Transaction, chain.MaxBlockTxs)
			for i := range txs {
				txs[i] = tx
			}
			return h.build(h.tipHash(), txs, nil)
		}, chain.ErrTooManyTxs, false},
		{"too big", funded, func(h *harness) *chain.Block {
			tx := txOf(h, nil)
			txs := make([]*chain.Transaction, chain.MaxBlockSize/tx.EncodedSize()+1)
			for i := range txs {
				txs[i] = tx
			}
			return h.build(h.tipHash(), txs, nil)
		}, chain.ErrBlockTooBig, false},
		{"header version", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) { b.Header.Version = 2 })
		}, chain.ErrBadVersion, true},
		{"target above limit", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) { b.Header.Bits = 0x2100ffff })
		}, chain.ErrBadTarget, true},
		{"negative target", plain, func(h *harness) *chain.Block {
			b := h.build(h.tipHash(), nil, nil)
			b.Header.Bits = 0x04923456 // checked before the hash: no need to solve
			return b
		}, chain.ErrBadTarget, true},
		{"hash above target", plain, func(h *harness) *chain.Block {
			b := h.build(h.tipHash(), nil, nil)
			for {
				b.Header.Nonce++
				if chain.CheckHeaderSanity(h.p, &b.Header) != nil {
					return b
				}
			}
		}, chain.ErrHighHash, true},
		{"merkle root", plain, func(h *harness) *chain.Block {
			b := h.build(h.tipHash(), nil, nil)
			b.Transactions[0].Recipient = bob.Addr // body swapped under a solved header
			return b
		}, chain.ErrBadMerkleRoot, false},
		{"duplicate transaction", funded, func(h *harness) *chain.Block {
			tx := txOf(h, nil)
			return h.build(h.tipHash(), []*chain.Transaction{tx, tx}, nil)
		}, chain.ErrDuplicateTx, true},
		{"first not coinbase", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{txOf(h, nil)}, func(b *chain.Block) {
				b.Transactions = b.Transactions[1:]
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			})
		}, chain.ErrFirstTxNotCoinbase, true},
		{"two coinbases", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) {
				cb2 := *b.Transactions[0]
				cb2.Amount++
				b.Transactions = append(b.Transactions, &cb2)
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			})
		}, chain.ErrMultipleCoinbases, true},
		{"coinbase nonce not height", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) {
				b.Transactions[0].Nonce = 99
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			})
		}, chain.ErrBadCoinbase, true},
		{"coinbase fee", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) {
				b.Transactions[0].Fee = 1
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			})
		}, chain.ErrBadCoinbase, true},
		{"coinbase to a non-address", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) {
				b.Transactions[0].Recipient = "miner"
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			})
		}, chain.ErrBadAddress, true},
		{"coinbase pays too much", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) {
				b.Transactions[0].Amount++
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			})
		}, chain.ErrBadCoinbaseAmount, true},
		{"transaction version", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{txOf(h, func(tx *chain.Transaction) { tx.Version = 9 })}, nil)
		}, chain.ErrBadTxVersion, true},
		{"recipient not an address", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{txOf(h, func(tx *chain.Transaction) { tx.Recipient = bob.Addr[:len(bob.Addr)-1] + "0" })}, nil)
		}, chain.ErrBadAddress, true},
		{"zero amount", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{txOf(h, func(tx *chain.Transaction) { tx.Amount = 0 })}, nil)
		}, chain.ErrBadAmount, true},
		{"amount above max", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{txOf(h, func(tx *chain.Transaction) { tx.Amount = chain.MaxAmount + 1 })}, nil)
		}, chain.ErrBadAmount, true},
		{"key of another sender", funded, func(h *harness) *chain.Block {
			tx := txOf(h, nil)
			tx.Sign(h.p.NetworkID(), bob.Key)
			return h.build(h.tipHash(), []*chain.Transaction{tx}, nil)
		}, chain.ErrBadPublicKey, true},
		{"bad signature", funded, func(h *harness) *chain.Block {
			tx := txOf(h, nil)
			tx.Signature[5] ^= 1
			return h.build(h.tipHash(), []*chain.Transaction{tx}, nil)
		}, chain.ErrBadSignature, true},
		{"signature for another network", funded, func(h *harness) *chain.Block {
			tx := txOf(h, nil)
			tx.Sign(chain.DevNet().NetworkID(), alice.Key)
			return h.build(h.tipHash(), []*chain.Transaction{tx}, nil)
		}, chain.ErrBadSignature, true},
		{"bad height", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) {
				b.Header.Height++
				b.Transactions[0].Nonce++
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			})
		}, chain.ErrBadHeight, true},
		{"unexpected target", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) { b.Header.Bits = 0x2000ffff })
		}, chain.ErrUnexpectedTarget, true},
		{"time not above median", plain, func(h *harness) *chain.Block {
			bs := h.extend(h.tipHash(), 3)
			// Four blocks from genesis: the median is the second newest.
			return h.build(h.tipHash(), nil, func(b *chain.Block) { b.Header.Timestamp = bs[1].Header.Timestamp })
		}, chain.ErrTimeTooOld, true},
		{"time too far ahead", plain, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), nil, func(b *chain.Block) {
				b.Header.Timestamp = testNow.Add(2*time.Hour + time.Second).UnixMilli()
			})
		}, chain.ErrTimeTooNew, false},
		{"nonce reused", funded, func(h *harness) *chain.Block {
			h.process(h.build(h.tipHash(), []*chain.Transaction{alice.Tx(h.p, bob.Addr, 1, 0, 0)}, nil))
			return h.build(h.tipHash(), []*chain.Transaction{alice.Tx(h.p, bob.Addr, 2, 0, 0)}, nil)
		}, chain.ErrBadNonce, true},
		{"nonce gap", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{alice.Tx(h.p, bob.Addr, 2, 0, 1)}, nil)
		}, chain.ErrBadNonce, true},
		{"overspend", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{alice.Tx(h.p, bob.Addr, 100, 1, 0)}, nil)
		}, chain.ErrInsufficientFunds, true},
		{"overspend across two transactions", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{
				alice.Tx(h.p, bob.Addr, 60, 0, 0), alice.Tx(h.p, bob.Addr, 41, 0, 1),
			}, nil)
		}, chain.ErrInsufficientFunds, true},
		{"coinbase ignores fees", funded, func(h *harness) *chain.Block {
			return h.build(h.tipHash(), []*chain.Transaction{txOf(h, nil)}, func(b *chain.Block) {
				b.Transactions[0].Amount = h.p.Reward
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
			})
		}, chain.ErrBadCoinbaseAmount, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.setup(t)
			b := tc.block(h)
			tip := h.tipHash()
			ch, err := h.process(b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var re *chain.RuleError
			if !errors.As(err, &re) || re.Msg == "" {
				t.Fatalf("error %v is not a *RuleError with a message", err)
			}
			if ch != nil || h.tipHash() != tip {
				t.Fatalf("tip moved to %s on an invalid block", h.tipHash().Short())
			}
			_, err = h.process(b)
			if tc.sticky && !errors.Is(err, chain.ErrKnownInvalid) {
				t.Fatalf("second submission: got %v, want ErrKnownInvalid", err)
			}
			if !tc.sticky && errors.Is(err, chain.ErrKnownInvalid) {
				t.Fatalf("second submission refused as known-invalid; this failure must not condemn the header")
			}
		})
	}
}

// TestMutatedBodyDoesNotPoisonHeader: an attacker relays a valid header
// with a swapped body. The merkle check refuses it, and must not remember
// the header's hash as invalid, or the honest block would be refused when
// it arrives (the shape of Bitcoin's CVE-2012-2459).
func TestMutatedBodyDoesNotPoisonHeader(t *testing.T) {
	h := newHarness(t, nil)
	good := h.build(h.tipHash(), nil, nil)
	bad := &chain.Block{Header: good.Header, Transactions: []*chain.Transaction{
		{Version: chain.TxVersion, Sender: "0", Recipient: testwallet.New("thief").Addr, Amount: h.p.Reward, Nonce: 1},
	}}
	if _, err := h.process(bad); !errors.Is(err, chain.ErrBadMerkleRoot) {
		t.Fatalf("mutated body: got %v, want ErrBadMerkleRoot", err)
	}
	if _, err := h.process(good); err != nil {
		t.Fatalf("honest block after the mutated one: %v", err)
	}
	if h.tipHash() != good.Hash() {
		t.Fatal("honest block not on the main chain")
	}
}

// TestChildOfInvalidBlock: a block building on a known-invalid block is
// refused without looking at its own contents.
func TestChildOfInvalidBlock(t *testing.T) {
	h := newHarness(t, nil)
	bad := h.build(h.tipHash(), nil, func(b *chain.Block) {
		b.Transactions[0].Amount++
		b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	})
	if _, err := h.process(bad); !errors.Is(err, chain.ErrBadCoinbaseAmount) {
		t.Fatalf("got %v", err)
	}
	// The bad block is stored (its header and body are sane), so a child
	// can be built on it by hand.
	child := &chain.Block{Header: chain.Header{
		Version: chain.HeaderVersion, Height: 2, PrevHash: bad.Hash(),
		Timestamp: bad.Header.Timestamp + 1000, Bits: h.p.PowLimitBits(),
	}, Transactions: []*chain.Transaction{{Version: chain.TxVersion, Sender: "0", Recipient: h.miner.Addr, Amount: h.p.Reward, Nonce: 2}}}
	child.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(child.Transactions))
	h.solve(child)
	if _, err := h.process(child); !errors.Is(err, chain.ErrKnownInvalid) {
		t.Fatalf("child of invalid: got %v, want ErrKnownInvalid", err)
	}
}

// TestOpenNetworkRules: the teaching chain's network takes any sender
// name, unsigned, with no balance check, and still refuses a transaction
// the main chain already holds.
func TestOpenNetworkRules(t *testing.T) {
	p := chain.OpenNet()
	q := *p
	q.PowLimit = chain.RegTest().PowLimit
	q.NoRetarget = true
	p = chain.NewParams(q)
	h := newHarness(t, p)
	h.miner = &testwallet.Wallet{Addr: "miner"}
	tx := &chain.Transaction{Version: chain.TxVersion, Sender: "Alice", Recipient: "Bob", Amount: 5}
	if _, err := h.process(h.build(h.tipHash(), []*chain.Transaction{tx}, nil)); err != nil {
		t.Fatalf("unsigned transfer from an empty account: %v", err)
	}
	if got := h.balance("Alice"); got != -5 {
		t.Fatalf("Alice balance %d, want -5", got)
	}
	if got := h.balance("Bob"); got != 5 {
		t.Fatalf("Bob balance %d, want 5", got)
	}
	if _, err := h.process(h.build(h.tipHash(), []*chain.Transaction{tx}, nil)); !errors.Is(err, chain.ErrDuplicateTx) {
		t.Fatalf("replayed transaction: got %v, want ErrDuplicateTx", err)
	}
	signed := testwallet.New("alice").Tx(p, "Bob", 1, 0, 0)
	if _, err := h.process(h.build(h.tipHash(), []*chain.Transaction{signed}, nil)); !errors.Is(err, chain.ErrBadSignature) {
		t.Fatalf("signed transaction on open: got %v, want ErrBadSignature", err)
	}
}

// TestBalanceOverflow: balances stay inside int64 on the open network,
// where nothing else bounds them.
func TestBalanceOverflow(t *testing.T) {
	p := chain.OpenNet()
	base := mpState{"Rich": {Balance: math.MaxInt64 - 5}, "Poor": {Balance: math.MinInt64 + 5}}
	cases := []struct {
		name string
		tx   chain.Transaction
	}{
		{"credit past max", chain.Transaction{Version: 1, Sender: "x", Recipient: "Rich", Amount: 6}},
		{"debit past min", chain.Transaction{Version: 1, Sender: "Poor", Recipient: "x", Amount: 6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := chain.NewStateView(p, base)
			if err := v.ApplyTx(&tc.tx); !errors.Is(err, chain.ErrBalanceOverflow) {
				t.Fatalf("got %v, want ErrBalanceOverflow", err)
			}
			if a, _ := v.Account("Rich"); a != base["Rich"] {
				t.Fatalf("failed transaction changed state: %+v", a)
			}
		})
	}
}

// TestFeeSumOverflow: thousands of near-maximal fees must not wrap the
// fee sum. Two implementations that disagree on it would split the chain:
// a block whose coinbase claims the wrapped sum is refused.
func TestFeeSumOverflow(t *testing.T) {
	p := chain.OpenNet()
	var txs []*chain.Transaction
	var wrapped uint64
	for i := 0; i < 2049; i++ {
		tx := &chain.Transaction{Version: chain.TxVersion, Sender: "s", Recipient: "r", Amount: 1, Fee: chain.MaxAmount - 1, Nonce: uint64(i)}
		txs = append(txs, tx)
		wrapped += tx.Fee
	}
	cb := &chain.Transaction{Version: chain.TxVersion, Sender: "0", Recipient: "m", Amount: p.Reward + wrapped, Nonce: 1}
	b := &chain.Block{Transactions: append([]*chain.Transaction{cb}, txs...)}
	if err := chain.NewStateView(p, mpState{}).ConnectBlock(b); !errors.Is(err, chain.ErrBadCoinbaseAmount) {
		t.Fatalf("got %v, want ErrBadCoinbaseAmount", err)
	}
}

type fixedSource []*chain.Transaction

func (s fixedSource) Select(int, int) []*chain.Transaction { return s }

// TestTemplateBoundsCoinbase: a template never takes fees that would push
// its coinbase past MaxAmount (two such transactions used to stop every
// later block from being valid), nor, without nonces, a transaction the
// chain already holds.
func TestTemplateBoundsCoinbase(t *testing.T) {
	q := *chain.OpenNet()
	q.PowLimit = chain.RegTest().PowLimit
	q.NoRetarget = true
	p := chain.NewParams(q)
	h := newHarness(t, p)
	h.miner = &testwallet.Wallet{Addr: "miner"}
	rich1 := &chain.Transaction{Version: chain.TxVersion, Sender: "a", Recipient: "b", Amount: 1, Fee: 1 << 52}
	rich2 := &chain.Transaction{Version: chain.TxVersion, Sender: "c", Recipient: "d", Amount: 1, Fee: 1 << 52}
	b, err := h.c.NewTemplate(fixedSource{rich1, rich2}, "miner")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Transactions) != 2 {
		t.Fatalf("template took %d transactions, want the one that fits", len(b.Transactions)-1)
	}
	h.solve(b)
	if _, err := h.process(b); err != nil {
		t.Fatalf("template block refused: %v", err)
	}
	b2, err := h.c.NewTemplate(fixedSource{rich1}, "miner")
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Transactions) != 1 {
		t.Fatal("template took a transaction the main chain already holds")
	}
}

// TestOrphanOfInvalidParent: a block whose parent is known to be invalid
// is refused at once, not parked in the orphan pool where it would point
// peers back at the invalid parent.
func TestOrphanOfInvalidParent(t *testing.T) {
	h := newHarness(t, nil)
	bad := h.build(h.tipHash(), nil, func(b *chain.Block) { b.Header.Version = 7 })
	if _, err := h.process(bad); !errors.Is(err, chain.ErrBadVersion) {
		t.Fatal(err)
	}
	child := &chain.Block{Header: chain.Header{Version: chain.HeaderVersion, Height: 2, PrevHash: bad.Hash(),
		Timestamp: bad.Header.Timestamp + 1000, Bits: h.p.PowLimitBits()},
		Transactions: []*chain.Transaction{{Version: chain.TxVersion, Sender: "0", Recipient: h.miner.Addr, Amount: h.p.Reward, Nonce: 2}}}
	child.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(child.Transactions))
	h.solve(child)
	if _, err := h.process(child); !errors.Is(err, chain.ErrKnownInvalid) {
		t.Fatalf("child of an invalid block: got %v, want ErrKnownInvalid", err)
	}
	if h.c.HasBlock(child.Hash()) {
		t.Fatal("child of an invalid block waits in the orphan pool")
	}
}

// TestMerkleLeavesAreNotInnerNodes: a leaf is hashed with its own prefix,
// so no transaction id can stand in for an inner node.
func TestMerkleLeavesAreNotInnerNodes(t *testing.T) {
	a, b := chain.Hash{1}, chain.Hash{2}
	inner := sha256.Sum256(append(append([]byte{0x01}, a[:]...), b[:]...))
	if root := chain.MerkleRoot([]chain.Hash{a, b}); root == inner {
		t.Fatal("two ids hash to the bare inner node: leaves are not separated")
	}
	if chain.MerkleRoot([]chain.Hash{inner}) == chain.MerkleRoot([]chain.Hash{a, b}) {
		t.Fatal("an id equal to an inner node gives the same root")
	}
}
