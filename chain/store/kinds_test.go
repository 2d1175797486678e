package store_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// recordKind is one kind of record a Batch carries: how to check that the
// store holds every such record of a batch, how to delete them all, and how
// to check that they are gone.
type recordKind struct {
	name string
	has  func(t *testing.T, st *store.Store, b *chain.Batch)
	del  func(from, into *chain.Batch)
	gone func(t *testing.T, st *store.Store, b *chain.Batch)
}

func recordKinds() []recordKind {
	notFound := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, chain.ErrNotFound) {
			t.Errorf("%s: err = %v, want chain.ErrNotFound", what, err)
		}
	}
	return []recordKind{
		// In the order TestRoundTrip deletes them: an undo record and a
		// transaction's index entry are found through the block's meta
		// and the main index, so those go after them.
		{
			name: "undo",
			has: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for h, want := range b.Undos {
					got, err := st.Undo(h)
					if err != nil || !reflect.DeepEqual(got, want) {
						t.Errorf("Undo(%s) = %+v, %v; want %+v", h.Short(), got, err, want)
					}
				}
			},
			del: func(from, into *chain.Batch) {
				for h := range from.Undos {
					into.Undos[h] = nil
				}
			},
			gone: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for h := range b.Undos {
					_, err := st.Undo(h)
					notFound(t, "Undo "+h.Short(), err)
				}
			},
		},
		{
			name: "txindex",
			has: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for id, want := range b.TxIndex {
					if got, err := st.TxLocation(id); err != nil || got != want {
						t.Errorf("TxLocation(%s) = %s, %v; want %s", id.Short(), got.Short(), err, want.Short())
					}
				}
			},
			del: func(from, into *chain.Batch) {
				for id := range from.TxIndex {
					into.TxIndex[id] = chain.ZeroHash
				}
			},
			gone: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for id := range b.TxIndex {
					_, err := st.TxLocation(id)
					notFound(t, "TxLocation "+id.Short(), err)
				}
			},
		},
		{
			name: "main",
			has: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for height, want := range b.Main {
					if got, err := st.MainHash(height); err != nil || got != want {
						t.Errorf("MainHash(%d) = %s, %v; want %s", height, got.Short(), err, want.Short())
					}
				}
			},
			del: func(from, into *chain.Batch) {
				for height := range from.Main {
					into.Main[height] = chain.ZeroHash
				}
			},
			gone: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for height := range b.Main {
					_, err := st.MainHash(height)
					notFound(t, "MainHash", err)
				}
			},
		},
		{
			name: "accounts",
			has: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for addr, want := range b.Accounts {
					if got, err := st.Account(addr); err != nil || got != want {
						t.Errorf("Account(%s) = %+v, %v; want %+v", addr, got, err, want)
					}
				}
			},
			del: func(from, into *chain.Batch) {
				for addr := range from.Accounts {
					into.Accounts[addr] = chain.Account{}
				}
			},
			gone: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for addr := range b.Accounts {
					if got, err := st.Account(addr); err != nil || !got.IsZero() {
						t.Errorf("deleted Account(%s) = %+v, %v; want zero, nil", addr, got, err)
					}
				}
			},
		},
		{
			// A block and its meta are one pair: put and deleted together.
			name: "blocks",
			has: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for h, want := range b.Blocks {
					got, err := st.Block(h)
					if err != nil || !reflect.DeepEqual(got, want) {
						t.Errorf("Block(%s) = %+v, %v; want %+v", h.Short(), got, err, want)
					}
				}
				for h, want := range b.Metas {
					got, err := st.Meta(h)
					if err != nil {
						t.Errorf("Meta(%s): %v", h.Short(), err)
						continue
					}
					if got.Work.Cmp(want.Work) != 0 {
						t.Errorf("Meta(%s).Work = %v, want %v", h.Short(), got.Work, want.Work)
					}
					g, w := *got, *want
					g.Work, w.Work = nil, nil
					if g != w {
						t.Errorf("Meta(%s) = %+v, want %+v", h.Short(), g, w)
					}
				}
			},
			del: func(from, into *chain.Batch) {
				for h := range from.Blocks {
					into.Blocks[h], into.Metas[h] = nil, nil
				}
			},
			gone: func(t *testing.T, st *store.Store, b *chain.Batch) {
				for h := range b.Blocks {
					_, err := st.Block(h)
					notFound(t, "Block "+h.Short(), err)
					_, err = st.Meta(h)
					notFound(t, "Meta "+h.Short(), err)
				}
			},
		},
	}
}
