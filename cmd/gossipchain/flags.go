package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/p2p"
)

const nodeUsage = `usage: gossipchain node [flags]

Runs a node: opens (or creates) the data directory, joins the network's
peers and keeps the chain in step with theirs, mining with --mine. It
logs one line per event to stderr and stops cleanly on SIGINT (Ctrl-C)
or SIGTERM.

Several nodes on one machine each need their own --data-dir and --listen.

flags:
`

// nodeOptions is what the node command runs: the node's configuration
// and where its HTTP API listens.
type nodeOptions struct {
	node.Config
	APIAddr  string // host:port of the HTTP API
	APIToken string // required by state-changing routes when set
	// APIHosts and APIOrigins are the Host names and the web origins the
	// API admits besides its own (see api.WithAllowedHosts).
	APIHosts   []string
	APIOrigins []string
	// Pprof is the loopback host:port of net/http/pprof; empty for none.
	Pprof string
}

// parseNodeFlags turns the node command's arguments into nodeOptions,
// logger included. Every flag is checked here, so a typo fails at once
// with the flag's name, not later inside the node. --help prints the
// help on stdout and returns flag.ErrHelp.
func parseNodeFlags(args []string, stdout, stderr io.Writer) (nodeOptions, error) {
	fs := flag.NewFlagSet("gossipchain node", flag.ContinueOnError)
	// The flag package would print the whole help after every mistake;
	// the error alone, with a pointer to --help, is easier to read.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	network := fs.String("network", "devnet",
		"`name` of the network to join: "+strings.Join(chain.NetworkNames(), ", ")+
			". The network is its genesis block; nodes of different networks never connect.")
	dataDir := fs.String("data-dir", "",
		"`directory` for the chain database, the node key (the stable peer ID) and the wallet key; created if missing (default ~/.gossipchain/<network>)")
	listen := &addrList{def: p2p.DefaultListenAddrs()}
	fs.Var(listen, "listen",
		"`multiaddr` to accept peers on; repeatable. The first --listen replaces the default, "+
			"TCP and QUIC on port "+fmt.Sprint(p2p.DefaultPort)+" of every IPv4 interface. "+
			"Port 0 picks a free port; the node logs each full address as \"listening\".")
	bootstrap := &addrList{needPeerID: true}
	fs.Var(bootstrap, "bootstrap",
		"full `multiaddr` of a peer to dial at start and keep connected, ending in /p2p/<peer id> "+
			"(the \"listening\" lines of that node print it); repeatable")
	noMDNS := fs.Bool("no-mdns", false,
		"turn off mDNS discovery of nodes on the local network. mDNS is on by default: the node "+
			"multicasts its addresses on UDP port 5353 of every multicast-capable interface, whatever --listen says, "+
			"and dials the nodes of the same network it hears of. Use --no-mdns with --bootstrap where "+
			"multicast must not go.")
	mine := fs.Bool("mine", false, "mine continuously on the best chain; blocks pay --miner-address")
	threads := fs.Int("miner-threads", 1, "`number` of goroutines searching for proof of work")
	minerAddr := fs.String("miner-address", "", "`address` paid by mined blocks (default: this node's wallet)")
	minRelayFee := fs.Uint64("min-relay-fee", uint64(chain.DefaultMinRelayFee),
		"least fee the mempool takes, in `coins` per 1,000 bytes of a transaction's encoding, rounded up per transaction "+
			"(a signed transfer is 225 bytes: at 1 it pays at least 1 coin); lower fees are refused (HTTP 400, not relayed). "+
			"Transfers the node signs without a fee pay this minimum. Signed networks only: the open network takes fee 0")
	logFormat := fs.String("log-format", "text", "log `format`: text for a terminal, json for one JSON object per line")
	logLevel := fs.String("log-level", "info", "least `level` logged: debug, info, warn or error")
	apiHost := fs.String("host", "127.0.0.1", "`address` the HTTP API listens on; anything but loopback needs --api-token")
	fs.StringVar(apiHost, "H", "127.0.0.1", "same as --host `address`")
	apiPort := fs.Int("port", 5000, "TCP `port` of the HTTP API, as the classic teaching chain's app")
	fs.IntVar(apiPort, "p", 5000, "same as --port `port`")
	apiToken := fs.String("api-token", "", "`token` that the routes changing state (create-transaction, mine, register-node, sync-chain) require as \"Authorization: Bearer <token>\"; reads stay open")
	pprofAddr := fs.String("pprof", "", "loopback `host:port` to serve Go's profiler on (net/http/pprof at /debug/pprof/); off by default. "+
		"Only loopback addresses are accepted: profiles show the node's internals")
	apiHosts := &stringList{check: checkAllowHost}
	fs.Var(apiHosts, "api-allow-host",
		"host `name` the HTTP API also answers to (as the Host header gives it: node.lan, or node.lan:5000 for one port); repeatable. "+
			"It answers to 127.0.0.1, localhost and [::1] on its port and to its own address; any other name is refused, "+
			"so a web page cannot reach it by DNS rebinding. '*' admits every name: dangerous, only behind a proxy that checks Host")
	apiOrigins := &stringList{check: checkOrigin}
	fs.Var(apiOrigins, "api-cors-origin",
		"web `origin` (https://wallet.example) whose pages may read the API and change state (with --api-token when set); repeatable. "+
			"Pages of other sites cannot change state, and their reads get no CORS headers")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, nodeUsage)
			printFlags(stdout, fs)
			return nodeOptions{}, err
		}
		return nodeOptions{}, usageError{fmt.Errorf("node: %w (see gossipchain node --help)", gnuFlagError{err})}
	}
	if fs.NArg() > 0 {
		return nodeOptions{}, usageError{fmt.Errorf("node: unexpected arguments %q (see gossipchain node --help)", fs.Args())}
	}
	p, err := chain.ParamsByName(*network)
	if err != nil {
		return nodeOptions{}, usageError{fmt.Errorf("--network: %w", err)}
	}
	if *threads < 1 {
		return nodeOptions{}, usageError{fmt.Errorf("--miner-threads %d: want at least 1", *threads)}
	}
	if *minRelayFee > chain.MaxAmount {
		return nodeOptions{}, usageError{fmt.Errorf("--min-relay-fee %d: want at most %d", *minRelayFee, uint64(chain.MaxAmount))}
	}
	minFee := chain.FeeRate(*minRelayFee)
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return nodeOptions{}, usageError{err}
	}
	dir := *dataDir
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nodeOptions{}, usageError{fmt.Errorf("no --data-dir and no home directory: %w", err)}
		}
		dir = filepath.Join(home, ".gossipchain", p.Name)
	}
	if *apiPort < 0 || *apiPort > 65535 {
		return nodeOptions{}, usageError{fmt.Errorf("--port %d: want 0 to 65535", *apiPort)}
	}
	if !isLoopback(*apiHost) && *apiToken == "" {
		return nodeOptions{}, usageError{fmt.Errorf("--host %s is not loopback: anyone who reaches it could mine and send from this node's wallet; set --api-token", *apiHost)}
	}
	if *pprofAddr != "" {
		h, p, err := net.SplitHostPort(*pprofAddr)
		if err != nil || !isLoopback(h) {
			return nodeOptions{}, usageError{fmt.Errorf("--pprof %q: want a loopback host:port such as 127.0.0.1:6060", *pprofAddr)}
		}
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			return nodeOptions{}, usageError{fmt.Errorf("--pprof %q: the port must be 0 to 65535", *pprofAddr)}
		}
	}
	hosts := apiHosts.set
	if net.ParseIP(*apiHost) == nil {
		hosts = append([]string{*apiHost}, hosts...) // -H node.lan: that name is the API's own
	}
	return nodeOptions{APIAddr: net.JoinHostPort(*apiHost, strconv.Itoa(*apiPort)), APIToken: *apiToken,
		APIHosts: hosts, APIOrigins: apiOrigins.set, Pprof: *pprofAddr, Config: node.Config{
			Params:       p,
			DataDir:      dir,
			Listen:       listen.values(),
			Bootstrap:    bootstrap.values(),
			MDNS:         !*noMDNS,
			Mine:         *mine,
			MinerThreads: *threads,
			MinerAddress: *minerAddr,
			MinRelayFee:  &minFee,
			Logger:       log,
		}}, nil
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// printFlags writes one entry per flag in the GNU style the README uses
// (--name value), its text wrapped under it, then its default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if arg != "" && !isBool(f) {
			arg = " " + arg
		} else {
			arg = ""
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(w, "  %s%s%s\n", dash, f.Name, arg)
		for _, line := range wrap(text, 72) {
			fmt.Fprintf(w, "        %s\n", line)
		}
		// A required flag's zero default would only mislead.
		if d := f.DefValue; d != "" && d != "false" && !strings.Contains(text, "(default") && !strings.HasSuffix(text, "; required") {
			fmt.Fprintf(w, "        (default %s)\n", d)
		}
	})
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// wrap breaks text into lines of at most width bytes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(text) {
		if cur.Len() > 0 && cur.Len()+1+len(word) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// addrList is a repeatable multiaddr flag. Each value is parsed when it
// is given, so a malformed address fails at start with the flag's name.
// The first value given replaces the default rather than adding to it.
// stringList is a repeatable flag of strings, each checked as it is set.
type stringList struct {
	set   []string
	check func(string) error
}

var _ flag.Value = (*stringList)(nil)

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.set, " ")
}

func (l *stringList) Set(s string) error {
	if err := l.check(s); err != nil {
		return err
	}
	l.set = append(l.set, s)
	return nil
}

// checkAllowHost accepts '*', a host name or IP, with an optional port.
func checkAllowHost(s string) error {
	if s == "*" {
		return nil
	}
	name := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: the port must be 1 to 65535", s)
		}
		name = h
	}
	if name == "" || strings.ContainsAny(name, "/@ ") {
		return fmt.Errorf("%q: want a host name like node.lan or node.lan:5000, or '*'", s)
	}
	return nil
}

// checkOrigin accepts an origin as browsers send it.
func checkOrigin(s string) error {
	if !api.ValidOrigin(s) {
		return fmt.Errorf("%q: want an origin like https://wallet.example or http://192.168.1.5:8080 (scheme, host, port; no path)", s)
	}
	return nil
}

type addrList struct {
	def        []string
	set        []string
	needPeerID bool // a full address, ending in /p2p/<id>
}

var _ flag.Value = (*addrList)(nil)

func (l *addrList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.values(), " ")
}

func (l *addrList) Set(s string) error {
	a, err := multiaddr.NewMultiaddr(s)
	if err != nil {
		return fmt.Errorf("not a multiaddr: %w", err)
	}
	if l.needPeerID {
		if _, err := peer.AddrInfoFromP2pAddr(a); err != nil {
			return fmt.Errorf("want a full multiaddr ending in /p2p/<peer id>, like /ip4/192.0.2.1/tcp/%d/p2p/12D3KooW...: %w",
				p2p.DefaultPort, err)
		}
	}
	l.set = append(l.set, a.String())
	return nil
}

// values returns the addresses given, or the default if none were.
func (l *addrList) values() []string {
	if len(l.set) > 0 {
		return l.set
	}
	return l.def
}

// flagDash finds the single-dash flag names in the flag package's errors.
var flagDash = regexp.MustCompile(`((?:flag|defined):? )-([a-z][a-z-]+)`)

// gnuFlagError is an error of the flag package with long flags named
// with two dashes (-bootstrap becomes --bootstrap), as the help and the
// README spell them.
type gnuFlagError struct{ err error }

func (e gnuFlagError) Error() string { return flagDash.ReplaceAllString(e.err.Error(), "$1--$2") }
func (e gnuFlagError) Unwrap() error { return e.err }
