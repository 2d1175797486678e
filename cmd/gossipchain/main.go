// Command gossipchain runs a gossipchain node and talks to one.
//
//	gossipchain node [flags]                run a node
//	gossipchain wallet new|address|balance  a wallet key file and its balance
//	gossipchain send --to A --amount N      sign a transfer here, submit it to a node
//	gossipchain status|peers|chain          ask a node about itself
//	gossipchain version                     print the build's version
//
// The commands other than node are clients of a node's HTTP API. Every
// flag can also come from GOSSIPCHAIN_<FLAG> or a --config TOML file.
//
// Run "gossipchain <command> --help" for a command's flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/gologshim"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/internal/logutil"
	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/p2p"
)

func main() {
	setGCDefault(os.Getenv)
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.As(err, new(loggedError)) {
			fmt.Fprintln(os.Stderr, "gossipchain:", err)
		}
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// runNode runs a node until SIGINT or SIGTERM, then shuts it down: miner
// and network stopped, peer memory written, store closed. A second
// signal during shutdown kills the process the default way.
func runNode(cfg nodeOptions) error {
	err := serveNode(cfg)
	if cfg.LogFile == nil {
		return err
	}
	cfg.LogFile.Close()
	// The log went to a file: whoever started the node still learns on
	// stderr why it failed.
	var logged loggedError
	if errors.As(err, &logged) {
		return logged.err
	}
	return err
}

// serveNode is runNode with the log open.
func serveNode(cfg nodeOptions) error {
	// Libraries that print with the standard log package (mDNS's
	// zeroconf does) go through the node's handler too, so that
	// --log-format json stays one JSON object per line.
	slog.SetDefault(cfg.Logger)
	// go-libp2p's own loggers too, at their usual threshold (errors) or,
	// at --log-level debug, from warnings on.
	gologshim.SetDefaultHandler(logutil.MinLevel(cfg.Logger.Handler(), libp2pLevel(cfg.Logger)))
	if len(cfg.PublicCIDRs) > 0 {
		// Process-wide, before any host exists (p2p.TreatAsPublic).
		p2p.TreatAsPublic(cfg.PublicCIDRs)
		cfg.Logger.Warn("addresses treated as public", "cidrs", fmt.Sprint(cfg.PublicCIDRs))
	}
	n, err := node.New(cfg.Config)
	if err != nil {
		cfg.Logger.Error("node failed", "reason", err)
		return loggedError{err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	runErr := serve(ctx, n, cfg)
	stop()
	if runErr == nil {
		cfg.Logger.Info("shutting down", "reason", context.Cause(ctx))
	}
	closeErr := n.Close()
	stored := errors.As(runErr, new(loggedError)) // the node said why it stopped
	if runErr != nil && !stored {
		cfg.Logger.Error("node failed", "reason", runErr)
	}
	switch {
	case closeErr != nil && stored:
		// A disk that refused the store refuses peers.json too: the
		// node's one ERROR line has said what matters.
		cfg.Logger.Warn("shutdown incomplete", "reason", closeErr)
	case closeErr != nil:
		cfg.Logger.Error("shutdown failed", "reason", closeErr)
	}
	if err := errors.Join(runErr, closeErr); err != nil {
		return loggedError{err}
	}
	// Read after Close: the miner may connect one more block until then.
	tip := n.Chain().Tip()
	cfg.Logger.Info("node stopped", "height", tip.Height(), "hash", tip.Hash.Short())
	return nil
}

// serve runs the node and its HTTP API until ctx ends, then stops the
// API, giving requests in flight a few seconds.
func serve(ctx context.Context, n *node.Node, cfg nodeOptions) error {
	// The API's port is taken before the network starts, so a node whose
	// port is in use fails before it has told anyone it started.
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("http api: %w", err)
	}
	// The node's lifetime is Close's, not the signal's: on a signal the
	// API stops first, then Close stops the miner, hands its last blocks
	// to GossipSub and only then the network.
	if err := n.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return err
	}
	if cfg.Pprof != "" {
		if err := startPprof(ctx, cfg.Pprof, cfg.Logger); err != nil {
			ln.Close()
			return err
		}
	}
	// Requests (event streams above all) end with the node: on a signal,
	// or when it stopped itself over a store failure.
	apiCtx, stopAPI := context.WithCancel(ctx)
	defer stopAPI()
	h := api.New(n, api.WithContext(apiCtx), api.WithLogger(cfg.Logger), api.WithToken(cfg.APIToken),
		api.WithAllowedHosts(cfg.APIHosts...), api.WithCORSOrigins(cfg.APIOrigins...))
	srv := api.Server(cfg.APIAddr, h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	cfg.Logger.Info("http api listening", "addr", "http://"+ln.Addr().String(), "token", cfg.APIToken != "")
	var failed error
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("http api: %w", err)
	case <-n.Failed():
		// The node has logged its store failure and stopped mining and
		// the network; the API goes too, and the process exits 1.
		failed = loggedError{n.Err()}
	}
	stopAPI()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return errors.Join(failed, fmt.Errorf("http api shutdown: %w", err))
	}
	return failed
}

// newLogger builds the node's logger from --log-format and --log-level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		opts.ReplaceAttr = shortPeer
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// shortPeer prints the peer attribute of text logs short, as go-libp2p's
// ShortString does (12*W9MDBL for 12D3KooW...W9MDBL), so a line of gossip
// fits a terminal. JSON logs, the "node started" line's peer_id, and
// /peers keep the full id for whoever needs to copy it.
func shortPeer(_ []string, a slog.Attr) slog.Attr {
	if a.Key != "peer" {
		return a
	}
	var id string
	switch v := a.Value.Any().(type) {
	case peer.ID:
		id = v.String()
	case string:
		id = v
	default:
		return a
	}
	if len(id) <= 10 {
		return a
	}
	return slog.String(a.Key, id[:2]+"*"+id[len(id)-6:])
}

// libp2pLevel is the threshold for go-libp2p's records: it logs at Info
// and Warn what is routine for a node (a dial that failed, a peer that
// reset a stream), which would drown the node's own lines.
func libp2pLevel(l *slog.Logger) slog.Level {
	if l.Enabled(context.Background(), slog.LevelDebug) {
		return slog.LevelWarn
	}
	return slog.LevelError
}
