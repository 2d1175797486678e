package chain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

func TestLocatorAndHeadersAfter(t *testing.T) {
	h := newHarness(t, nil)
	blocks := h.extend(h.tipHash(), 300)
	loc, err := h.c.Locator()
	if err != nil {
		t.Fatal(err)
	}
	if loc[0] != h.tipHash() || loc[len(loc)-1] != h.p.NetworkID() {
		t.Fatal("locator must start at the tip and end at genesis")
	}
	if len(loc) > 10+10 {
		t.Fatalf("locator of a 300-block chain has %d entries; it should thin out exponentially", len(loc))
	}
	// A peer 100 blocks behind, on our chain.
	peer := []chain.Hash{blocks[199].Hash(), blocks[150].Hash(), h.p.NetworkID()}
	hdrs, err := h.c.HeadersAfter(peer, chain.ZeroHash, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(hdrs) != 50 || hdrs[0].Height != 201 || hdrs[0].PrevHash != blocks[199].Hash() {
		t.Fatalf("got %d headers from %d", len(hdrs), hdrs[0].Height)
	}
	for i := 1; i < len(hdrs); i++ {
		if hdrs[i].PrevHash != hdrs[i-1].Hash() {
			t.Fatalf("header %d does not link", i)
		}
	}
	// A stop hash ends the answer early.
	hdrs, _ = h.c.HeadersAfter(peer, blocks[204].Hash(), 50)
	if len(hdrs) != 5 {
		t.Fatalf("with a stop hash: %d headers, want 5", len(hdrs))
	}
	// Where the locator meets the main chain decides the answer; without
	// a hash on it there is nothing to build on, and genesis in the locator
	// is what lets a peer with nothing in common start from height 1.
	side := chain.Hash{1}
	for _, tc := range []struct {
		name    string
		locator []chain.Hash
		want    int    // headers
		from    uint64 // height of the first
	}{
		{"unknown hashes only", []chain.Hash{side, {2}}, 0, 0},
		{"unknown hashes, then genesis", []chain.Hash{side, {2}, h.p.NetworkID()}, 3, 1},
		{"genesis alone", []chain.Hash{h.p.NetworkID()}, 3, 1},
		{"a main-chain hash, no genesis", []chain.Hash{side, blocks[99].Hash()}, 3, 101},
	} {
		hdrs, err := h.c.HeadersAfter(tc.locator, chain.ZeroHash, 3)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(hdrs) != tc.want || tc.want > 0 && hdrs[0].Height != tc.from {
			t.Errorf("%s: %d headers, want %d from height %d", tc.name, len(hdrs), tc.want, tc.from)
		}
		// Whatever the answer, it builds on a hash the locator holds, the
		// check the client makes (protocol.HeadersFromPB).
		if len(hdrs) > 0 && !slices.Contains(tc.locator, hdrs[0].PrevHash) {
			t.Errorf("%s: the answer builds on %s, not in the locator", tc.name, hdrs[0].PrevHash.Short())
		}
	}
	// Too long a locator is refused.
	if _, err := h.c.HeadersAfter(make([]chain.Hash, chain.MaxLocatorLen+1), chain.ZeroHash, 1); err == nil {
		t.Fatal("oversized locator accepted")
	}
	// At the tip there is nothing to send.
	hdrs, _ = h.c.HeadersAfter([]chain.Hash{h.tipHash()}, chain.ZeroHash, 10)
	if len(hdrs) != 0 {
		t.Fatalf("%d headers after the tip", len(hdrs))
	}
}

// readCountingStore counts the store's read transactions: each direct
// read is one, and so is a whole View; accounts counts the accounts read
// one by one (not in reads), views the Views.
type readCountingStore struct {
	chain.Store
	reads, accounts, views int
}

func (s *readCountingStore) Account(addr string) (chain.Account, error) {
	s.accounts++
	return s.Store.Account(addr)
}

func (s *readCountingStore) Meta(h chain.Hash) (*chain.BlockMeta, error) {
	s.reads++
	return s.Store.Meta(h)
}

func (s *readCountingStore) MainHash(height uint64) (chain.Hash, error) {
	s.reads++
	return s.Store.MainHash(height)
}

func (s *readCountingStore) View(fn func(chain.StoreView) error) error {
	s.reads++
	s.views++
	return s.Store.View(fn)
}

// openCounting opens a chain on the store in dir through a
// readCountingStore; the test's cleanup closes the store.
func openCounting(t testing.TB, p *chain.Params, dir string) (*chain.Chain, *readCountingStore) {
	t.Helper()
	st, err := store.OpenDir(dir, store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &readCountingStore{Store: st}
	c, err := chain.New(p, cs, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	return c, cs
}

// TestHeadersAfterOneRead: answering a peer's GetHeaders, and building
// our own locator, cost the store one read transaction whatever the
// locator and the answer's length (protocol.md §10), so what a request
// costs is what the rate limit charges for it (§17.9).
func TestHeadersAfterOneRead(t *testing.T) {
	h := newHarness(t, nil)
	blocks := h.extend(h.tipHash(), 300)
	h.close()
	c, cs := openCounting(t, h.p, h.dir)
	unknown := make([]chain.Hash, chain.MaxLocatorLen-1)
	for i := range unknown {
		unknown[i][0] = byte(i + 1)
	}
	tests := []struct {
		name    string
		locator []chain.Hash
		max     int
		want    int
	}{
		{"from genesis", []chain.Hash{h.p.NetworkID()}, 2000, 300},
		{"64 unknown hashes", append(unknown, h.p.NetworkID()), 2000, 300},
		{"from the middle", []chain.Hash{blocks[99].Hash()}, 50, 50},
		{"at the tip", []chain.Hash{blocks[299].Hash()}, 2000, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs.reads = 0
			hdrs, err := c.HeadersAfter(tc.locator, chain.ZeroHash, tc.max)
			if err != nil || len(hdrs) != tc.want {
				t.Fatalf("%d headers, %v; want %d", len(hdrs), err, tc.want)
			}
			if cs.reads != 1 {
				t.Fatalf("%d read transactions, want 1", cs.reads)
			}
		})
	}
	cs.reads = 0
	if _, err := c.Locator(); err != nil || cs.reads != 1 {
		t.Fatalf("Locator: %d read transactions (%v), want 1", cs.reads, err)
	}
}
