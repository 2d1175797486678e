package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
)

// TestKeyCache: a key is expanded once and then served from the cache, a
// key that does not decode is not kept, and a full cache stays at its
// bound, evicting.
func TestKeyCache(t *testing.T) {
	key := func(i int) []byte {
		seed := sha256.Sum256(fmt.Appendf(nil, "key cache %d", i))
		return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	}
	k := newKeyCache(4)
	first := k.get(key(0))
	if first == nil {
		t.Fatal("a valid key was not expanded")
	}
	if again := k.get(key(0)); again != first {
		t.Fatal("a held key was expanded again")
	}
	if got := first.CompressedY(); string(got[:]) != string(key(0)) {
		t.Fatal("the expanded key is not the key's own bytes")
	}
	// y = 2 has no x on the curve: the key does not decode.
	bad := make([]byte, 32)
	bad[0] = 2
	if k.get(bad) != nil || k.get(key(0)[:31]) != nil {
		t.Fatal("a key that does not decode was expanded")
	}
	for i := range 10 {
		if k.get(key(i)) == nil {
			t.Fatalf("key %d not expanded", i)
		}
		if len(k.keys) > 4 || len(k.list) != len(k.keys) {
			t.Fatalf("after key %d: %d keys, %d listed, bound 4", i, len(k.keys), len(k.list))
		}
	}
	for _, l := range k.list {
		if k.keys[l] == nil {
			t.Fatal("a listed key is not held")
		}
	}
	var nilCache *keyCache
	if nilCache.get(key(0)) != nil {
		t.Fatal("a nil cache returned a key")
	}
}
