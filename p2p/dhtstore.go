package p2p

import (
	"context"
	"encoding/base32"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/multiformats/go-multihash"
)

// providerStore is the DHT's provider datastore. A DHT server keeps what
// any peer announces with ADD_PROVIDER, for any key, for 48 hours; kad-dht
// takes no store of our own but does take a datastore, so this one keeps
// only records under the network's rendezvous key (the only key our nodes
// provide) and at most maxProviders of them: a peer cannot fill a
// server's memory with records of keys nobody here looks up. A record
// refused is dropped without error, as if it had expired.
type providerStore struct {
	ds.Batching
	prefix string     // "/providers/<base32 of the rendezvous multihash>/"
	mu     sync.Mutex // makes a write's count-check-write one step
	count  atomic.Int64
}

func newProviderStore(rendezvous string) (*providerStore, error) {
	sum, err := multihash.Sum([]byte(rendezvous), multihash.SHA2_256, -1)
	if err != nil {
		return nil, fmt.Errorf("rendezvous key: %w", err)
	}
	// The key layout of go-libp2p-kad-dht's provider manager
	// (records.ProvidersKeyPrefix, then the multihash and the provider
	// in unpadded base32); go-libp2p's routing discovery provides the
	// CID of the rendezvous string, whose multihash this is.
	prefix := "/providers/" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum) + "/"
	return &providerStore{Batching: dssync.MutexWrap(ds.NewMapDatastore()), prefix: prefix}, nil
}

// admits reports whether a record under k may be written.
func (s *providerStore) admits(ctx context.Context, k ds.Key) bool {
	if !strings.HasPrefix(k.String(), s.prefix) {
		return false
	}
	if ok, err := s.Batching.Has(ctx, k); err == nil && ok {
		return true // a refresh of a record we keep
	}
	return s.count.Load() < maxProviders
}

func (s *providerStore) Put(ctx context.Context, k ds.Key, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.admits(ctx, k) {
		return nil
	}
	existed, _ := s.Batching.Has(ctx, k)
	if err := s.Batching.Put(ctx, k, v); err != nil {
		return err
	}
	if !existed {
		s.count.Add(1)
	}
	return nil
}

func (s *providerStore) Delete(ctx context.Context, k ds.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	existed, _ := s.Batching.Has(ctx, k)
	if err := s.Batching.Delete(ctx, k); err != nil {
		return err
	}
	if existed {
		s.count.Add(-1)
	}
	return nil
}

// Batch writes through Put and Delete above, one by one: the provider
// manager batches its writes, and the map datastore has no atomicity to
// lose.
func (s *providerStore) Batch(context.Context) (ds.Batch, error) {
	return ds.NewBasicBatch(s), nil
}
