package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testbin"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// chainHashes returns a node's main chain as its block hashes, read
// through the classic GET /chain.
func chainHashes(t *testing.T, n *nodeProc) []string {
	t.Helper()
	code, out := callJSON(t, http.MethodGet, n.api+"/chain", "")
	if code != http.StatusOK {
		t.Fatalf("GET /chain: %d %v", code, out)
	}
	var hashes []string
	for _, b := range out["chain"].([]any) {
		hashes = append(hashes, b.(map[string]any)["hash"].(string))
	}
	if l, _ := out["length"].(json.Number).Int64(); int(l) != len(hashes) {
		t.Fatalf("GET /chain: length %d, %d blocks", l, len(hashes))
	}
	return hashes
}

// TestClassicClientFlow drives three node processes on the open network
// the way a client of the classic teaching chain does, only through HTTP:
// register-node, create-transaction, mine, chain, sync-chain. The nodes
// are joined by --bootstrap in a line; /register-node closes the ring,
// once by multiaddr and once by API URL. In the end all chains agree.
func TestClassicClientFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three gossipchain processes")
	}
	bin := testbin.Build(t)
	n1 := startNodeProc(t, bin, "open")
	n2 := startNodeProc(t, bin, "open", "--bootstrap", n1.p2p)
	n3 := startNodeProc(t, bin, "open", "--bootstrap", n2.p2p)
	nodes := []*nodeProc{n1, n2, n3}

	// register-node, both forms of address.
	code, out := callJSON(t, http.MethodPost, n3.api+"/register-node", fmt.Sprintf(`{"address":%q}`, n1.api))
	if code != http.StatusCreated || out["message"] != "New node has been added" || out["peer_id"] != n1.peerID {
		t.Fatalf("register-node by URL: %d %v", code, out)
	}
	code, out = callJSON(t, http.MethodPost, n1.api+"/register-node", fmt.Sprintf(`{"address":%q}`, n3.p2p))
	if code != http.StatusCreated || out["peer_id"] != n3.peerID {
		t.Fatalf("register-node by multiaddr: %d %v", code, out)
	}
	for _, n := range nodes {
		testutil.EventuallyErr(t, 20*time.Second, "every node connected to the other two", func() error {
			if _, st := callJSON(t, http.MethodGet, n.api+"/status", ""); st["peers"] != json.Number("2") {
				return fmt.Errorf("%s has %v peers", n.api, st["peers"])
			}
			return nil
		})
	}

	// create-transaction on node 1, as the teaching chain's clients send it.
	code, out = callJSON(t, http.MethodPost, n1.api+"/create-transaction", `{"sender": "Alice", "recipient": "Bob", "amount": 5}`)
	if code != http.StatusCreated || out["message"] != "Transaction has been submitted successfully" || out["block_index"] != json.Number("1") {
		t.Fatalf("create-transaction: %d %v", code, out)
	}
	txID := out["transaction"].(map[string]any)["id"].(string)
	// It reaches node 2 by gossip; node 2 mines it.
	testutil.EventuallyErr(t, 20*time.Second, "the transaction in node 2's mempool", func() error {
		if _, mp := callJSON(t, http.MethodGet, n2.api+"/mempool", ""); mp["count"] != json.Number("1") {
			return fmt.Errorf("mempool holds %v", mp["count"])
		}
		return nil
	})
	code, out = callJSON(t, http.MethodGet, n2.api+"/mine", "")
	if code != http.StatusOK || out["message"] != "Successfully Mined the new Block" {
		t.Fatalf("mine: %d %v", code, out)
	}
	mined := out["block_data"].(map[string]any)
	if mined["index"] != json.Number("1") || len(mined["transactions"].([]any)) != 2 {
		t.Fatalf("mined block %v: want index 1 with the coinbase and the transaction", mined)
	}
	code, out = callJSON(t, http.MethodGet, n2.api+"/mine", "")
	if code != http.StatusOK {
		t.Fatalf("second mine: %d %v", code, out)
	}

	// sync-chain on every node: each answers with the chain it now has,
	// having asked its peers; all agree, and the transaction is in block 1.
	var want []string
	for _, n := range nodes {
		testutil.EventuallyErr(t, 30*time.Second, "sync-chain reaches height 2", func() error {
			code, out := callJSON(t, http.MethodGet, n.api+"/sync-chain", "")
			if code != http.StatusOK || (out["message"] != "Chain was replaced" && out["message"] != "Chain is already up to date") {
				t.Fatalf("sync-chain: %d %v", code, out)
			}
			if l := len(out["chain"].([]any)); l != 3 {
				return fmt.Errorf("%s answers with %d blocks", n.api, l)
			}
			return nil
		})
		got := chainHashes(t, n)
		if want == nil {
			want = got
		} else if !slices.Equal(got, want) {
			t.Fatalf("chains differ:\n%v\n%v", want, got)
		}
		code, out := callJSON(t, http.MethodGet, n.api+"/transaction/"+txID, "")
		if code != http.StatusOK || out["status"] != "confirmed" || out["block_index"] != json.Number("1") {
			t.Errorf("transaction on %s: %d %v", n.api, code, out)
		}
		code, out = callJSON(t, http.MethodGet, n.api+"/balance/Bob", "")
		if code != http.StatusOK || out["balance"] != json.Number("5") {
			t.Errorf("Bob's balance on %s: %d %v", n.api, code, out)
		}
	}
	// After the tips agree, sync-chain has nothing to replace.
	if code, out := callJSON(t, http.MethodGet, n3.api+"/sync-chain", ""); code != http.StatusOK || out["message"] != "Chain is already up to date" {
		t.Errorf("sync-chain when up to date: %d %v", code, out["message"])
	}
	for _, n := range nodes {
		n.stop(t, syscall.SIGTERM, 15*time.Second)
		n.checkClean(t)
	}
}
