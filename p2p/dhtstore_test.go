package p2p

import (
	"context"
	"fmt"
	"testing"

	ds "github.com/ipfs/go-datastore"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// TestProviderStore: a DHT server keeps provider records of the
// rendezvous key only, and at most maxProviders of them, whether written
// one by one or in the provider manager's batches.
func TestProviderStore(t *testing.T) {
	ctx := context.Background()
	s, err := newProviderStore(protocol.Rendezvous(chain.RegTest().NetworkID()))
	if err != nil {
		t.Fatal(err)
	}
	ours := func(i int) ds.Key { return ds.NewKey(fmt.Sprintf("%sPEER%d", s.prefix, i)) }
	foreign := ds.NewKey("/providers/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/PEER")
	if err := s.Put(ctx, foreign, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, foreign); ok {
		t.Error("a record of another key was kept")
	}
	b, err := s.Batch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxProviders + 10 {
		if err := b.Put(ctx, ours(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put(ctx, foreign, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, foreign); ok {
		t.Error("a batched record of another key was kept")
	}
	var kept []ds.Key // a batch commits in no set order: which ones is open
	for i := range maxProviders + 10 {
		if ok, _ := s.Has(ctx, ours(i)); ok {
			kept = append(kept, ours(i))
		}
	}
	if len(kept) != maxProviders || s.count.Load() != maxProviders {
		t.Fatalf("kept %d records (count %d), want the cap of %d", len(kept), s.count.Load(), maxProviders)
	}
	// A refresh of a kept record passes at the cap; a new one does not
	// until a deletion frees a slot.
	if err := s.Put(ctx, kept[0], []byte("y")); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(ctx, kept[0]); string(v) != "y" {
		t.Errorf("refresh at the cap: got %q", v)
	}
	late := ours(maxProviders + 100)
	if err := s.Put(ctx, late, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, late); ok {
		t.Error("a new record kept at the cap")
	}
	if err := s.Delete(ctx, kept[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, late, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, late); !ok {
		t.Error("no room after a deletion")
	}
}
