// Command gossipchain runs a gossipchain node and talks to one.
//
//	gossipchain node [flags]    run a node
//
// Run "gossipchain <command> --help" for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gossipchain:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: gossipchain <command> [flags]

commands:
  node    run a node: keep the chain in the data directory, mine with --mine

Run "gossipchain <command> --help" for the flags of a command.
`

func run(args []string, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "node":
		return runNode(args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runNode(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gossipchain node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	network := fs.String("network", "devnet", "network to join: "+strings.Join(chain.NetworkNames(), ", "))
	dataDir := fs.String("data-dir", "", "data directory (default ~/.gossipchain/<network>)")
	mine := fs.Bool("mine", false, "mine continuously")
	threads := fs.Int("miner-threads", 1, "goroutines searching for proof of work")
	minerAddr := fs.String("miner-address", "", "address paid by mined blocks (default: this node's wallet)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	p, err := chain.ParamsByName(*network)
	if err != nil {
		return err
	}
	dir := *dataDir
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("no --data-dir and no home directory: %w", err)
		}
		dir = filepath.Join(home, ".gossipchain", p.Name)
	}
	n, err := node.New(node.Config{
		Params:       p,
		DataDir:      dir,
		Mine:         *mine,
		MinerThreads: *threads,
		MinerAddress: *minerAddr,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	defer n.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = n.Run(ctx)
	log.Info("node stopped", "height", n.Chain().Tip().Height())
	return err
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
