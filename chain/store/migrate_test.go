package store_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain/store"
)

// TestMigrateV2Fixture: a store written by a version-2 build opens, is
// converted, and answers every query as the version-2 build did; opened
// again it answers the same and passes bbolt's check.
func TestMigrateV2Fixture(t *testing.T) {
	path, want := store.CopyV2Fixture(t)
	for range 2 {
		if got := store.DumpFile(t, path); got != want {
			t.Fatalf("answers differ from version 2's:\n%s", store.FirstDiff(got, want))
		}
	}
}
