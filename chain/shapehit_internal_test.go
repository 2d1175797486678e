package chain

import (
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestShapesTrustHits: block sanity does not check the shape of a
// transaction the signature cache holds (its id proves that these bytes
// passed the shape and the signature when they were cached), and checks
// every other. A transaction that breaks a shape rule is put in the cache
// by hand, which no path of the chain does, to see which one happened.
func TestShapesTrustHits(t *testing.T) {
	p := RegTest()
	tx := &Transaction{Version: TxVersion, Sender: "sender", Recipient: "not an address", Amount: 1,
		PublicKey: make([]byte, 32), Signature: make([]byte, 64)}
	txs := []*Transaction{{Version: TxVersion, Sender: CoinbaseSender, Recipient: "miner", Amount: 1}, tx}
	ids := TxIDs(txs)
	for _, tc := range []struct {
		name    string
		cached  bool
		wantErr ErrorCode
	}{
		{"not cached: its shape is checked", false, ErrBadAddress},
		{"cached: a hit is not checked again", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigs := NewSigCache(8)
			if tc.cached {
				sigs.keep([]sigJob{{tx: tx, id: ids[1], ok: true}})
			}
			jobs, err := checkShapes(p, txs, ids, sigs)
			var re *RuleError
			switch {
			case tc.wantErr == 0 && (err != nil || len(jobs) != 0):
				t.Fatalf("checkShapes = %d jobs, %v; want none and no error", len(jobs), err)
			case tc.wantErr != 0 && (!errors.As(err, &re) || re.Code != tc.wantErr):
				t.Fatalf("checkShapes = %v, want code %v", err, tc.wantErr)
			}
		})
	}
}

// TestShapesManyHitsAndMisses: in a block of many transactions, half of
// them cached, the shapes of the others are checked (on every core, as
// they are many), the first failure is the lowest index's, and the
// signatures left to verify are the misses before it, in block order.
func TestShapesManyHitsAndMisses(t *testing.T) {
	p := RegTest()
	const n, bad = 200, 151
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	addr := AddressFromPublicKey(key)
	txs := []*Transaction{{Version: TxVersion, Sender: CoinbaseSender, Recipient: "miner", Amount: 1}}
	for i := 1; i < n; i++ {
		recipient := addr
		if i == bad || i == bad+10 {
			recipient = "not an address"
		}
		txs = append(txs, &Transaction{Version: TxVersion, Sender: addr, Recipient: recipient,
			Amount: uint64(i), PublicKey: key, Signature: make([]byte, 64)})
	}
	ids := TxIDs(txs)
	for _, tc := range []struct {
		name    string
		cached  func(i int) bool
		wantErr ErrorCode
		jobs    []int // the indexes whose signatures are left to verify
	}{
		{"even ones cached", func(i int) bool { return i%2 == 0 }, ErrBadAddress, oddsBelow(bad)},
		{"all but the bad ones cached", func(i int) bool { return i != bad && i != bad+10 }, ErrBadAddress, nil},
		{"the bad ones cached too", func(int) bool { return true }, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigs := NewSigCache(2 * n)
			for i := 1; i < n; i++ {
				if tc.cached(i) {
					sigs.keep([]sigJob{{tx: txs[i], id: ids[i], ok: true}})
				}
			}
			jobs, err := checkShapes(p, txs, ids, sigs)
			var re *RuleError
			switch {
			case tc.wantErr == 0 && err != nil:
				t.Fatalf("checkShapes: %v, want no error", err)
			case tc.wantErr != 0 && (!errors.As(err, &re) || re.Code != tc.wantErr):
				t.Fatalf("checkShapes: %v, want code %v", err, tc.wantErr)
			}
			if tc.wantErr != 0 && !strings.Contains(err.Error(), "not an address") {
				t.Fatalf("checkShapes: %v, want the failure of transaction %d", err, bad)
			}
			got := make([]int, len(jobs))
			for k, j := range jobs {
				got[k] = slices.Index(txs, j.tx)
			}
			if !slices.Equal(got, tc.jobs) {
				t.Fatalf("signatures left to verify: %v, want %v", got, tc.jobs)
			}
		})
	}
}

func oddsBelow(n int) []int {
	var out []int
	for i := 1; i < n; i += 2 {
		out = append(out, i)
	}
	return out
}
