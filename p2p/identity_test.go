package p2p

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
)

func TestIdentitySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h1, err := NewHost(t.Context(), testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	id := h1.ID()
	if err := h1.Close(); err != nil {
		t.Fatal(err)
	}
	h2, err := NewHost(t.Context(), testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if h2.ID() != id {
		t.Errorf("peer ID after restart = %s, want %s", h2.ID(), id)
	}

	fi, err := os.Stat(filepath.Join(dir, NodeKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("node key mode = %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, NodeKeyFile))
	key, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil || key.Type() != crypto.Ed25519 {
		t.Fatalf("node.key is not a marshalled ed25519 key: %v", err)
	}
}

func TestIdentityFreshDirsDiffer(t *testing.T) {
	a, err := LoadOrCreateNodeKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateNodeKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a.Equals(b) {
		t.Error("two data directories got the same key")
	}
}

// A damaged key file must stop the node: replacing it would silently give
// the node a new peer ID and break every --bootstrap that names it.
func TestIdentityDamagedKeyIsError(t *testing.T) {
	ecdsa, _, err := crypto.GenerateECDSAKeyPair(bytes.NewReader(bytes.Repeat([]byte{7}, 256)))
	if err != nil {
		t.Fatal(err)
	}
	notEd25519, err := crypto.MarshalPrivateKey(ecdsa)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"empty":       {},
		"garbage":     []byte("not a key\n"),
		"truncated":   mustMarshalEd25519(t)[:20],
		"wrong type":  notEd25519,
		"far too big": bytes.Repeat([]byte{1}, maxNodeKeySize+1),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, NodeKeyFile)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrCreateNodeKey(dir); !errors.Is(err, ErrBadNodeKey) {
				t.Errorf("LoadOrCreateNodeKey = %v, want ErrBadNodeKey", err)
			}
			if h, err := NewHost(t.Context(), testConfig(t, dir)); err == nil {
				h.Close()
				t.Error("NewHost started with a damaged key")
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, content) {
				t.Error("damaged key file was modified")
			}
		})
	}
}

func mustMarshalEd25519(t *testing.T) []byte {
	k, err := LoadOrCreateNodeKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
