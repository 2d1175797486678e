package chain_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestWorkGate: an unrequested block (ProcessBlock) that does not make
// its branch heavier than the tip is refused before its body is checked
// or stored; within one block's work of the tip it is a race lost
// (transient), further below a fault. The same block requested
// (ProcessBlocks, after headers proved its branch) is stored. Every
// regtest block carries the same work, so "one block" is exact here.
func TestWorkGate(t *testing.T) {
	// A transfer with a signature that does not verify: a block carrying
	// it fails sanity, so a gate error proves the body was not checked.
	badSig := func(p *chain.Params) *chain.Transaction {
		tx := testwallet.New("spender").Tx(p, testwallet.New("payee").Addr, 1, 0, 0)
		tx.Signature[0] ^= 1
		return tx
	}
	tests := []struct {
		name      string
		mainLen   int // blocks on the main chain above genesis
		forkAt    int // the side block's parent height
		badBody   bool
		want      chain.ErrorCode // 0: stored
		becomeTip bool
	}{
		{name: "extends the tip", mainLen: 3, forkAt: 3, becomeTip: true},
		{name: "equal-work sibling", mainLen: 3, forkAt: 2, want: chain.ErrNotHeavier},
		{name: "a block late", mainLen: 3, forkAt: 1, want: chain.ErrNotHeavier},
		{name: "two blocks below", mainLen: 3, forkAt: 0, want: chain.ErrLowWork},
		{name: "far below, bad body unchecked", mainLen: 8, forkAt: 0, badBody: true, want: chain.ErrLowWork},
		{name: "sibling, bad body unchecked", mainLen: 3, forkAt: 2, badBody: true, want: chain.ErrNotHeavier},
		{name: "extends the tip, bad body checked", mainLen: 3, forkAt: 3, badBody: true, want: chain.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			main := h.extend(h.tipHash(), tt.mainLen)
			parent := h.p.NetworkID()
			if tt.forkAt > 0 {
				parent = main[tt.forkAt-1].Hash()
			}
			var txs []*chain.Transaction
			if tt.badBody {
				txs = append(txs, badSig(h.p))
			}
			b := h.build(parent, txs, nil)
			// Gossip asks the header alone first: the gate's answer, or
			// nil for a block the full pipeline must judge.
			gate := tt.want
			if gate != chain.ErrNotHeavier && gate != chain.ErrLowWork {
				gate = 0
			}
			if err := h.c.PrecheckHeader(&b.Header); gate == 0 && err != nil || gate != 0 && !errors.Is(err, gate) {
				t.Fatalf("PrecheckHeader: %v, want %v", err, gate)
			}
			_, err := h.process(b)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("unrequested: %v", err)
				}
			} else if !errors.Is(err, tt.want) {
				t.Fatalf("unrequested: got %v, want %v", err, tt.want)
			}
			_, stored := h.c.Meta(b.Hash())
			if (stored == nil) != (tt.want == 0) {
				t.Fatalf("stored: %v, want %v", stored == nil, tt.want == 0)
			}
			if tt.becomeTip != (h.tipHash() == b.Hash()) {
				t.Fatalf("tip %s, block %s, want tip: %v", h.tipHash().Short(), b.Hash().Short(), tt.becomeTip)
			}
			if tt.want != chain.ErrNotHeavier && tt.want != chain.ErrLowWork || tt.badBody {
				return
			}
			// Refused by the gate, not remembered as invalid: requested
			// by sync, the same block is stored.
			if _, err := h.sync(b); err != nil {
				t.Fatalf("requested: %v", err)
			}
			if _, err := h.c.Meta(b.Hash()); err != nil {
				t.Fatalf("requested block not stored: %v", err)
			}
		})
	}
}

// TestWorkGateCountsWaitingOrphans: a gossiped side branch whose blocks
// arrive child first is judged with the orphans waiting on it: the
// parent alone ties the tip, parent and child beat it, so both are
// stored and the tip moves.
func TestWorkGateCountsWaitingOrphans(t *testing.T) {
	h := newHarness(t, nil)
	main := h.extend(h.tipHash(), 2)
	other := newRival(t)
	side := other.extend(other.tipHash(), 3)
	if _, err := h.sync(side[0]); err != nil { // a block below: stored by sync
		t.Fatal(err)
	}
	if _, err := h.process(side[2]); !errors.Is(err, chain.ErrUnknownParent) {
		t.Fatalf("child first: got %v, want an orphan", err)
	}
	ch, err := h.process(side[1])
	if err != nil {
		t.Fatalf("parent of a waiting orphan: %v", err)
	}
	if h.tipHash() != side[2].Hash() || !ch.Reorg() {
		t.Fatalf("tip %s, want %s (main was %s)", h.tipHash().Short(), side[2].Hash().Short(), main[1].Hash().Short())
	}
}

// TestWorkGateOrphanBelowTip: an orphan whose branch turns out too light
// when its parent arrives by sync is dropped, not stored.
func TestWorkGateOrphanBelowTip(t *testing.T) {
	h := newHarness(t, nil)
	h.extend(h.tipHash(), 5)
	other := newRival(t)
	side := other.extend(other.tipHash(), 2)
	if _, err := h.process(side[1]); !errors.Is(err, chain.ErrUnknownParent) {
		t.Fatalf("got %v, want an orphan", err)
	}
	if _, _, err := h.c.ProcessBlocks(context.Background(), side[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Meta(side[1].Hash()); err == nil {
		t.Fatal("a light orphan was stored when its parent came")
	}
	if h.c.HasBlock(side[1].Hash()) {
		t.Fatal("a light orphan is still waiting")
	}
}

// TestWorkGateLaggingMiner: a block more than one block's work below the
// tip, built on a parent at most staleMinerWindow old at the tip's
// target, is a miner's that was behind: a race lost (transient, no
// fault), not stored. The same shape on a parent older than the window
// is a cheap side branch (ErrLowWork).
func TestWorkGateLaggingMiner(t *testing.T) {
	for _, tt := range []struct {
		name      string
		parentAge time.Duration // of the main chain's first block, the side block's parent
		want      chain.ErrorCode
	}{
		{"parent a minute old", time.Minute, chain.ErrNotHeavier},
		{"parent nine minutes old", 9 * time.Minute, chain.ErrNotHeavier},
		{"parent an hour old", time.Hour, chain.ErrLowWork},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			first := h.build(h.tipHash(), nil, func(b *chain.Block) {
				b.Header.Timestamp = testNow.Add(-tt.parentAge).UnixMilli()
			})
			if _, err := h.sync(first); err != nil {
				t.Fatal(err)
			}
			h.extend(first.Hash(), 3) // the tip three blocks above it
			side := h.build(first.Hash(), nil, nil)
			if err := h.c.PrecheckHeader(&side.Header); !errors.Is(err, tt.want) {
				t.Fatalf("PrecheckHeader: %v, want %v", err, tt.want)
			}
			if _, err := h.process(side); !errors.Is(err, tt.want) {
				t.Fatalf("unrequested: %v, want %v", err, tt.want)
			}
			if _, err := h.c.Meta(side.Hash()); err == nil {
				t.Fatal("a block below the tip was stored")
			}
		})
	}
}

// TestPrecheckedHeaderNotRepeated: gossip prechecks a block's header,
// then processes the block, and the unlocked checks (CheckBlock) do not
// precheck that header again, but the locked pass still judges it as it
// stands then. Here a rival takes the tip between the two: a header
// prechecked before is refused by the locked pass (ErrNotHeavier) and
// not stored; one never prechecked is refused already by CheckBlock.
func TestPrecheckedHeaderNotRepeated(t *testing.T) {
	h := newHarness(t, nil)
	parent := h.extend(h.tipHash(), 3)[2].Hash()
	prechecked := h.build(parent, nil, nil)
	unchecked := h.build(parent, nil, nil)
	rival := h.build(parent, nil, nil)
	if err := h.c.PrecheckHeader(&prechecked.Header); err != nil {
		t.Fatalf("PrecheckHeader: %v", err)
	}
	if _, err := h.process(rival); err != nil || h.tipHash() != rival.Hash() {
		t.Fatalf("rival: %v, tip %s", err, h.tipHash().Short())
	}
	if _, err := h.c.CheckBlock(unchecked); !errors.Is(err, chain.ErrNotHeavier) {
		t.Fatalf("CheckBlock of a header never prechecked: %v, want %v", err, chain.ErrNotHeavier)
	}
	cb, err := h.c.CheckBlock(prechecked)
	if err != nil {
		t.Fatalf("CheckBlock of a prechecked header: %v, want its precheck kept", err)
	}
	if _, err := h.c.ProcessChecked(context.Background(), cb); !errors.Is(err, chain.ErrNotHeavier) {
		t.Fatalf("locked pass: %v, want %v", err, chain.ErrNotHeavier)
	}
	for _, b := range []*chain.Block{prechecked, unchecked} {
		if _, err := h.c.Meta(b.Hash()); err == nil {
			t.Fatalf("block %s below the tip was stored", b.Hash().Short())
		}
	}
}

// TestPrecheckedOrphanNotKept: the precheck of an orphan's header judges
// only its sanity, so it is not kept as prechecked. A copy of an orphan
// already waiting, sent again, is then found waiting before its body is
// checked: CheckBlock looks up none of its signatures.
func TestPrecheckedOrphanNotKept(t *testing.T) {
	h := newHarness(t, nil)
	h.extend(h.tipHash(), 2)
	other := newRival(t)
	side := other.extend(other.tipHash(), 3)
	pay := other.miner.Tx(other.p, testwallet.New("payee").Addr, 1, 0, 0)
	orphan := other.build(side[2].Hash(), []*chain.Transaction{pay}, nil)
	if err := h.c.PrecheckHeader(&orphan.Header); err != nil {
		t.Fatalf("PrecheckHeader of an orphan: %v", err)
	}
	if _, err := h.process(orphan); !errors.Is(err, chain.ErrUnknownParent) {
		t.Fatalf("orphan: %v, want %v", err, chain.ErrUnknownParent)
	}
	before := h.c.SigCache().Stats()
	if err := h.c.PrecheckHeader(&orphan.Header); err != nil {
		t.Fatalf("PrecheckHeader of the orphan again: %v", err)
	}
	if _, err := h.c.CheckBlock(orphan); err != nil {
		t.Fatalf("CheckBlock of the orphan again: %v", err)
	}
	if after := h.c.SigCache().Stats(); after.Verifies != before.Verifies || after.Hits != before.Hits {
		t.Fatalf("the waiting orphan's body was checked again: verifies %d → %d, hits %d → %d",
			before.Verifies, after.Verifies, before.Hits, after.Hits)
	}
}
