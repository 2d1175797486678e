package chain

import (
	"math/rand/v2"
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// keyCache holds the public keys of signers seen more than once,
// expanded into curve25519-voi's tables, so that a sender's later
// signatures are verified without decoding its key again: a batch of
// signers it holds costs 0.84 – 0.9 of one whose keys are decoded anew
// (BenchmarkVerifyBatch's batch-keys-us/sig: 20.5 against 23.1 µs a
// signature at six, 14.6 against 17.4 at 64; a batch uses the decoded
// point, a single check the tables too), a single check about 0.9.
// Expanding costs about 5 µs, more than one verification saves, so a key
// is expanded only once a second signature by it has verified: the first
// is only noted, in a set of bare keys. Only keys whose signatures
// verified are noted or expanded (verified), so forged signatures, which
// cost nothing to make, neither fill the cache nor evict a key from it;
// evicting one takes two valid signatures by a fresh key, which the node
// verifies whatever the cache holds. Senders repeat: a wallet's
// transfers, a busy account's, a sync batch's blocks.
//
// An expanded key is about 1.5 KiB; a full cache is about 1.6 MiB, and
// it fills only as signers repeat. A full map evicts a random entry, so
// that senders cycling through a few more keys than it holds still hit it
// mostly (a first-in-first-out cache would miss every one). Its contents
// are derived from the key's bytes alone; keys that do not decode are
// not expanded. A nil cache keeps nothing.
type keyCache struct {
	mu       sync.Mutex
	keys     boundedMap[*voi.ExpandedPublicKey]
	seenOnce boundedMap[struct{}]
}

// keyCacheSize bounds a chain's expanded keys, and keyCacheSeen the keys
// noted once (32 bytes and the map's overhead each).
const (
	keyCacheSize = 1024
	keyCacheSeen = 4 * keyCacheSize
)

func newKeyCache(max, seen int) *keyCache {
	if max <= 0 || seen <= 0 {
		return nil
	}
	return &keyCache{keys: newBoundedMap[*voi.ExpandedPublicKey](max), seenOnce: newBoundedMap[struct{}](seen)}
}

// held returns pub expanded if the cache holds it, else nil (and for a
// nil cache).
func (k *keyCache) held(pub []byte) *voi.ExpandedPublicKey {
	if k == nil || len(pub) != voi.PublicKeySize {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys.m[[voi.PublicKeySize]byte(pub)]
}

// verified notes that a signature by pub verified: at the key's first
// such sighting it is noted, at its second expanded and held.
func (k *keyCache) verified(pub []byte) {
	if k == nil || len(pub) != voi.PublicKeySize {
		return
	}
	key := [voi.PublicKeySize]byte(pub)
	k.mu.Lock()
	if _, ok := k.keys.m[key]; ok {
		k.mu.Unlock()
		return
	}
	if _, ok := k.seenOnce.m[key]; !ok {
		k.seenOnce.put(key, struct{}{})
		k.mu.Unlock()
		return
	}
	k.mu.Unlock()
	ex, err := voi.NewExpandedPublicKey(pub)
	if err != nil {
		return // not a key that decodes: its signature did not verify
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys.m[key]; !ok { // another goroutine may have meanwhile
		k.keys.put(key, ex)
	}
}

// boundedMap is a map of at most max keys that evicts a random one when
// full. Its user locks it.
type boundedMap[V any] struct {
	max  int
	m    map[[voi.PublicKeySize]byte]V
	list [][voi.PublicKeySize]byte // the keys held, for eviction
}

func newBoundedMap[V any](max int) boundedMap[V] {
	return boundedMap[V]{max: max, m: make(map[[voi.PublicKeySize]byte]V)}
}

// put adds key, which the map does not hold.
func (b *boundedMap[V]) put(key [voi.PublicKeySize]byte, v V) {
	if len(b.list) < b.max {
		b.list = append(b.list, key)
	} else {
		i := rand.IntN(len(b.list))
		delete(b.m, b.list[i])
		b.list[i] = key
	}
	b.m[key] = v
}
