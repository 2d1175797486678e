package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
)

// Environment variables the client commands read when the flag is not
// given, so a shell can point every command at one node once.
const (
	envAPI      = "GOSSIPCHAIN_API"
	envAPIToken = "GOSSIPCHAIN_API_TOKEN"
	defaultAPI  = "http://127.0.0.1:5000"
	// maxChainLimit is the most blocks one GET /chain answer holds.
	maxChainLimit = 1000
)

// clientFlags are the flags shared by the commands that talk to a
// node's API, registered on a command's flag set by the add methods and
// resolved (defaults, environment, checks) by resolve.
type clientFlags struct {
	fs       *flag.FlagSet
	name     string // "gossipchain wallet balance", for messages
	api      *string
	apiToken *string
	network  *string
	wallet   *string
	json     *bool
}

func newClientFlags(name string) *clientFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// As parseNodeFlags: the error alone, with a pointer to --help.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &clientFlags{fs: fs, name: name}
}

func (c *clientFlags) addAPI() {
	c.api = c.fs.String("api", defaultAPI,
		"`URL` of the node's HTTP API (default $"+envAPI+" if set, else "+defaultAPI+")")
}

func (c *clientFlags) addAPIToken() {
	c.apiToken = c.fs.String("api-token", "",
		"`token` sent as \"Authorization: Bearer <token>\" with requests that change the node's state, "+
			"for a node run with --api-token (default $"+envAPIToken+")")
}

func (c *clientFlags) addNetwork(what string) {
	c.network = c.fs.String("network", "devnet",
		"`name` of the network: "+strings.Join(chain.NetworkNames(), ", ")+". "+what)
}

func (c *clientFlags) addWallet() {
	c.wallet = c.fs.String("wallet", "",
		"`path` of the wallet key file, the hex-encoded ed25519 seed (mode 0600) "+
			"(default ~/.gossipchain/<network>/wallet.key, the wallet of a node run on that network with the default --data-dir)")
}

func (c *clientFlags) addJSON() {
	c.json = c.fs.Bool("json", false, "print the node's JSON answer unchanged instead of a summary")
}

// parse parses args; --help prints usage and the flags on stdout and
// returns flag.ErrHelp. No positional arguments are taken.
func (c *clientFlags) parse(args []string, usage string, stdout io.Writer) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			printFlags(stdout, c.fs)
			return err
		}
		return usageError{fmt.Errorf("%s: %w (see %s --help)", strings.TrimPrefix(c.name, "gossipchain "), gnuFlagError{err}, c.name)}
	}
	if c.fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected arguments %q (see %s --help)",
			strings.TrimPrefix(c.name, "gossipchain "), c.fs.Args(), c.name)}
	}
	return nil
}

// isSet reports whether the flag name was given on the command line.
func (c *clientFlags) isSet(name string) bool {
	set := false
	c.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// clientOptions is what resolve makes of the shared flags; fields of
// flags a command does not have stay empty.
type clientOptions struct {
	API      string // checked by api.NewClient
	APIToken string
	Params   *chain.Params
	Wallet   string
	JSON     bool
}

// resolve applies the environment and the defaults that depend on other
// flags, and checks every value, so a mistake fails before anything is
// sent with the flag's name (a usage error, exit status 2).
func (c *clientFlags) resolve(getenv func(string) string) (clientOptions, error) {
	var o clientOptions
	if c.api != nil {
		o.API = *c.api
		if !c.isSet("api") && getenv(envAPI) != "" {
			o.API = getenv(envAPI)
		}
		if _, err := api.NewClient(o.API); err != nil {
			return o, usageError{fmt.Errorf("--api: %w", err)}
		}
	}
	if c.apiToken != nil {
		o.APIToken = *c.apiToken
		if !c.isSet("api-token") {
			o.APIToken = getenv(envAPIToken)
		}
	}
	if c.network != nil {
		p, err := chain.ParamsByName(*c.network)
		if err != nil {
			return o, usageError{fmt.Errorf("--network: %w", err)}
		}
		o.Params = p
	}
	if c.wallet != nil {
		o.Wallet = *c.wallet
		if o.Wallet == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return o, usageError{fmt.Errorf("no --wallet and no home directory: %w", err)}
			}
			o.Wallet = filepath.Join(home, ".gossipchain", o.Params.Name, "wallet.key")
		}
	}
	if c.json != nil {
		o.JSON = *c.json
	}
	return o, nil
}

const walletUsage = `usage: gossipchain wallet <command> [flags]

A wallet is one ed25519 key in a file; its address receives and spends.
A node keeps its own wallet as wallet.key in its data directory, so
these commands work on a node's wallet too.

commands:
  new        create a new key file (never overwrites one)
  address    print the address of the key file
  balance    ask a node for the address's balance and nonce

Run "gossipchain wallet <command> --help" for the flags of a command.
`

var walletSubUsage = map[string]string{
	"new": `usage: gossipchain wallet new [flags]

Creates a wallet key file with a fresh key and prints its address. An
existing file is never overwritten: it may be the only key to coins.

flags:
`,
	"address": `usage: gossipchain wallet address [flags]

Prints the address of the wallet key file, for others to send to.

flags:
`,
	"balance": `usage: gossipchain wallet balance [flags]

Asks a node (GET /balance/<address>) for the wallet address's balance
and nonce on the node's best chain. Pending transactions are not
counted.

flags:
`,
}

// walletOptions is one wallet command and its flags.
type walletOptions struct {
	Command string // new, address or balance
	clientOptions
}

// parseWalletFlags parses the arguments after "wallet": a command, then
// its flags.
func parseWalletFlags(args []string, getenv func(string) string, stdout io.Writer) (walletOptions, error) {
	if len(args) == 0 {
		return walletOptions{}, usageError{errors.New("wallet: no command: want new, address or balance (see gossipchain wallet --help)")}
	}
	cmd := args[0]
	usage, ok := walletSubUsage[cmd]
	switch {
	case cmd == "-h" || cmd == "-help" || cmd == "--help" || cmd == "help":
		fmt.Fprint(stdout, walletUsage)
		return walletOptions{}, flag.ErrHelp
	case !ok:
		return walletOptions{}, usageError{fmt.Errorf("wallet: unknown command %q: want new, address or balance (see gossipchain wallet --help)", cmd)}
	}
	c := newClientFlags("gossipchain wallet " + cmd)
	c.addWallet()
	c.addNetwork("It picks the default --wallet.")
	if cmd == "balance" {
		c.addAPI()
		c.addJSON()
	}
	if err := c.parse(args[1:], usage, stdout); err != nil {
		return walletOptions{}, err
	}
	o, err := c.resolve(getenv)
	return walletOptions{Command: cmd, clientOptions: o}, err
}

const sendUsage = `usage: gossipchain send --to ADDRESS --amount N [flags]

Signs a transfer from the wallet with its key, here, and submits it to a
node (POST /create-transaction), which gossips it to its peers. The key
never leaves this machine.

The nonce is the wallet's confirmed nonce plus its transactions pending
in the node's mempool, so several sends in a row queue up in order. The
signature covers the network id: send first asks the node for its
network (GET /status) and refuses if it is not --network's, since the
transfer would be worthless there. It prints the transaction id and the
block the node expects it in.

flags:
`

// sendOptions is what send does.
type sendOptions struct {
	To     string
	Amount uint64
	Fee    uint64
	clientOptions
}

func parseSendFlags(args []string, getenv func(string) string, stdout io.Writer) (sendOptions, error) {
	c := newClientFlags("gossipchain send")
	to := c.fs.String("to", "", "recipient `address` (gc and 48 hex digits; any name on the open network); required")
	amount := c.fs.Uint64("amount", 0, fmt.Sprintf("`coins` to send, 1 to %d; required", uint64(chain.MaxAmount)))
	fee := c.fs.Uint64("fee", 0, "`coins` paid on top of --amount to the miner of the block; the miner takes the highest fees first. "+
		"0 pays the node's minimum relay fee for the transfer's size (min_relay_fee in its /status)")
	c.addWallet()
	c.addNetwork("The signature is valid on this network only, and it picks the default --wallet.")
	c.addAPI()
	c.addAPIToken()
	if err := c.parse(args, sendUsage, stdout); err != nil {
		return sendOptions{}, err
	}
	o, err := c.resolve(getenv)
	if err != nil {
		return sendOptions{}, err
	}
	switch {
	case *to == "":
		return sendOptions{}, usageError{errors.New("send: --to is required (see gossipchain send --help)")}
	case !c.isSet("amount"):
		return sendOptions{}, usageError{errors.New("send: --amount is required (see gossipchain send --help)")}
	case *amount == 0 || *amount > chain.MaxAmount:
		return sendOptions{}, usageError{fmt.Errorf("--amount %d: want 1 to %d", *amount, uint64(chain.MaxAmount))}
	case *fee > chain.MaxAmount-*amount:
		return sendOptions{}, usageError{fmt.Errorf("--amount %d plus --fee %d: want at most %d together", *amount, *fee, uint64(chain.MaxAmount))}
	case o.Params.Signed && !chain.ValidAddress(*to):
		return sendOptions{}, usageError{fmt.Errorf("--to %q is not an address of %s: want gc and 48 lowercase hex digits with a valid checksum", *to, o.Params.Name)}
	case len(*to) > chain.MaxNameLen:
		return sendOptions{}, usageError{fmt.Errorf("--to is %d bytes: want at most %d", len(*to), chain.MaxNameLen)}
	}
	return sendOptions{To: *to, Amount: *amount, Fee: *fee, clientOptions: o}, nil
}

var queryUsage = map[string]string{
	"status": `usage: gossipchain status [flags]

Asks a node for its summary (GET /status): peer ID, addresses, network,
height, tip, peers, mempool and wallet.

flags:
`,
	"peers": `usage: gossipchain peers [flags]

Lists the peers a node is connected to (GET /peers): peer ID, how it
was found (mdns, bootstrap, register, remembered, inbound, outbound)
and the address of the connection.

flags:
`,
	"chain": `usage: gossipchain chain [flags]

Lists a node's main chain (GET /chain), one line per block: height,
hash prefix, transaction count and time (UTC). Without --from, the last
--limit blocks.

flags:
`,
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
	c := newClientFlags("gossipchain " + cmd)
	c.addAPI()
	c.addJSON()
	var from, limit *uint64
	if cmd == "chain" {
		from = c.fs.Uint64("from", 0, "first block `height` to list (default: the last --limit blocks)")
		limit = c.fs.Uint64("limit", 20, fmt.Sprintf("most `blocks` to list, 1 to %d (what the node sends at once)", maxChainLimit))
	}
	if err := c.parse(args, queryUsage[cmd], stdout); err != nil {
		return queryOptions{}, err
	}
	o, err := c.resolve(getenv)
	if err != nil {
		return queryOptions{}, err
	}
	q := queryOptions{Command: cmd, clientOptions: o}
	if cmd == "chain" {
		if *limit < 1 || *limit > maxChainLimit {
			return queryOptions{}, usageError{fmt.Errorf("--limit %d: want 1 to %d", *limit, maxChainLimit)}
		}
		q.From, q.FromSet, q.Limit = *from, c.isSet("from"), *limit
	}
	return q, nil
}
