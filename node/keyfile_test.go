package node

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateKeyThenLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "wallet.key")
	key, err := CreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v, want 0700", di.Mode().Perm())
	}
	loaded, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(loaded) {
		t.Error("LoadKey returned another key than CreateKey wrote")
	}
	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(again) {
		t.Error("LoadOrCreateKey replaced an existing key")
	}
}

// TestCreateKeyRefusesExisting: a second CreateKey on the same path
// fails with fs.ErrExist and leaves the first key in place, since
// overwriting a wallet loses what it holds.
func TestCreateKeyRefusesExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.key")
	if _, err := CreateKey(path); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateKey(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second CreateKey: %v, want fs.ErrExist", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("a refused CreateKey changed the key file")
	}
}

func TestLoadKeyMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.key")
	if _, err := LoadKey(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadKey of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadKey created %s: %v", path, err)
	}
}

func TestLoadKeyFormat(t *testing.T) {
	seed := bytes.Repeat([]byte{0xab}, ed25519.SeedSize)
	hexSeed := strings.Repeat("ab", ed25519.SeedSize)
	tests := []struct {
		name    string
		content string
		bad     bool
	}{
		{name: "as written", content: hexSeed + "\n"},
		{name: "no newline", content: hexSeed},
		{name: "crlf and spaces", content: "  " + hexSeed + "\r\n"},
		{name: "upper case", content: strings.ToUpper(hexSeed)},
		{name: "empty", content: "", bad: true},
		{name: "not hex", content: strings.Repeat("zz", ed25519.SeedSize), bad: true},
		{name: "short", content: hexSeed[2:], bad: true},
		{name: "long", content: hexSeed + "ab", bad: true},
		{name: "whole private key", content: hexSeed + hexSeed, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wallet.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			key, err := LoadKey(path)
			if tt.bad {
				if !errors.Is(err, ErrBadKeyFile) {
					t.Fatalf("LoadKey: %v, want ErrBadKeyFile", err)
				}
				// A damaged wallet is never replaced by a new one.
				if _, err := LoadOrCreateKey(path); !errors.Is(err, ErrBadKeyFile) {
					t.Errorf("LoadOrCreateKey: %v, want ErrBadKeyFile", err)
				}
				if got, _ := os.ReadFile(path); string(got) != tt.content {
					t.Errorf("the bad key file changed to %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(key.Seed(), seed) {
				t.Errorf("seed %x, want %x", key.Seed(), seed)
			}
		})
	}
}
