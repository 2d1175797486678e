package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
)

func keyCacheKey(i int) []byte {
	seed := sha256.Sum256(fmt.Appendf(nil, "key cache %d", i))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

// TestKeyCache: a key is only noted at its first sighting, expanded at
// its second and then served from the cache; a key that does not decode
// is never expanded; full maps stay at their bounds, evicting.
func TestKeyCache(t *testing.T) {
	k := newKeyCache(4, 8)
	if k.get(keyCacheKey(0)) != nil {
		t.Fatal("a key was expanded at its first sighting")
	}
	first := k.get(keyCacheKey(0))
	if first == nil {
		t.Fatal("a valid key was not expanded at its second sighting")
	}
	if again := k.get(keyCacheKey(0)); again != first {
		t.Fatal("a held key was expanded again")
	}
	if got := first.CompressedY(); string(got[:]) != string(keyCacheKey(0)) {
		t.Fatal("the expanded key is not the key's own bytes")
	}
	// y = 2 has no x on the curve: the key does not decode.
	bad := make([]byte, 32)
	bad[0] = 2
	for range 3 {
		if k.get(bad) != nil || k.get(keyCacheKey(0)[:31]) != nil {
			t.Fatal("a key that does not decode was expanded")
		}
	}
	for i := range 20 {
		k.get(keyCacheKey(i))
		k.get(keyCacheKey(i))
		for name, b := range map[string]struct{ held, listed, max int }{
			"expanded": {len(k.keys.m), len(k.keys.list), 4},
			"seen":     {len(k.seenOnce.m), len(k.seenOnce.list), 8},
		} {
			if b.held > b.max || b.listed != b.held {
				t.Fatalf("after key %d, %s: %d held, %d listed, bound %d", i, name, b.held, b.listed, b.max)
			}
		}
	}
	for _, l := range k.keys.list {
		if k.keys.m[l] == nil {
			t.Fatal("a listed key is not held")
		}
	}
	var nilCache *keyCache
	if nilCache.get(keyCacheKey(0)) != nil || newKeyCache(0, 8) != nil {
		t.Fatal("a nil cache returned a key")
	}
}

// TestKeyCacheConcurrent runs many goroutines through a small cache that
// keeps evicting (run it with -race): every key it returns is the one
// asked for.
func TestKeyCacheConcurrent(t *testing.T) {
	k := newKeyCache(3, 5)
	keys := make([][]byte, 12)
	for i := range keys {
		keys[i] = keyCacheKey(i)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				pub := keys[(g+i)%len(keys)]
				if ex := k.get(pub); ex != nil {
					if got := ex.CompressedY(); string(got[:]) != string(pub) {
						t.Errorf("asked for key %x, got %x", pub[:4], got[:4])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
