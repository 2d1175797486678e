package store_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain/store"
)

func TestCheckFreshStore(t *testing.T) {
	s, err := store.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
}
