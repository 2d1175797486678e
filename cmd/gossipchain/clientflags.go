package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
)

// The environment variables of --api and --api-token (envName's), named
// here since they were the only ones before every flag had one: a shell
// points every command at one node once.
const (
	envAPI      = "GOSSIPCHAIN_API"
	envAPIToken = "GOSSIPCHAIN_API_TOKEN"
	defaultAPI  = "http://127.0.0.1:5000"
	// maxChainLimit is the most blocks one GET /chain answer holds.
	maxChainLimit = 1000
)

func apiFlag() cli.Flag {
	return &cli.StringFlag{Name: "api", Value: defaultAPI, Usage: "`URL` of the node's HTTP API"}
}

func apiTokenFlag() cli.Flag {
	return &cli.StringFlag{Name: "api-token",
		Usage: "`token` sent as \"Authorization: Bearer <token>\" with requests that change the node's state, " +
			"for a node run with --api-token"}
}

func networkFlag(what string) cli.Flag {
	return &cli.StringFlag{Name: "network", Value: "devnet",
		Usage: "`name` of the network: " + strings.Join(chain.NetworkNames(), ", ") + ". " + what}
}

func walletFlag() cli.Flag {
	return &cli.StringFlag{Name: "wallet",
		Usage: "`path` of the wallet key file, the hex-encoded ed25519 seed (mode 0600) " +
			"(default ~/.gossipchain/<network>/wallet.key, the wallet of a node run on that network with the default --data-dir)"}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the node's JSON answer unchanged instead of a summary"}
}

// clientOptions is what resolveClient makes of the shared flags; fields
// of flags a command does not have stay empty.
type clientOptions struct {
	API      string // checked by api.NewClient
	APIToken string
	Params   *chain.Params
	Wallet   string
	JSON     bool
}

// has reports whether cmd has the flag name.
func has(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		if f.Names()[0] == name {
			return true
		}
	}
	return false
}

// resolveClient applies the defaults that depend on other flags and
// checks every value, so a mistake fails before anything is sent with
// the flag's name (a usage error, exit status 2).
func resolveClient(cmd *cli.Command) (clientOptions, error) {
	var o clientOptions
	if has(cmd, "api") {
		o.API = cmd.String("api")
		if _, err := api.NewClient(o.API); err != nil {
			return o, usageError{fmt.Errorf("--api: %w", err)}
		}
	}
	o.APIToken = cmd.String("api-token")
	if has(cmd, "network") {
		p, err := chain.ParamsByName(cmd.String("network"))
		if err != nil {
			return o, usageError{fmt.Errorf("--network: %w", err)}
		}
		o.Params = p
	}
	if has(cmd, "wallet") {
		o.Wallet = cmd.String("wallet")
		if o.Wallet == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return o, usageError{fmt.Errorf("no --wallet and no home directory: %w", err)}
			}
			o.Wallet = filepath.Join(home, ".gossipchain", o.Params.Name, "wallet.key")
		}
	}
	o.JSON = cmd.Bool("json")
	return o, nil
}

// walletOptions is one wallet command and its flags.
type walletOptions struct {
	Command string // new, address or balance
	clientOptions
}

// parseWalletFlags parses the arguments after "wallet": a command, then
// its flags. --help returns flag.ErrHelp.
func parseWalletFlags(args []string, getenv func(string) string, stdout io.Writer) (walletOptions, error) {
	var o walletOptions
	err := newApp(getenv, stdout, io.Discard, actions{wallet: func(_ context.Context, got walletOptions) error {
		o = got
		return nil
	}}).run(append([]string{"wallet"}, args...))
	return o, err
}

func (a *app) walletCommand(do func(context.Context, walletOptions) error) *cli.Command {
	sub := func(name, short, description string, flags ...cli.Flag) *cli.Command {
		flags = append([]cli.Flag{walletFlag(), networkFlag("It picks the default --wallet.")}, flags...)
		return a.command(name, "gossipchain wallet "+name+" [flags]", short, description, flags,
			func(ctx context.Context, cmd *cli.Command) error {
				o, err := resolveClient(cmd)
				if err != nil {
					return err
				}
				return do(ctx, walletOptions{Command: name, clientOptions: o})
			})
	}
	return &cli.Command{
		Name:  "wallet",
		Usage: "a wallet key file and its balance",
		Description: `A wallet is one ed25519 key in a file; its address receives and spends.
A node keeps its own wallet as wallet.key in its data directory, so
these commands work on a node's wallet too.`,
		Commands: []*cli.Command{
			sub("new", "create a new key file (never overwrites one)", `
Creates a wallet key file with a fresh key and prints its address. An
existing file is never overwritten: it may be the only key to coins.`),
			sub("address", "print the address of the key file", `
Prints the address of the wallet key file, for others to send to.`),
			sub("balance", "ask a node for the address's balance and nonce", `
Asks a node (GET /balance/<address>) for the wallet address's balance
and nonce on the node's best chain. Pending transactions are not
counted.`, apiFlag(), jsonFlag()),
		},
		// Reached only without a known command.
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Present() {
				return usageError{fmt.Errorf("wallet: unknown command %q: want new, address or balance (see gossipchain wallet --help)", cmd.Args().First())}
			}
			return usageError{errors.New("wallet: no command: want new, address or balance (see gossipchain wallet --help)")}
		},
	}
}

const sendDescription = `
Signs a transfer from the wallet with its key, here, and submits it to a
node (POST /create-transaction), which gossips it to its peers. The key
never leaves this machine.

The nonce is the wallet's confirmed nonce plus its transactions pending
in the node's mempool, so several sends in a row queue up in order. The
signature covers the network id: send first asks the node for its
network (GET /status) and refuses if it is not --network's, since the
transfer would be worthless there. It prints the transaction id and the
block the node expects it in.`

// sendOptions is what send does.
type sendOptions struct {
	To     string
	Amount uint64
	Fee    uint64
	clientOptions
}

func parseSendFlags(args []string, getenv func(string) string, stdout io.Writer) (sendOptions, error) {
	var o sendOptions
	err := newApp(getenv, stdout, io.Discard, actions{send: func(_ context.Context, got sendOptions) error {
		o = got
		return nil
	}}).run(append([]string{"send"}, args...))
	return o, err
}

func (a *app) sendCommand(do func(context.Context, sendOptions) error) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "to", Usage: "recipient `address` (gc and 48 hex digits; any name on the open network); required"},
		&cli.Uint64Flag{Name: "amount", Usage: fmt.Sprintf("`coins` to send, 1 to %d; required", uint64(chain.MaxAmount))},
		&cli.Uint64Flag{Name: "fee", Usage: "`coins` paid on top of --amount to the miner of the block; the miner takes the best-paying first (on signed networks a transfer lifts the wallet's cheaper ones before it). " +
			"0 pays the node's minimum relay fee for the transfer's size (min_relay_fee in its /status)"},
		walletFlag(),
		networkFlag("The signature is valid on this network only, and it picks the default --wallet."),
		apiFlag(),
		apiTokenFlag(),
	}
	return a.command("send", "gossipchain send --to ADDRESS --amount N [flags]",
		"sign a transfer with the wallet here and submit it to a node", sendDescription, flags,
		func(ctx context.Context, cmd *cli.Command) error {
			o, err := resolveClient(cmd)
			if err != nil {
				return err
			}
			to, amount, fee := cmd.String("to"), cmd.Uint64("amount"), cmd.Uint64("fee")
			switch {
			case to == "":
				return usageError{errors.New("send: --to is required (see gossipchain send --help)")}
			case !cmd.IsSet("amount"):
				return usageError{errors.New("send: --amount is required (see gossipchain send --help)")}
			case amount == 0 || amount > chain.MaxAmount:
				return usageError{fmt.Errorf("--amount %d: want 1 to %d", amount, uint64(chain.MaxAmount))}
			case fee > chain.MaxAmount-amount:
				return usageError{fmt.Errorf("--amount %d plus --fee %d: want at most %d together", amount, fee, uint64(chain.MaxAmount))}
			case o.Params.Signed && !chain.ValidAddress(to):
				return usageError{fmt.Errorf("--to %q is not an address of %s: want gc and 48 lowercase hex digits with a valid checksum", to, o.Params.Name)}
			case len(to) > chain.MaxNameLen:
				return usageError{fmt.Errorf("--to is %d bytes: want at most %d", len(to), chain.MaxNameLen)}
			}
			return do(ctx, sendOptions{To: to, Amount: amount, Fee: fee, clientOptions: o})
		})
}

var queryHelp = map[string][2]string{
	"status": {"ask a node for its peer ID, addresses, network, height and tip", `
Asks a node for its summary (GET /status): peer ID, addresses, network,
height, tip, peers, mempool and wallet.`},
	"peers": {"list the peers a node is connected to", `
Lists the peers a node is connected to (GET /peers): peer ID, how it
was found (mdns, bootstrap, register, remembered, inbound, outbound)
and the address of the connection.`},
	"chain": {"list a node's blocks, one line each", `
Lists a node's main chain (GET /chain), one line per block: height,
hash prefix, transaction count and time (UTC). Without --from, the last
--limit blocks.`},
}

// queryOptions is one of the read-only commands status, peers, chain.
type queryOptions struct {
	Command string
	From    uint64
	FromSet bool // false: the last Limit blocks
	Limit   uint64
	clientOptions
}

func parseQueryFlags(cmd string, args []string, getenv func(string) string, stdout io.Writer) (queryOptions, error) {
	var o queryOptions
	err := newApp(getenv, stdout, io.Discard, actions{query: func(_ context.Context, got queryOptions) error {
		o = got
		return nil
	}}).run(append([]string{cmd}, args...))
	return o, err
}

func (a *app) queryCommand(name string, do func(context.Context, queryOptions) error) *cli.Command {
	flags := []cli.Flag{apiFlag(), jsonFlag()}
	if name == "chain" {
		flags = append(flags,
			&cli.Uint64Flag{Name: "from", Usage: "first block `height` to list (default: the last --limit blocks)"},
			&cli.Uint64Flag{Name: "limit", Value: 20, Usage: fmt.Sprintf("most `blocks` to list, 1 to %d (what the node sends at once)", maxChainLimit)})
	}
	return a.command(name, "gossipchain "+name+" [flags]", queryHelp[name][0], queryHelp[name][1], flags,
		func(ctx context.Context, cmd *cli.Command) error {
			o, err := resolveClient(cmd)
			if err != nil {
				return err
			}
			q := queryOptions{Command: name, clientOptions: o}
			if name == "chain" {
				limit := cmd.Uint64("limit")
				if limit < 1 || limit > maxChainLimit {
					return usageError{fmt.Errorf("--limit %d: want 1 to %d", limit, maxChainLimit)}
				}
				q.From, q.FromSet, q.Limit = cmd.Uint64("from"), cmd.IsSet("from"), limit
			}
			return do(ctx, q)
		})
}
