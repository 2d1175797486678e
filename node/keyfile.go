package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/gossipchain/gossipchain/internal/fsutil"
)

// ErrBadKeyFile is returned for a key file that exists but does not hold a
// key, so a damaged file is never silently replaced by a new identity.
var ErrBadKeyFile = errors.New("bad key file")

// LoadOrCreateKey reads the ed25519 key whose 32-byte seed is stored as hex
// in path, creating the file (mode 0600) with a fresh key if it does not
// exist.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := LoadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = CreateKey(path)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it between our read and our
			// create: theirs is the wallet now.
			return LoadKey(path)
		}
	}
	return key, err
}

// LoadKey reads the key file at path as LoadOrCreateKey writes it and
// never creates one. A missing file is an error wrapping fs.ErrNotExist,
// so a caller that only spends from a wallet can tell the user to create
// it rather than make a key nobody has funded.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w %s: want %d hex-encoded bytes", ErrBadKeyFile, path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// CreateKey writes a fresh key to path (mode 0600, its directory 0700 if
// missing) and returns it. It fails with an error wrapping fs.ErrExist if
// path exists: overwriting a key file would lose whatever its address
// holds.
func CreateKey(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	if err := fsutil.CreateExclusive(path, []byte(hex.EncodeToString(key.Seed())+"\n")); err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	return key, nil
}
