package chain

import "sync"

// accountCache keeps the tip state of recently read addresses in memory,
// for Chain.Account: the mempool reads a transfer's sender and recipient
// at every admission, and the store answers each read with a read
// transaction of its own (a bbolt view: about 2 µs and 1.6 KiB of
// allocations), for accounts that a busy node reads over and over between
// two blocks.
//
// It never answers with a state the store no longer holds. Every commit
// goes through Chain.apply, which marks the cache busy before the store's
// Apply and, once it returned, writes the batch's new account states over
// the cached ones, counting a generation at both ends. While a commit is
// under way the cache neither answers nor takes entries, so a reader
// then reads the store itself (an address the write changes it reads
// from the write: Chain.Account); a reader that missed keeps what it read
// from the store only if no commit began or ended since its miss (the
// generation), since what it read may be the state the commit replaced
// (TestAccountCacheRacingCommits). A commit that fails empties the
// cache: what the store then holds is unknown.
//
// Connecting a block reads it too (fill), under the chain's lock: every
// commit holds that lock from begin to end, so a connect never finds the
// cache busy, and what it holds then is the committed state the connect
// builds on. A connect does not put what it read from the store: a sync
// of many new addresses would push out the mempool's working set. A
// commit of one block that takes none off the main chain (a relayed or
// mined block on the tip) does put every state it writes, held or not:
// its addresses are the working set of the next blocks, and the coinbase
// recipient, which no admission reads, was otherwise read from the store
// at every block it was paid (a read transaction per block and node).
type accountCache struct {
	mu      sync.Mutex
	entries map[string]Account
	max     int
	busy    bool   // a commit is under way
	gen     uint64 // counts the commits' beginnings and ends
}

// accountCacheMax bounds the cached addresses: 65,536 of about 100 bytes
// each (the key, the Account, the map's share), some 6 MiB, more than the
// senders and recipients a full mempool (10,000 transactions) names. On
// the open network a name may be up to MaxNameLen bytes: about 12 MiB at
// worst.
const accountCacheMax = 1 << 16

func newAccountCache(max int) *accountCache {
	return &accountCache{entries: make(map[string]Account), max: max}
}

// get returns addr's cached state, and the generation a reader that
// missed passes to put.
func (c *accountCache) get(addr string) (a Account, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy {
		return Account{}, false, c.gen
	}
	a, ok = c.entries[addr]
	return a, ok, c.gen
}

// fill puts the cached states of addrs into into and returns the
// addresses it does not hold, all of them while a commit is under way.
// The chain's connect calls it holding the chain's lock, under which no
// commit runs (every Chain.apply after New holds it; New's genesis
// commit runs before the chain is shared), so there it always answers
// with the committed state.
func (c *accountCache) fill(addrs []string, into map[string]Account) (missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy {
		return addrs
	}
	missing = addrs[:0:0]
	for _, addr := range addrs {
		if a, ok := c.entries[addr]; ok {
			into[addr] = a
		} else {
			missing = append(missing, addr)
		}
	}
	return missing
}

// put keeps a state read from the store after get returned gen, unless a
// commit began since or is under way.
func (c *accountCache) put(addr string, a Account, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy || c.gen != gen {
		return
	}
	c.keep(addr, a)
}

// begin marks a commit under way: from now until end, readers read the
// store.
func (c *accountCache) begin() {
	c.mu.Lock()
	c.busy = true
	c.gen++
	c.mu.Unlock()
}

// end closes the commit begun last: with its batch's account states if it
// was committed, else (failed) by forgetting everything. With all, every
// state changed is kept, not only those held.
func (c *accountCache) end(changed map[string]Account, committed, all bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A reader that missed while the commit was under way may have read
	// the state before it: its generation must not match from now on.
	c.gen++
	c.busy = false
	if !committed {
		clear(c.entries)
		return
	}
	for addr, a := range changed {
		if _, ok := c.entries[addr]; ok {
			c.entries[addr] = a
		} else if all {
			c.keep(addr, a)
		}
	}
}

// keep puts a state the cache did not hold. Called with mu held.
func (c *accountCache) keep(addr string, a Account) {
	if len(c.entries) >= c.max {
		// Full: drop an arbitrary entry (map order) rather than tracking
		// recency on every hit; a dropped one is read again.
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[addr] = a
}

// apply commits b to the store, keeping the account cache in step with
// it. Every store write of the chain goes through it.
func (c *Chain) apply(b *Batch) error {
	c.accounts.begin()
	err := c.store.Apply(b)
	c.accounts.end(b.Accounts, err == nil, len(b.Blocks) == 1 && !disconnects(b))
	return err
}

// disconnects reports whether b takes a block off the main chain (its undo
// record deleted): a reorganisation, whose accounts are those of every
// block it moves, however few it stores.
func disconnects(b *Batch) bool {
	for _, u := range b.Undos {
		if u == nil {
			return true
		}
	}
	return false
}

// Account returns an address's state at the tip or, while a write's
// blocks are validated and its store commit is under way, the state that
// write leaves (see pending): the mempool takes its admissions on that
// state once it has dropped the write's transactions (node's intake), so
// that admissions need not wait for a single block's commit. An address
// the write does not change has the same state before and after it, so
// it is read as at the tip, from the cache: the mempool's update after a
// block reads every sender in the pool, and it runs before the commit,
// under the chain's lock (TestAccountDuringValidatedWrite).
func (c *Chain) Account(addr string) (Account, error) {
	if o := c.pending.Load(); o != nil {
		if a, ok := o.b.Accounts[addr]; ok {
			return a, nil
		}
	}
	a, ok, gen := c.accounts.get(addr)
	if ok {
		return a, nil
	}
	a, err := c.store.Account(addr)
	if err != nil {
		return a, err
	}
	c.accounts.put(addr, a, gen)
	return a, nil
}

// StoredAccount reads addr's state at the tip from the store, past the
// cache: for an audit of what the store holds, which the cache, filled
// from the batches written, would not see.
func (c *Chain) StoredAccount(addr string) (Account, error) { return c.store.Account(addr) }
