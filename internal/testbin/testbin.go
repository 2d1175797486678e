// Package testbin builds the gossipchain command for tests that run it as
// a real process. Test helper only.
package testbin

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Build compiles cmd/gossipchain into a temporary directory of t and
// returns the binary's path.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gossipchain")
	start := time.Now()
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/gossipchain/gossipchain/cmd/gossipchain")
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}
