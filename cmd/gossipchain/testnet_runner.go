package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// runner is the testnet.TB the command drives a Net with: temporary
// directories under one base, cleanups run at the end, and Fatal ending
// the run by a panic that run recovers.
type runner struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	stderr io.Writer
	nodes  bool // show the nodes' log lines
	base   string

	mu       sync.Mutex
	cleanups []func()
}

// runFatal is what runner.Fatal panics with.
type runFatal struct{ msg string }

func newRunner(ctx context.Context, stderr io.Writer, verbose bool) (*runner, error) {
	base, err := os.MkdirTemp("", "gossipchain-testnet-")
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	return &runner{ctx: ctx, cancel: cancel, base: base, nodes: verbose, stderr: stderr,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}, nil
}

func (r *runner) Helper()                           {}
func (r *runner) Fatal(args ...any)                 { panic(runFatal{fmt.Sprint(args...)}) }
func (r *runner) Fatalf(format string, args ...any) { panic(runFatal{fmt.Sprintf(format, args...)}) }
func (r *runner) Errorf(format string, args ...any) { r.log.Error(fmt.Sprintf(format, args...)) }
func (r *runner) Context() context.Context          { return r.ctx }

// Log and Logf carry the harness's notes and, with --verbose, the
// nodes' own lines (which the harness formats already).
func (r *runner) Log(args ...any) { r.Logf("%s", fmt.Sprint(args...)) }
func (r *runner) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(msg, "testnet: ") {
		r.log.Info(strings.TrimPrefix(msg, "testnet: "))
	} else if r.nodes {
		fmt.Fprintln(r.stderr, msg)
	}
}

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp(r.base, "node-")
	if err != nil {
		r.Fatalf("testnet: %v", err)
	}
	return dir
}

func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// run calls f, turns a Fatal into an error, then ends the context, runs
// the cleanups last first and removes the directories.
func (r *runner) run(f func()) (err error) {
	defer func() {
		r.cancel()
		r.mu.Lock()
		cs := r.cleanups
		r.mu.Unlock()
		for i := len(cs) - 1; i >= 0; i-- {
			cs[i]()
		}
		if rmErr := os.RemoveAll(r.base); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("testnet: %w", rmErr))
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(runFatal)
			if !ok {
				panic(p)
			}
			err = errors.New(f.msg)
		}
	}()
	f()
	return nil
}
