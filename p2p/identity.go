package p2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/gossipchain/gossipchain/internal/fsutil"
)

// NodeKeyFile is the name of the node key inside the data directory. The
// key is the node's libp2p identity: keeping it keeps the peer ID, so the
// /p2p/ multiaddrs other operators pasted into --bootstrap stay valid
// across restarts.
const NodeKeyFile = "node.key"

// ErrBadNodeKey is returned for a node key file that exists but does not
// hold a usable key. It is never replaced by a fresh key: a new key is a
// new peer ID, and silently changing identity would break every peer that
// bootstraps to this node.
var ErrBadNodeKey = errors.New("bad node key file")

// LoadOrCreateNodeKey returns the ed25519 libp2p key stored in
// dataDir/node.key (crypto.MarshalPrivateKey bytes), creating it with mode
// 0600 if the file does not exist.
func LoadOrCreateNodeKey(dataDir string) (crypto.PrivKey, error) {
	path := filepath.Join(dataDir, NodeKeyFile)
	key, err := readNodeKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createNodeKey(path)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it between our read and our create;
			// theirs is the identity now.
			return readNodeKey(path)
		}
	}
	return key, err
}

func readNodeKey(path string) (crypto.PrivKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open node key: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxNodeKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("read node key %s: %w", path, err)
	}
	if len(raw) == 0 || len(raw) > maxNodeKeySize {
		return nil, fmt.Errorf("%w %s: %d bytes", ErrBadNodeKey, path, len(raw))
	}
	key, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadNodeKey, path, err)
	}
	if key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w %s: key type %v, want Ed25519", ErrBadNodeKey, path, key.Type())
	}
	return key, nil
}

func createNodeKey(path string) (crypto.PrivKey, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate node key: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal node key: %w", err)
	}
	if err := fsutil.CreateExclusive(path, raw); err != nil {
		return nil, fmt.Errorf("create node key: %w", err)
	}
	return key, nil
}

// UserAgent is what identify tells peers this node runs:
// "gossipchain/<version>", the module version of the binary ("devel" for
// a build from a work tree). go-libp2p's own default is the main module's
// path and version, which for a work-tree build ends in an empty version
// ("github.com/gossipchain/gossipchain@").
func UserAgent() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "gossipchain/" + v
}
