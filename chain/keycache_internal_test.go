package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
)

func keyCacheSeed(i int) []byte {
	seed := sha256.Sum256(fmt.Appendf(nil, "key cache %d", i))
	return seed[:]
}

func keyCacheKey(i int) []byte {
	return ed25519.NewKeyFromSeed(keyCacheSeed(i)).Public().(ed25519.PublicKey)
}

// TestKeyCache: a key whose signature verified is only noted the first
// time, expanded the second and then held; a key that does not decode is
// never expanded; full maps stay at their bounds, evicting.
func TestKeyCache(t *testing.T) {
	k := newKeyCache(4, 8)
	k.verified(keyCacheKey(0))
	if k.held(keyCacheKey(0)) != nil {
		t.Fatal("a key was expanded at its first verified signature")
	}
	k.verified(keyCacheKey(0))
	first := k.held(keyCacheKey(0))
	if first == nil {
		t.Fatal("a valid key was not expanded at its second verified signature")
	}
	k.verified(keyCacheKey(0))
	if again := k.held(keyCacheKey(0)); again != first {
		t.Fatal("a held key was expanded again")
	}
	if got := first.CompressedY(); string(got[:]) != string(keyCacheKey(0)) {
		t.Fatal("the expanded key is not the key's own bytes")
	}
	// y = 2 has no x on the curve: the key does not decode.
	bad := make([]byte, 32)
	bad[0] = 2
	for range 3 {
		k.verified(bad)
		k.verified(keyCacheKey(0)[:31])
		if k.held(bad) != nil || k.held(keyCacheKey(0)[:31]) != nil {
			t.Fatal("a key that does not decode was expanded")
		}
	}
	for i := range 20 {
		k.verified(keyCacheKey(i))
		k.verified(keyCacheKey(i))
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
	nilCache.verified(keyCacheKey(0))
	if nilCache.held(keyCacheKey(0)) != nil || newKeyCache(0, 8) != nil {
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
				k.verified(pub)
				if ex := k.held(pub); ex != nil {
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

// TestKeyCacheIgnoresForgeries: signatures that do not verify, alone or
// in a batch, neither note nor expand their key, so forgeries, which
// cost nothing, cannot fill the key cache or evict from it; valid ones
// are noted, then expanded, on either path, and a held key's forgeries
// are still refused.
func TestKeyCacheIgnoresForgeries(t *testing.T) {
	p := RegTest()
	jobs := func(key, n int, valid bool) []sigJob {
		priv := ed25519.NewKeyFromSeed(keyCacheSeed(key))
		out := make([]sigJob, n)
		for i := range out {
			tx := &Transaction{Version: TxVersion, Sender: "s", Recipient: "r", Amount: 1, Nonce: uint64(i),
				PublicKey: priv.Public().(ed25519.PublicKey)}
			tx.Signature = ed25519.Sign(priv, tx.SigningBytes(p.id))
			if !valid {
				tx.Signature[0] ^= 1
			}
			out[i] = sigJob{tx: tx, id: tx.ID()}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		n    int // batchMin or more: one batch; fewer: one at a time
	}{
		{"alone", batchMin - 1},
		{"in a batch", batchMin + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := NewSigCache(64)
			for range 3 {
				forged := jobs(1, tc.n, false)
				sc.verifyChunk(p, forged)
				for i, j := range forged {
					if j.ok {
						t.Fatalf("forged signature %d verified", i)
					}
				}
			}
			if n, m := len(sc.keys.seenOnce.m), len(sc.keys.keys.m); n != 0 || m != 0 {
				t.Fatalf("forgeries left %d keys noted and %d expanded", n, m)
			}
			pub := jobs(2, 1, true)[0].tx.PublicKey
			for round := range 2 {
				valid := jobs(2, tc.n, true)
				sc.verifyChunk(p, valid)
				for i, j := range valid {
					if !j.ok {
						t.Fatalf("round %d: valid signature %d refused", round, i)
					}
				}
			}
			if sc.keys.held(pub) == nil {
				t.Fatal("a key with verified signatures in two checks was not expanded")
			}
			// A held key's forgeries are refused through its tables too.
			forged := jobs(2, tc.n, false)
			sc.verifyChunk(p, forged)
			for i, j := range forged {
				if j.ok {
					t.Fatalf("forged signature %d by a held key verified", i)
				}
			}
		})
	}
}
