package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
)

// Node is what the API needs of a node; *node.Node satisfies it.
type Node interface {
	Chain() *chain.Chain
	Mempool() *chain.Mempool
	// SubmitTx offers a transaction the client built and signed.
	SubmitTx(ctx context.Context, tx *chain.Transaction) error
	// Send builds, signs with the node's wallet and submits a transfer.
	Send(ctx context.Context, to string, amount, fee uint64) (*chain.Transaction, error)
	MineOne(ctx context.Context) (*chain.Block, error)
	// SyncNow syncs from peers now and reports whether the tip moved.
	SyncNow(ctx context.Context) bool
	WalletAddress() string
	Status() node.Status
	Peers() []node.PeerInfo
	// NetMap is the network's shape as the node knows it; Propagation
	// when it first saw its recent blocks.
	NetMap() node.NetMap
	Propagation() []node.BlockSeen
	// AddPeer dials one peer at addrs and keeps it connected.
	AddPeer(ctx context.Context, addrs []multiaddr.Multiaddr) (peer.ID, error)
	Subscribe(size int) *node.Subscription
	Stats() node.Stats
	// Metrics gathers the network library's own metrics, served beside
	// the node's on /metrics.
	Metrics() prometheus.Gatherer
}

// maxBody bounds every request body; larger ones get 413.
const maxBody = 1 << 20

// Option configures the handler New returns.
type Option func(*server)

// WithLogger sets where internal errors are logged (discarded by default).
func WithLogger(l *slog.Logger) Option { return func(s *server) { s.log = l } }

// WithContext sets the node's context: every request's context also ends
// when it does, so a shutting-down node cancels mining and syncing that
// requests started. Default: context.Background().
func WithContext(ctx context.Context) Option {
	return func(s *server) {
		if ctx != nil {
			s.ctx = ctx
		}
	}
}

// WithToken makes the routes that change state (create-transaction,
// mine, sync-chain) require "Authorization: Bearer <token>"; reads stay
// open. An empty token requires nothing, which only a loopback listener
// should allow (the command refuses otherwise).
func WithToken(token string) Option { return func(s *server) { s.token = token } }

// server holds only immutable configuration after New; all state lives
// in the Node, which owns its own concurrency.
type server struct {
	n     Node
	log   *slog.Logger
	ctx   context.Context
	mux   *http.ServeMux
	token string
	// client fetches another node's /status for /register-node; it
	// follows no redirects.
	client     *http.Client
	eventConns *semaphore.Weighted // open /events streams
	// listAnswers counts the list answers being written (maxListAnswers),
	// listByClient those to each remote client (listClient).
	listAnswers  *semaphore.Weighted
	listMu       sync.Mutex
	listByClient map[netip.Prefix]int
	web          webConfig
	listBytes    int // maxListBytes; smaller in tests
}

// authorized reports whether r may use a state-changing route.
func (s *server) authorized(r *http.Request) bool {
	if s.token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

// New returns the HTTP handler of the API for n.
func New(n Node, opts ...Option) http.Handler {
	s := &server{
		n: n, log: slog.New(slog.DiscardHandler), ctx: context.Background(), mux: http.NewServeMux(),
		client: &http.Client{
			Timeout:       statusFetchTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		eventConns:   semaphore.NewWeighted(maxEventConns),
		listAnswers:  semaphore.NewWeighted(maxListAnswers),
		listByClient: make(map[netip.Prefix]int),
		listBytes:    maxListBytes,
	}
	for _, o := range opts {
		o(s)
	}
	s.route("/chain", s.getChain, http.MethodGet)
	s.route("/create-transaction", s.guard(s.createTransaction), http.MethodPost)
	s.route("/mine", s.guard(s.mine), http.MethodGet, http.MethodPost)
	s.route("/block/{id}", s.getBlock, http.MethodGet)
	s.route("/transaction/{id}", s.getTransaction, http.MethodGet)
	s.route("/balance/{address}", s.getBalance, http.MethodGet)
	s.route("/mempool", s.getMempool, http.MethodGet)
	s.route("/sync-chain", s.guard(s.syncChain), http.MethodGet)
	s.route("/register-node", s.guard(s.registerNode), http.MethodPost)
	s.route("/status", s.getStatus, http.MethodGet)
	s.route("/peers", s.getPeers, http.MethodGet)
	s.route("/netmap", s.getNetMap, http.MethodGet)
	s.route("/propagation", s.getPropagation, http.MethodGet)
	s.route("/events", s.events, http.MethodGet)
	s.route("/healthz", s.healthz, http.MethodGet)
	s.route("/readyz", s.readyz, http.MethodGet)
	metrics := s.metricsHandler()
	s.route("/metrics", func(w http.ResponseWriter, r *http.Request) error {
		metrics.ServeHTTP(w, r)
		return nil
	}, http.MethodGet)
	explorer := explorerHandler()
	s.route("/{$}", func(w http.ResponseWriter, r *http.Request) error {
		explorer.ServeHTTP(w, r)
		return nil
	}, http.MethodGet)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(ENOTFOUND, "no route %s", r.URL.Path))
	})
	return &handler{Handler: s.webGuard(s.mux), base: context.WithValue(s.ctx, baseKey{}, s)}
}

// Server wraps h in an http.Server for addr with timeouts, so slow or
// idle clients cannot hold connections open. WriteTimeout leaves room for
// a /mine on a hard target. For New's handler, every connection's context
// is the node's (WithContext), so its requests end with the node.
func Server(addr string, h http.Handler) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if b, ok := h.(interface {
		BaseContext(net.Listener) context.Context
	}); ok {
		srv.BaseContext = b.BaseContext
	}
	return srv
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// guard marks h as changing the node's state: it runs only for requests
// that no web page of another site made (see websafety.go) and that carry
// the API token, if one is set.
func (s *server) guard(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if why := s.crossSite(r); why != "" {
			return errorf(EFORBIDDEN, "%s changes the node's state and was sent by %s; start the node with --api-cors-origin ORIGIN to admit a page", r.URL.Path, why)
		}
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gossipchain"`)
			return errorf(EUNAUTH, "%s changes the node's state: send Authorization: Bearer <api token>", r.URL.Path)
		}
		return h(w, r)
	}
}

// route registers h for path and methods. The mux's own 405 and 404 are
// plain text, so method checks happen here to answer in JSON. Every body
// is capped at maxBody.
func (s *server) route(path string, h handlerFunc, methods ...string) {
	allow := strings.Join(methods, ", ")
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(methods, r.Method) {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, errorf(EMETHOD, "method %s not allowed on %s; use %s", r.Method, r.URL.Path, allow))
			return
		}
		if err := checkContentType(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if r.ContentLength > maxBody {
			s.writeError(w, r, errorf(ETOOLARGE, "request body is %d bytes, limit %d", r.ContentLength, maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if !s.endsWithNode(r.Context()) {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			stop := context.AfterFunc(s.ctx, cancel)
			defer stop()
			if s.ctx.Err() != nil {
				// AfterFunc cancels on a goroutine of its own even when
				// the node's context has already ended: a request that
				// came after must not start work before that goroutine
				// runs.
				cancel()
			}
			r = r.WithContext(ctx)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// baseKey marks a context derived from the node's (the value is the
// server whose node it is): an http.Server that api.Server built for
// New's handler hands every request one, as its BaseContext.
type baseKey struct{}

// endsWithNode reports whether ctx already ends when the node's context
// does: the node's never ends (context.Background, as tests and
// benchmarks give), or ctx descends from it through BaseContext.
// Otherwise route ties the request's context to the node's itself,
// which costs a request a cancel context, an AfterFunc (a registration
// under the node context's lock, from every request at once) and a
// copy of the request: 4 % of the CPU of a create-transaction in
// BenchmarkCreateTransaction (docs/benchmarks.md).
func (s *server) endsWithNode(ctx context.Context) bool {
	return s.ctx.Done() == nil || ctx.Value(baseKey{}) == s
}

// handler is what New returns: the API's routes, and the base context
// api.Server gives every connection, so that requests end with the node
// without route tying each to it.
type handler struct {
	http.Handler
	base context.Context
}

// BaseContext is http.Server's BaseContext for the API: the node's
// context, marked as such.
func (h *handler) BaseContext(net.Listener) context.Context { return h.base }

// Header values every answer shares. Assigned to the header map rather
// than Set, which allocates a slice per value and request; nothing
// appends to them in place (net/http copies the header when it writes it,
// and Header.Add on a full slice copies it first).
var (
	headerJSON     = []string{"application/json"}
	headerNoSniff  = []string{"nosniff"}
	headerSameOrig = []string{"same-origin"}
)

// writeJSON writes v with status code.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	w.Header()["Content-Type"] = headerJSON
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Warn("api write", "path", r.URL.Path, "reason", err)
	}
}

// answerBufs holds the buffers create-transaction's answers are appended
// in: about 600 bytes each, one per request in flight.
var answerBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledAnswer: a larger buffer (a mined block's answer) is left to
// the collector rather than kept for answers a hundredth its size.
const maxPooledAnswer = 4 << 10

// writeAppended writes v as writeJSON would, without reflection.
func (s *server) writeAppended(w http.ResponseWriter, r *http.Request, code int, v appender) {
	buf := answerBufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledAnswer {
			answerBufs.Put(buf)
		}
	}()
	out, err := v.appendJSON((*buf)[:0])
	*buf = out
	if err != nil {
		s.writeJSON(w, r, code, v) // which says what failed
		return
	}
	w.Header()["Content-Type"] = headerJSON
	w.WriteHeader(code)
	// The ResponseWriter copies what it is given before Write returns,
	// so the buffer goes back to the pool after.
	out = append(out, '\n')
	*buf = out
	if _, err := w.Write(out); err != nil {
		s.log.Warn("api write", "path", r.URL.Path, "reason", err)
	}
}

// writeError writes err as {"error": "..."} with the status of its code.
// A refusal that room in the pool would lift (a full pool, the sender's
// pending limit) says when to try again: a block frees room, so after
// one target block spacing (Retry-After, in whole seconds, at least 1).
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	if e.Code == EINTERNAL {
		s.log.Error("api", "path", r.URL.Path, "reason", err)
	}
	if errors.Is(err, chain.ErrMempoolFull) || errors.Is(err, chain.ErrSenderLimit) {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(s.n.Chain().Params().TargetSpacing)))
	}
	s.writeJSON(w, r, status(e.Code), map[string]string{"error": e.Message})
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// drainBody reads and discards a body the route does not use, so an
// oversized one still gets 413.
func drainBody(r *http.Request) error {
	_, err := io.Copy(io.Discard, r.Body)
	return err
}
