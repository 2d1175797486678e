package chain

import "math/big"

// Store is the durable state the chain needs; package chain/store provides
// it on bbolt. Reads see only committed state. Apply commits a whole Batch
// atomically and durably: when it returns nil, a crash at any later moment
// leaves every write of the batch in place, and an error leaves none.
//
// The chain serialises its writes; reads may come from any goroutine.
// While a chain is open on a store, it must be the store's only writer:
// it answers the tip, and the hashes the store just had no meta for,
// from memory, kept right through its own Applies (tipstore.go).
type Store interface {
	// Tip returns the hash of the main chain's last block. An empty store
	// returns ErrNotFound.
	Tip() (Hash, error)
	// Meta returns what the chain knows about a stored block.
	Meta(Hash) (*BlockMeta, error)
	// Block returns a stored block.
	Block(Hash) (*Block, error)
	// BlockBytes returns a stored block's canonical encoding
	// (Block.Encode) without decoding it: what the sync server sends.
	BlockBytes(Hash) ([]byte, error)
	// MainHash returns the hash of the main-chain block at height.
	MainHash(height uint64) (Hash, error)
	// Account returns the state of an address at the tip. An address that
	// never appeared returns the zero Account and no error.
	Account(addr string) (Account, error)
	// Undo returns the undo record of a block on the main chain.
	Undo(Hash) (*Undo, error)
	// TxLocation returns the main-chain block holding a transaction id.
	TxLocation(Hash) (Hash, error)
	// View runs fn with a view of the committed state as of one instant:
	// every read through it sees the same state, whatever Apply commits
	// meanwhile, and the whole view costs the store one read transaction
	// instead of one per read. The chain uses it where one request makes
	// many reads (HeadersAfter, Locator, the accounts a block touches).
	// fn must not keep the view past its return, and must not call
	// Apply: a writer may wait for the view's transaction to end. View
	// returns fn's error.
	View(fn func(StoreView) error) error
	// SideMetas returns the metas of every stored block that is not on
	// the main chain.
	SideMetas() ([]*BlockMeta, error)
	// Apply commits a batch. The store may keep the batch, and the
	// blocks, metas and undo records it names, once Apply returned (a
	// write-ahead store serves reads from it until it is written out):
	// the caller must not change any of them after.
	Apply(*Batch) error
	// Close releases the store.
	Close() error
}

// StoreView is the part of the store a View reads: the block index, the
// main chain and the accounts, as Store's methods of the same names.
type StoreView interface {
	Meta(Hash) (*BlockMeta, error)
	// Account is Store.Account: connecting a block reads every address it
	// touches in one view instead of a read transaction each. A view's
	// reads reuse one cursor: a view is for one goroutine.
	Account(addr string) (Account, error)
	MainHash(height uint64) (Hash, error)
	// MainHashes returns the main-chain hashes at heights from, from+1, …:
	// n of them, or fewer where the main chain ends. It is one walk of the
	// main index, not n lookups.
	MainHashes(from uint64, n int) ([]Hash, error)
}

// Status is what validation has found out about a stored block.
type Status uint8

const (
	// StatusInvalid: the block broke a rule when it was connected, or has an
	// invalid ancestor. It is never connected again.
	StatusInvalid Status = 1 << iota
	// StatusConnected: the block passed full validation (connect) at least
	// once. A block without it has a valid header and body, and waits on a
	// side branch with less work than the main chain.
	StatusConnected
)

// BlockMeta is the index entry of a stored block.
type BlockMeta struct {
	Hash   Hash
	Header Header
	// Work is the cumulative work of the branch ending in this block,
	// genesis included.
	Work   *big.Int
	Status Status
	// Size and TxCount describe the stored body, for listings.
	Size    uint32
	TxCount uint32
}

// Height is the block's height.
func (m *BlockMeta) Height() uint64 { return m.Header.Height }

// Clone returns a copy of m that shares nothing with it: a store read
// returns a meta of the caller's own, and a cached one must stay so.
func (m *BlockMeta) Clone() *BlockMeta {
	c := *m
	if m.Work != nil {
		c.Work = new(big.Int).Set(m.Work)
	}
	return &c
}

// Account is the ledger state of one address.
type Account struct {
	// Balance may be negative only on networks without signatures, where
	// the teaching chain's rules let anyone spend anything.
	Balance int64
	// Nonce is the count of transactions the address has sent.
	Nonce uint64
}

// IsZero reports whether the account holds nothing: never seen, or back to
// where it started. Stores delete zero accounts.
func (a Account) IsZero() bool { return a == Account{} }

// Undo is what a connected block changed in the ledger: the state of every
// address it touched as it was before the block. Disconnecting the block
// writes these back, newest block first.
type Undo struct {
	Entries []UndoEntry
}

// UndoEntry is one address's state before a block.
type UndoEntry struct {
	Address string
	Prev    Account
}

// Batch is every write of one chain update: one block connected, a whole
// reorg, or a run of synced blocks. Map values that are the zero value
// (a nil pointer, ZeroHash, the zero Account) are deletions.
type Batch struct {
	Blocks   map[Hash]*Block
	Metas    map[Hash]*BlockMeta
	Undos    map[Hash]*Undo
	Main     map[uint64]Hash
	Accounts map[string]Account
	// TxIndex maps transaction ids to the main-chain block holding them.
	TxIndex map[Hash]Hash
	// Tip, when not zero, is the new main-chain tip.
	Tip Hash
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{
		Blocks:   make(map[Hash]*Block),
		Metas:    make(map[Hash]*BlockMeta),
		Undos:    make(map[Hash]*Undo),
		Main:     make(map[uint64]Hash),
		Accounts: make(map[string]Account),
		TxIndex:  make(map[Hash]Hash),
	}
}
