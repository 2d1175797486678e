package chain

import (
	"errors"
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
