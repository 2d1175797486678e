package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// The list routes (/chain, /sync-chain, /mempool) are bounded in items
// and in bytes, and written as a stream: each block or transaction is
// encoded on its own into one reused buffer and written out, so a page
// costs the server one block's text in memory whatever its length.
// Encoding a whole page of full blocks through encoding/json instead
// allocated about 8 MiB per block (see docs/benchmarks.md).
const (
	// maxChainPage bounds the blocks one /chain or /sync-chain answer
	// holds: without ?limit a client gets the chain from ?from (default
	// 0) up to this many blocks, and a larger ?limit is cut to it.
	maxChainPage = 1000
	// maxListBytes bounds the items of one list answer in bytes: a page
	// ends before the item that would take it past this, so a client
	// pages on with ?from. The first item is always sent, and none is
	// larger: a block's JSON is at most about 4 MiB (512 KiB of
	// transactions of the smallest size, each about seven times larger
	// as JSON).
	maxListBytes = 8 << 20
	// flushEvery is how much is buffered before it is written to the
	// connection.
	flushEvery = 64 << 10
	// maxListAnswers bounds the list answers written at once. Each holds
	// a block's text (up to about 4 MiB), the block and its buffer until
	// written: a reader that stops reading must not pin that memory, nor
	// many readers many times it. Past the bound a list is refused with
	// 503 and Retry-After.
	maxListAnswers = 8
	// maxListAnswersPerClient bounds those written at once to one remote
	// client (listClient), so that one slow reader cannot take every
	// slot: a page open in a browser asks for two lists at most at a
	// time.
	maxListAnswersPerClient = 3
	// listAnswerTime bounds one list answer, as the server's
	// WriteTimeout does the others' (the per-write deadline replaces
	// it).
	listAnswerTime = 2 * time.Minute
)

// listWriteTimeout bounds each write of a list answer to the connection:
// a reader that stops reading is cut off then, its slot and memory freed,
// not at the answer's whole time. A variable for tests.
var listWriteTimeout = 10 * time.Second

// listSlot takes one of the maxListAnswers slots for r, and one of its
// client's maxListAnswersPerClient, or refuses the request; release gives
// them back.
func (s *server) listSlot(w http.ResponseWriter, r *http.Request) (release func(), err error) {
	client, counted := listClient(r.RemoteAddr)
	if counted {
		s.listMu.Lock()
		n := s.listByClient[client]
		if n >= maxListAnswersPerClient {
			s.listMu.Unlock()
			w.Header().Set("Retry-After", "1")
			return nil, errorf(EUNAVAILABLE, "too many list answers being written to %s (%d); try again", client, n)
		}
		s.listByClient[client] = n + 1
		s.listMu.Unlock()
	}
	done := func() {
		if !counted {
			return
		}
		s.listMu.Lock()
		if s.listByClient[client]--; s.listByClient[client] == 0 {
			delete(s.listByClient, client)
		}
		s.listMu.Unlock()
	}
	if !s.listAnswers.TryAcquire(1) {
		done()
		w.Header().Set("Retry-After", "1")
		return nil, errorf(EUNAVAILABLE, "too many list answers being written (%d); try again", maxListAnswers)
	}
	return func() { s.listAnswers.Release(1); done() }, nil
}

// listClient is the client a list answer to remote (a request's
// RemoteAddr) counts against: its IPv4 address, or its IPv6 address's
// /64, which one subscriber holds whole, unless link-local (every host
// on a link shares fe80::/64: the address itself). Loopback clients are not
// counted (counted false): they are this machine's own, a reverse proxy
// among them, and they share one address; nor is an address the
// listener did not give as IP and port.
func listClient(remote string) (client netip.Prefix, counted bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Prefix{}, false
	}
	a := ap.Addr().Unmap()
	if a.IsLoopback() {
		return netip.Prefix{}, false
	}
	bits := a.BitLen()
	if a.Is6() && !a.IsLinkLocalUnicast() {
		bits = 64
	}
	p, err := a.WithZone("").Prefix(bits)
	return p, err == nil
}

// GET /chain[?from=I&limit=N]: main-chain blocks from height I, and the
// whole main chain's length, so a client knows to page on.
func (s *server) getChain(w http.ResponseWriter, r *http.Request) error {
	release, err := s.listSlot(w, r)
	if err != nil {
		return err
	}
	defer release()
	q := r.URL.Query()
	from, err := queryUint(q.Get("from"), "from", 0)
	if err != nil {
		return err
	}
	limit, err := queryUint(q.Get("limit"), "limit", maxChainPage)
	if err != nil {
		return err
	}
	if limit == 0 {
		return errorf(EINVALID, "limit must be at least 1")
	}
	page, err := s.chainPage(from, min(limit, maxChainPage))
	if err != nil {
		return err
	}
	return s.writeChain(w, r, "", page)
}

// GET /sync-chain syncs from peers now, then answers with the chain (its
// first page; "length" is the whole chain's).
func (s *server) syncChain(w http.ResponseWriter, r *http.Request) error {
	replaced := s.n.SyncNow(r.Context())
	release, err := s.listSlot(w, r)
	if err != nil {
		// The sync ran: say so, as a retry would sync again.
		return errorf(EUNAVAILABLE, "synced (chain replaced: %t), but too many list answers are being written to send the chain; GET /chain later", replaced)
	}
	defer release()
	page, err := s.chainPage(0, maxChainPage)
	if err != nil {
		return err
	}
	msg := "Chain is already up to date"
	if replaced {
		msg = "Chain was replaced"
	}
	return s.writeChain(w, r, msg, page)
}

// queryUint parses an optional non-negative integer query parameter.
func queryUint(v, name string, def uint64) (uint64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, errorf(EINVALID, "%s must be a non-negative integer, got %q", name, v)
	}
	return n, nil
}

// chainPageRef names the blocks of one page: one branch, read before
// any block is written, so the page is consistent even if the chain
// reorganises while it streams.
type chainPageRef struct {
	hashes []chain.Hash // from the lowest height up
	length uint64       // the main chain's length when read
}

// chainPage picks up to limit main-chain blocks from height from. It
// takes the main chain's block at the page's top height and walks down
// its parents, so every block is the child of the one before; if the
// chain got shorter between reading the tip and that block, it reads
// again, a few times at most.
func (s *server) chainPage(from, limit uint64) (chainPageRef, error) {
	c := s.n.Chain()
	for range 3 {
		tip := c.Tip().Height()
		ref := chainPageRef{length: tip + 1}
		if from > tip {
			return ref, nil
		}
		top := min(tip, from+limit-1)
		h, err := c.MainHash(top)
		if errors.Is(err, chain.ErrNotFound) {
			continue
		}
		if err != nil {
			return chainPageRef{}, err
		}
		ref.hashes = make([]chain.Hash, top-from+1)
		for i := len(ref.hashes) - 1; ; i-- {
			ref.hashes[i] = h
			if i == 0 {
				break
			}
			m, err := c.Meta(h)
			if err != nil {
				return chainPageRef{}, err
			}
			h = m.Header.PrevHash
		}
		return ref, nil
	}
	return chainPageRef{}, errorf(EUNAVAILABLE, "the chain is reorganising, try again")
}

// writeChain streams {["message",] "chain": [...], "length": N}. Once
// the status line is out an error can no longer be answered as one: the
// array is closed early (a shorter page, which clients page on from) and
// the cause logged.
func (s *server) writeChain(w http.ResponseWriter, r *http.Request, msg string, page chainPageRef) error {
	c := s.n.Chain()
	// Read the first block before answering, so a store failure is still
	// an error status.
	var first *chain.Block
	if len(page.hashes) > 0 {
		b, err := c.Block(page.hashes[0])
		if err != nil {
			return err
		}
		first = b
	}
	lw := s.startList(w)
	if msg != "" {
		lw.raw(`{"message":`)
		lw.value(msg)
		lw.raw(`,"chain":[`)
	} else {
		lw.raw(`{"chain":[`)
	}
	for i, h := range page.hashes {
		b := first
		if i > 0 {
			var err error
			if b, err = c.Block(h); err != nil {
				s.log.Warn("api chain page cut short", "path", r.URL.Path, "hash", h, "reason", err)
				break
			}
		}
		if !lw.item(i, b.AppendJSON) {
			break
		}
	}
	lw.raw(`],"length":`)
	lw.raw(strconv.FormatUint(page.length, 10))
	lw.raw("}\n")
	return lw.finish(r)
}

// GET /mempool: the pending transactions in the order a block would take
// them, up to maxListBytes of them; "count" is the whole mempool's.
func (s *server) getMempool(w http.ResponseWriter, r *http.Request) error {
	release, err := s.listSlot(w, r)
	if err != nil {
		return err
	}
	defer release()
	txs := s.n.Mempool().Txs()
	lw := s.startList(w)
	lw.raw(`{"transactions":[`)
	for i, tx := range txs {
		if !lw.item(i, func(dst []byte) ([]byte, error) {
			t, err := tx.MarshalJSON()
			return append(dst, t...), err
		}) {
			break
		}
	}
	lw.raw(`],"count":`)
	lw.raw(strconv.Itoa(len(txs)))
	lw.raw("}\n")
	return lw.finish(r)
}

// listWriter writes one list answer: 200 and the JSON header at start,
// then items while they fit the server's listBytes (maxListBytes). The first write error stops
// it; later writes do nothing.
type listWriter struct {
	s     *server
	w     *bufio.Writer
	buf   []byte // one item's text, reused
	items int    // bytes of items written
	err   error
}

func (s *server) startList(w http.ResponseWriter) *listWriter {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w), end: time.Now().Add(listAnswerTime)}
	return &listWriter{s: s, w: bufio.NewWriterSize(dw, flushEvery)}
}

// deadlineWriter writes in pieces of at most flushEvery bytes, each
// flushed to the connection under a write deadline of its own:
// listWriteTimeout from when it starts, and never past end. bufio hands
// a write larger than its buffer (a block's text, up to about 4 MiB)
// straight through: under one deadline, a reader would have to take it
// all within listWriteTimeout.
type deadlineWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	end time.Time
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		piece := p[:min(len(p), flushEvery)]
		dl := time.Now().Add(listWriteTimeout)
		if dl.After(d.end) {
			dl = d.end
		}
		_ = d.rc.SetWriteDeadline(dl)
		n, err := d.w.Write(piece)
		written += n
		if err == nil {
			// The server buffers what it is given: flushed here, so the
			// deadline covers the bytes reaching the connection. A
			// writer that cannot flush (a test's recorder) has nothing
			// to time.
			if err = d.rc.Flush(); errors.Is(err, http.ErrNotSupported) {
				err = nil
			}
		}
		if err != nil {
			return written, err
		}
		p = p[len(piece):]
	}
	return written, nil
}

func (l *listWriter) raw(text string) {
	if l.err == nil {
		_, l.err = l.w.WriteString(text)
	}
}

func (l *listWriter) value(v any) {
	if l.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		l.err = err
		return
	}
	_, l.err = l.w.Write(b)
}

// item encodes the i-th item with appendJSON and writes it if it fits.
// It reports whether the list goes on.
func (l *listWriter) item(i int, appendJSON func([]byte) ([]byte, error)) bool {
	if l.err != nil {
		return false
	}
	b, err := appendJSON(l.buf[:0])
	l.buf = b[:0]
	if err != nil {
		// Only data that failed validation cannot be encoded: end the
		// list here, still as valid JSON.
		l.s.log.Error("api list item not encodable", "reason", err)
		return false
	}
	if i > 0 && l.items+1+len(b) > l.s.listBytes {
		return false
	}
	if i > 0 {
		l.raw(",")
	}
	if l.err == nil {
		_, l.err = l.w.Write(b)
	}
	l.items += len(b) + 1
	return l.err == nil
}

// finish flushes the answer; an error is logged, since the status is
// already sent.
func (l *listWriter) finish(r *http.Request) error {
	if l.err == nil {
		l.err = l.w.Flush()
	}
	if l.err != nil {
		l.s.log.Warn("api write", "path", r.URL.Path, "reason", l.err)
	}
	return nil
}
