package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestCreateTransactionFee: the fee policy as a client of the HTTP API
// meets it. The node's wallet picks the minimum fee when the request
// names none, so the classic {"recipient", "amount"} still gets 201 and
// the recipient exactly amount; a transfer signed elsewhere with too low
// a fee gets 400 saying so; a fee no block can carry gets 400 on the open
// network, where fee 0 stays fine.
func TestCreateTransactionFee(t *testing.T) {
	t.Run("signed", func(t *testing.T) {
		n, srv := newServer(t, chain.RegTest())
		w := testwallet.Random(t)
		from, key := w.Addr, w.Key
		mine(t, srv)
		if code, out := do(t, srv, http.MethodGet, "/status", ""); code != http.StatusOK ||
			out["min_relay_fee"] != float64(chain.DefaultMinRelayFee) {
			t.Fatalf("status: %d, min_relay_fee %v, want %d", code, out["min_relay_fee"], chain.DefaultMinRelayFee)
		}
		code, out := do(t, srv, http.MethodPost, "/create-transaction", fmt.Sprintf(`{"recipient":%q,"amount":20}`, from))
		if code != http.StatusCreated {
			t.Fatalf("wallet transfer without a fee: %d %v", code, out)
		}
		if fee := out["transaction"].(map[string]any)["fee"]; fee != float64(1) {
			t.Fatalf("wallet transfer without a fee pays %v, want the minimum 1", fee)
		}
		mine(t, srv)
		if got := balance(t, srv, from); got != 20 {
			t.Fatalf("recipient balance %v, want exactly the amount 20", got)
		}

		tests := []struct {
			name     string
			fee      uint64
			wantCode int
			wantErr  string
		}{
			{"zero fee", 0, http.StatusBadRequest, "minimum relay fee"},
			{"never minable", chain.MaxAmount - 1, http.StatusBadRequest, "never be mined"},
			{"the minimum", 1, http.StatusCreated, ""},
		}
		for _, tc := range tests {
			tx := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: n.WalletAddress(), Amount: 1, Fee: tc.fee}
			tx.Sign(n.Chain().Params().NetworkID(), key)
			body, err := json.Marshal(tx)
			if err != nil {
				t.Fatal(err)
			}
			code, out := do(t, srv, http.MethodPost, "/create-transaction", string(body))
			if code != tc.wantCode {
				t.Fatalf("%s: %d %v, want %d", tc.name, code, out, tc.wantCode)
			}
			if tc.wantErr != "" && !strings.Contains(fmt.Sprint(out["error"]), tc.wantErr) {
				t.Fatalf("%s: error %v, want it to say %q", tc.name, out["error"], tc.wantErr)
			}
		}
	})

	t.Run("devnet zero fee", func(t *testing.T) {
		// The fee is checked before the balance: no mining needed.
		n, srv := newServer(t, chain.DevNet())
		w := testwallet.Random(t)
		from, key := w.Addr, w.Key
		tx := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: from, Amount: 1}
		tx.Sign(n.Chain().Params().NetworkID(), key)
		body, err := json.Marshal(tx)
		if err != nil {
			t.Fatal(err)
		}
		code, out := do(t, srv, http.MethodPost, "/create-transaction", string(body))
		if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["error"]), "minimum relay fee") {
			t.Fatalf("zero-fee self-transfer on devnet: %d %v, want 400 minimum relay fee", code, out)
		}
	})

	t.Run("open", func(t *testing.T) {
		n, srv := newServer(t, chain.OpenNet())
		if _, out := do(t, srv, http.MethodGet, "/status", ""); out["min_relay_fee"] != float64(0) {
			t.Fatalf("open network min_relay_fee %v, want 0", out["min_relay_fee"])
		}
		tests := []struct {
			name     string
			body     string
			wantCode int
		}{
			{"classic, no fee", `{"sender":"Alice","recipient":"Bob","amount":5}`, http.StatusCreated},
			{"never minable", fmt.Sprintf(`{"sender":"Mallory","recipient":"Bob","amount":1,"fee":%d}`, uint64(chain.MaxAmount-1)),
				http.StatusBadRequest},
			{"the largest fee a block carries", fmt.Sprintf(`{"sender":"Mallory","recipient":"Bob","amount":1,"fee":%d}`,
				chain.MaxFee(n.Chain().Params())), http.StatusCreated},
			{"past one block's fees", `{"sender":"Mallory","recipient":"Bob","amount":1,"fee":1}`, http.StatusServiceUnavailable},
		}
		for _, tc := range tests {
			if code, out := do(t, srv, http.MethodPost, "/create-transaction", tc.body); code != tc.wantCode {
				t.Fatalf("%s: %d %v, want %d", tc.name, code, out, tc.wantCode)
			}
		}
		if n.Mempool().Len() != 2 {
			t.Fatalf("mempool holds %d, want the classic transfer and the largest fee", n.Mempool().Len())
		}
	})
}
