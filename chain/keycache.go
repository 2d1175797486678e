package chain

import (
	"math/rand/v2"
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// keyCache holds the public keys of recent signers expanded into
// curve25519-voi's tables, so that a sender's next signatures are
// verified without decoding its key again: a batch of signers it holds
// costs 0.84 – 0.9 of one whose keys are decoded anew
// (BenchmarkVerifyBatch's batch-keys-us/sig: 20.5 against 23.1 µs a
// signature at six, 14.6 against 17.4 at 64), a single check about 0.9,
// and the expansion (about 5 µs) is paid once per key. Senders repeat: a wallet's transfers, a busy account's,
// the same sender's transaction at admission and in a block whose other
// signatures the cache missed.
//
// An entry is about 1.5 KiB. A full cache evicts a random entry, so that
// senders cycling through a few more keys than it holds still hit it
// mostly (a first-in-first-out cache would miss every one). Its contents
// are derived from the key's bytes alone, so a peer can only make it
// miss; keys that do not decode are not kept. A nil cache keeps nothing.
type keyCache struct {
	mu   sync.Mutex
	max  int
	keys map[[voi.PublicKeySize]byte]*voi.ExpandedPublicKey
	list [][voi.PublicKeySize]byte // the keys held, for eviction
}

// keyCacheSize bounds a chain's key cache: about 3 MiB when full, filled
// only as distinct signers are seen.
const keyCacheSize = 2048

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, keys: make(map[[voi.PublicKeySize]byte]*voi.ExpandedPublicKey)}
}

// get returns pub expanded, from the cache or expanded now and kept, or
// nil when pub is not a key that decodes (the caller's verification
// refuses it) or the cache is nil.
func (k *keyCache) get(pub []byte) *voi.ExpandedPublicKey {
	if k == nil || len(pub) != voi.PublicKeySize {
		return nil
	}
	key := [voi.PublicKeySize]byte(pub)
	k.mu.Lock()
	ex := k.keys[key]
	k.mu.Unlock()
	if ex != nil {
		return ex
	}
	ex, err := voi.NewExpandedPublicKey(pub)
	if err != nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys[key]; ok {
		return ex // another goroutine kept it meanwhile
	}
	if len(k.list) < k.max {
		k.list = append(k.list, key)
	} else {
		i := rand.IntN(len(k.list))
		delete(k.keys, k.list[i])
		k.list[i] = key
	}
	k.keys[key] = ex
	return ex
}
