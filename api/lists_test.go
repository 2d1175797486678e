package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestChainPageBytes: /chain and /sync-chain stop a page before the block
// that would take it past the byte bound (but always send one block), and
// a client paging on with ?from reads the whole chain, each page one
// linked branch.
func TestChainPageBytes(t *testing.T) {
	ctx := context.Background()
	n := newNode(t, chain.RegTest())
	const blocks = 30
	for range blocks {
		if _, err := n.MineOne(ctx); err != nil {
			t.Fatal(err)
		}
	}
	one, err := n.Chain().BlockAt(1)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := one.MarshalJSON()
	bound := 5*len(size) + 10 // five blocks and their commas, not six
	srv := httptest.NewServer(api.New(n, api.WithMaxListBytes(bound)))
	defer srv.Close()

	get := func(path string) (raw []byte, page struct {
		Message string            `json:"message"`
		Chain   []json.RawMessage `json:"chain"`
		Length  uint64            `json:"length"`
	}) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err = io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatalf("GET %s: not JSON: %v", path, err)
		}
		return raw, page
	}

	var all []*chain.Block
	for from := uint64(0); from < blocks+1; {
		raw, page := get(fmt.Sprintf("/chain?from=%d", from))
		if page.Length != blocks+1 {
			t.Fatalf("length %d, want %d", page.Length, blocks+1)
		}
		if len(page.Chain) == 0 || len(page.Chain) > 5 {
			t.Fatalf("page from %d has %d blocks, want 1..5 under a bound of %d bytes", from, len(page.Chain), bound)
		}
		if len(raw) > bound+100 {
			t.Errorf("page from %d is %d bytes, bound %d", from, len(raw), bound)
		}
		for _, r := range page.Chain {
			var b chain.Block
			if err := b.UnmarshalJSON(r); err != nil {
				t.Fatal(err)
			}
			all = append(all, &b)
		}
		from += uint64(len(page.Chain))
	}
	for i, b := range all {
		if b.Header.Height != uint64(i) || (i > 0 && b.Header.PrevHash != all[i-1].Hash()) {
			t.Fatalf("block %d: height %d, not linked to the one before", i, b.Header.Height)
		}
	}
	if all[blocks].Hash() != n.Chain().Tip().Hash {
		t.Fatal("paging did not end at the tip")
	}

	// A bound smaller than one block still sends that block.
	tiny := httptest.NewServer(api.New(n, api.WithMaxListBytes(1)))
	defer tiny.Close()
	resp, err := tiny.Client().Get(tiny.URL + "/chain?from=3")
	if err != nil {
		t.Fatal(err)
	}
	var page api.ChainPage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || len(page.Blocks) != 1 || page.Blocks[0].Header.Height != 3 {
		t.Fatalf("tiny bound: %v %d blocks", err, len(page.Blocks))
	}
	resp.Body.Close()

	// /sync-chain answers the first page the same way, with its message.
	_, sync := get("/sync-chain")
	if sync.Message != "Chain is already up to date" || len(sync.Chain) == 0 || len(sync.Chain) > 5 || sync.Length != blocks+1 {
		t.Fatalf("sync-chain: %q, %d blocks, length %d", sync.Message, len(sync.Chain), sync.Length)
	}
	// Past the tip: an empty page, still with the length.
	if _, past := get("/chain?from=1000"); len(past.Chain) != 0 || past.Length != blocks+1 {
		t.Fatalf("past the tip: %d blocks, length %d", len(past.Chain), past.Length)
	}
}

// TestMempoolBytes: /mempool stops at the byte bound and still counts
// every pending transaction.
func TestMempoolBytes(t *testing.T) {
	ctx := context.Background()
	n := newNode(t, chain.RegTest())
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	to := testwallet.Random(t).Addr
	for range 10 {
		if _, err := n.Send(ctx, to, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	tx, _ := n.Mempool().Txs()[0].MarshalJSON()
	srv := httptest.NewServer(api.New(n, api.WithMaxListBytes(3*len(tx)+5)))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/mempool")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Transactions []*chain.Transaction `json:"transactions"`
		Count        int                  `json:"count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Transactions) != 3 || out.Count != 10 {
		t.Fatalf("%d transactions, count %d; want 3 of 10", len(out.Transactions), out.Count)
	}
}
