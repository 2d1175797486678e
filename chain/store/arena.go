package store

// arena hands out the small keys and values of one Apply from a few large
// buffers instead of one allocation each. A block of 1,000 transfers puts
// about 2,000 keys (its accounts and its transaction index), and each key
// and value was an allocation of its own for the garbage collector to
// trace and free; the collector was about as much of a sync's CPU as the
// commit itself (docs/benchmarks.md).
//
// Every slice the arena returns is capped at its own end, so appending to
// one can never write into the next. The arena never reuses a buffer:
// bbolt keeps a put's value (not its key) until the transaction ends, and
// a buffer outgrown is left to those who hold slices of it.
type arena struct {
	buf []byte
}

// newArena returns an arena whose first buffer holds size bytes.
func newArena(size int) *arena {
	return &arena{buf: make([]byte, 0, size)}
}

// mark returns where the next slice begins, with room for n bytes after
// it: append at most n bytes to a.buf, then call cut with the mark. When
// the buffer lacks the room the arena starts a new one, as large as the
// last, rather than let append copy everything handed out so far.
func (a *arena) mark(n int) int {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(cap(a.buf), n, 256))
	}
	return len(a.buf)
}

// cut returns what was appended since start, capped at its end.
func (a *arena) cut(start int) []byte {
	n := len(a.buf)
	return a.buf[start:n:n]
}
