package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"
)

const usage = `usage: gossipchain <command> [flags]

commands:
  node              run a node: keep the chain in the data directory, mine with --mine
  wallet new        create a wallet key file (never overwrites one)
  wallet address    print the address of a wallet key file
  wallet balance    ask a node for the wallet's balance and nonce
  send              sign a transfer with the wallet here and submit it to a node
  status            ask a node for its peer ID, addresses, network, height and tip
  peers             list the peers a node is connected to
  chain             list a node's blocks, one line each
  testnet           run a network of nodes in this process under load and faults, and report
  version           print the version, the commit and the Go version of this binary
  completion SHELL  print a completion script for bash, zsh, fish or pwsh

All commands but node and testnet talk to a node's HTTP API, given by --api URL
(default $GOSSIPCHAIN_API if set, else http://127.0.0.1:5000).

Every flag can also be set by the environment variable GOSSIPCHAIN_<FLAG>
(GOSSIPCHAIN_DATA_DIR for --data-dir) or by a TOML file given with
--config FILE (data-dir = "/srv/chain"); a flag beats the environment,
which beats the file.

Run "gossipchain <command> --help" for the flags of a command.
`

// commandHelp is the help of every command that has flags: its usage
// line, what it does, then its flags with their defaults and variables.
const commandHelp = `usage: {{.UsageText}}
{{if .Description}}
{{.Description}}
{{end}}
flags:{{range .VisibleFlags}}
   {{wrap .String 6}}{{end}}
`

// usageError is a mistake on the command line (exit status 2), as
// opposed to a node that failed while running (exit status 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// loggedError is an error the node's logger has already reported, in
// the format the operator chose; main does not print it again.
type loggedError struct{ err error }

func (e loggedError) Error() string { return e.err.Error() }
func (e loggedError) Unwrap() error { return e.err }

// actions are what the commands do with their checked options; tests
// replace them to see what a command line resolves to.
type actions struct {
	node    func(nodeOptions) error
	testnet func(testnetOptions) error
	wallet  func(context.Context, walletOptions) error
	send    func(context.Context, sendOptions) error
	query   func(context.Context, queryOptions) error
}

// app is the gossipchain command tree for one run.
type app struct {
	root   *cli.Command
	getenv func(string) string
	known  map[string]bool // every flag name of every command: the keys a config file may have
	acted  bool            // a command's action ran (not help, version or a parse error)
}

func newApp(getenv func(string) string, stdout, stderr io.Writer, do actions) *app {
	a := &app{getenv: getenv, known: map[string]bool{}}
	a.root = &cli.Command{
		Name:                          "gossipchain",
		Usage:                         "run a gossipchain node and talk to one",
		CustomRootCommandHelpTemplate: usage,
		Writer:                        stdout,
		ErrWriter:                     stderr,
		HideVersion:                   true, // the version flag below prints the build info instead
		EnableShellCompletion:         true,
		// main prints the error and picks the exit status; the library
		// would exit on its own errors.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Flags:          []cli.Flag{&cli.BoolFlag{Name: "version", Usage: "print the version and exit", Local: true}},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.Bool("version") {
				a.acted = true
				return printVersion(stdout)
			}
			fmt.Fprint(stderr, usage)
			if cmd.Args().Present() {
				return usageError{fmt.Errorf("unknown command %q", cmd.Args().First())}
			}
			return usageError{errors.New("no command")}
		},
		Commands: []*cli.Command{
			a.nodeCommand(stderr, do.node),
			a.walletCommand(do.wallet),
			a.sendCommand(do.send),
			a.queryCommand("status", do.query),
			a.queryCommand("peers", do.query),
			a.queryCommand("chain", do.query),
			a.testnetCommand(do.testnet),
			{
				Name:  "version",
				Usage: "print the version, the commit and the Go version of this binary",
				Action: func(context.Context, *cli.Command) error {
					a.acted = true
					return printVersion(stdout)
				},
			},
		},
	}
	// Config keys are checked against every command's flags, so one file
	// can serve a node and the clients that talk to it.
	a.root.Walk(func(c *cli.Command) error {
		c.OnUsageError = onUsageError
		for _, f := range c.Flags {
			if n := f.Names()[0]; n != "config" && n != "version" {
				a.known[n] = true
			}
		}
		return nil
	})
	return a
}

// run runs the command line args (without the program name). Mistakes
// found before a command's action are usage errors; help, version and
// completion return flag.ErrHelp.
func (a *app) run(args []string) error {
	err := a.root.Run(context.Background(), append([]string{"gossipchain"}, args...))
	switch {
	case err != nil && !a.acted && !errors.As(err, new(usageError)):
		return usageError{err}
	case err == nil && !a.acted:
		return flag.ErrHelp
	}
	return err
}

// onUsageError names the command and points at its help. The parser
// names every flag with one dash; the help and the README use two for
// long names.
func onUsageError(_ context.Context, cmd *cli.Command, err error, _ bool) error {
	msg := err.Error()
	for _, p := range []string{"for flag -", "not defined: -"} {
		if i := strings.Index(msg, p); i >= 0 {
			rest := msg[i+len(p):]
			if end := strings.IndexAny(rest, ": "); end != 1 && !(end < 0 && len(rest) == 1) {
				msg = msg[:i+len(p)] + "-" + rest
			}
		}
	}
	name := cmd.FullName()
	if cmd.Root() == cmd { // main names the program already
		return usageError{fmt.Errorf("%w (see %s --help)", messageError{msg, err}, name)}
	}
	return usageError{fmt.Errorf("%s: %w (see %s --help)", strings.TrimPrefix(name, "gossipchain "), messageError{msg, err}, name)}
}

// messageError is err with a reworded message.
type messageError struct {
	msg string
	err error
}

func (e messageError) Error() string { return e.msg }
func (e messageError) Unwrap() error { return e.err }

// command is a leaf command: its flags read the environment and the
// config file, and its action checks that no positional argument is left.
func (a *app) command(name, usageLine, short, description string, flags []cli.Flag, action func(context.Context, *cli.Command) error) *cli.Command {
	cfg := &configFile{known: a.known}
	flags = append([]cli.Flag{&cli.StringFlag{
		Name:        "config",
		Usage:       "TOML `file` of flag values (data-dir = \"/srv/chain\"), used for the flags given neither on the command line nor in the environment",
		Destination: &cfg.path,
		Sources:     cli.NewValueSourceChain(envSource{"config", a.getenv}),
	}}, flags...)
	for _, f := range flags[1:] {
		setSources(f, cli.NewValueSourceChain(envSource{f.Names()[0], a.getenv}, fileSource{f.Names()[0], cfg}))
	}
	return &cli.Command{
		Name:               name,
		Usage:              short,
		UsageText:          usageLine,
		Description:        strings.TrimSpace(description),
		CustomHelpTemplate: commandHelp,
		Flags:              flags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := cfg.load(); err != nil {
				return err
			}
			if cmd.Args().Present() {
				n := cmd.FullName()
				return usageError{fmt.Errorf("%s: unexpected arguments %q (see %s --help)",
					strings.TrimPrefix(n, "gossipchain "), cmd.Args().Slice(), n)}
			}
			a.acted = true
			return action(ctx, cmd)
		},
	}
}

// envName is the environment variable of a flag: GOSSIPCHAIN_DATA_DIR
// for --data-dir.
func envName(flag string) string {
	return "GOSSIPCHAIN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envSource is a flag's environment variable. An empty one counts as
// unset, as GOSSIPCHAIN_API always has: an exported but empty variable
// should not override the default with nothing.
type envSource struct {
	flag   string
	getenv func(string) string
}

func (s envSource) Lookup() (string, bool) {
	v := s.getenv(envName(s.flag))
	return v, v != ""
}
func (s envSource) String() string   { return "environment variable " + envName(s.flag) }
func (s envSource) GoString() string { return "envSource(" + envName(s.flag) + ")" }
func (s envSource) IsFromEnv() bool  { return true }
func (s envSource) Key() string      { return envName(s.flag) }

// setSources gives a flag its sources. The flag types are those the
// commands use.
func setSources(f cli.Flag, s cli.ValueSourceChain) {
	switch f := f.(type) {
	case *cli.StringFlag:
		f.Sources = s
	case *cli.BoolFlag:
		f.Sources = s
	case *cli.IntFlag:
		f.Sources = s
	case *cli.Uint64Flag:
		f.Sources = s
	case *cli.Float64Flag:
		f.Sources = s
	case *cli.DurationFlag:
		f.Sources = s
	case *cli.StringSliceFlag:
		f.Sources = s
	default:
		panic(fmt.Sprintf("setSources: flag type %T", f))
	}
}

// helpWidth is where --help wraps a flag's text: the library's default
// is not to wrap, and the texts are written to be read on a terminal.
const helpWidth = 100

func init() {
	// urfave/cli's hooks for help are package variables. Two changes,
	// the same for every command: each flag's text goes on the lines
	// under its name (GNU style; the library puts it beside the name,
	// in a column as wide as the longest name), and wraps at helpWidth.
	stringify := cli.FlagStringer
	cli.FlagStringer = func(f cli.Flag) string { return strings.Replace(stringify(f), "\t", "\n", 1) }
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		cli.HelpPrinterCustom(w, templ, data, map[string]any{"wrapAt": func() int { return helpWidth }})
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	return runWith(args, os.Getenv, stdout, stderr)
}

// runWith is the whole command: args without the program name, help on
// stdout, logs and errors on stderr.
func runWith(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	do := actions{
		node:    func(o nodeOptions) error { return runNode(o) },
		testnet: func(o testnetOptions) error { return runTestnet(o, stdout, stderr) },
		wallet: func(ctx context.Context, o walletOptions) error {
			return interruptible(ctx, func(ctx context.Context) error { return runWallet(ctx, o, stdout) })
		},
		send: func(ctx context.Context, o sendOptions) error {
			return interruptible(ctx, func(ctx context.Context) error { return runSend(ctx, o, stdout) })
		},
		query: func(ctx context.Context, o queryOptions) error {
			return interruptible(ctx, func(ctx context.Context) error { return runQuery(ctx, o, stdout) })
		},
	}
	err := newApp(getenv, stdout, stderr, do).run(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// interruptible runs a client command whose request in flight Ctrl-C
// cancels.
func interruptible(ctx context.Context, f func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return f(ctx)
}
