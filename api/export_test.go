package api

// WithMaxListBytes lowers the byte bound of list answers, so tests page
// through small blocks.
func WithMaxListBytes(n int) Option { return func(s *server) { s.listBytes = n } }

// MaxListBytes is the byte bound of list answers.
const MaxListBytes = maxListBytes
