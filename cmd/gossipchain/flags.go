package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/urfave/cli/v3"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/p2p"
)

const nodeDescription = `
Runs a node: opens (or creates) the data directory, joins the network's
peers and keeps the chain in step with theirs, mining with --mine. It
logs one line per event to stderr (or to --log-file) and stops cleanly
on SIGINT (Ctrl-C) or SIGTERM.

Several nodes on one machine each need their own --data-dir and --listen.`

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
	// PublicCIDRs are the --public-cidr ranges, treated as public by the
	// whole process before the node starts.
	PublicCIDRs []netip.Prefix
	// LogFile is the rotated --log-file the logger writes to, closed
	// when the node stops; nil for stderr.
	LogFile io.Closer
}

// parseNodeFlags turns the node command's arguments into nodeOptions,
// logger included, reading the environment and --config for the flags
// not given. Every flag is checked here, so a typo fails at once with
// the flag's name, not later inside the node. --help prints the help on
// stdout and returns flag.ErrHelp.
func parseNodeFlags(args []string, stdout, stderr io.Writer) (nodeOptions, error) {
	return parseNodeFlagsEnv(args, os.Getenv, stdout, stderr)
}

func parseNodeFlagsEnv(args []string, getenv func(string) string, stdout, stderr io.Writer) (nodeOptions, error) {
	var o nodeOptions
	err := newApp(getenv, stdout, stderr, actions{node: func(got nodeOptions) error {
		o = got
		return nil
	}}).run(append([]string{"node"}, args...))
	return o, err
}

func (a *app) nodeCommand(stderr io.Writer, do func(nodeOptions) error) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "network", Value: "devnet",
			Usage: "`name` of the network to join: " + strings.Join(chain.NetworkNames(), ", ") +
				". The network is its genesis block; nodes of different networks never connect."},
		&cli.StringFlag{Name: "data-dir",
			Usage: "`directory` for the chain database, the node key (the stable peer ID) and the wallet key; created if missing (default ~/.gossipchain/<network>)"},
		&cli.StringSliceFlag{Name: "listen", Value: p2p.DefaultListenAddrs(), Validator: each(checkMultiaddr),
			Usage: "`multiaddr` to accept peers on; repeatable. The first --listen replaces the default, " +
				"TCP and QUIC on port " + fmt.Sprint(p2p.DefaultPort) + " of every IPv4 interface. " +
				"Port 0 picks a free port; the node logs each full address as \"listening\"."},
		&cli.StringSliceFlag{Name: "bootstrap", Validator: each(checkPeerAddr),
			Usage: "full `multiaddr` of a peer to dial at start and keep connected, ending in /p2p/<peer id> " +
				"(the \"listening\" lines of that node print it); repeatable"},
		&cli.BoolFlag{Name: "no-mdns",
			Usage: "turn off mDNS discovery of nodes on the local network. mDNS is on by default: the node " +
				"multicasts its addresses on UDP port 5353 of every multicast-capable interface, whatever --listen says, " +
				"and dials the nodes of the same network it hears of. Use --no-mdns with --bootstrap where " +
				"multicast must not go."},
		&cli.BoolFlag{Name: "netmap",
			Usage: "answer peers' network-map requests (this node's tip, up to 64 of its connections by peer ID, " +
				"and when it first saw its recent blocks; no addresses) and ask its peers for theirs, so the explorer " +
				"draws the network. Default: on for the predefined networks (devnet, open, regtest), off for any other; " +
				"--netmap=false keeps this node's connections to itself"},
		&cli.StringFlag{Name: "dht", Value: string(p2p.DHTAuto),
			Usage: "`mode` in the network's own Kademlia DHT, through which nodes find each other beyond the LAN: " +
				"auto (a client until AutoNAT finds this node reachable from outside, then a server), server (answer others' " +
				"queries: for bootstrap nodes), client, or off. Its only seeds are the --bootstrap peers; it never joins the IPFS DHT"},
		&cli.StringSliceFlag{Name: "announce", Validator: each(checkMultiaddr),
			Usage: "`multiaddr` to tell peers and the DHT instead of the addresses the node finds itself, such as " +
				"/ip4/203.0.113.7/tcp/9310 for a router that forwards port 9310 to this node; repeatable. " +
				"Relay addresses are still added"},
		&cli.BoolFlag{Name: "nat-portmap",
			Usage: "ask the LAN's router to forward the listening ports, by UPnP or NAT-PMP; off by default: " +
				"both multicast or broadcast on the LAN and open the node to the internet"},
		&cli.StringFlag{Name: "reachability", Value: "auto",
			Usage: "`reachability` from the internet: auto (AutoNAT finds out), public (for a bootstrap node on a known public address: " +
				"it serves as a relay and a DHT server at once) or private"},
		&cli.StringSliceFlag{Name: "public-cidr", Validator: each(checkCIDR),
			Usage: "IP `range` (CIDR) to treat as public although go-libp2p counts it private or unroutable, " +
				"such as 100.64.0.0/10 or 198.51.100.0/24, for AutoNAT, relays, the DHT and hole punching; repeatable. " +
				"For labs and test networks only"},
		&cli.BoolFlag{Name: "mine", Usage: "mine continuously on the best chain; blocks pay --miner-address"},
		&cli.IntFlag{Name: "miner-threads", Value: 1, Usage: "`number` of goroutines searching for proof of work"},
		&cli.StringFlag{Name: "miner-address", Usage: "`address` paid by mined blocks (default: this node's wallet)"},
		&cli.Uint64Flag{Name: "min-relay-fee", Value: uint64(chain.DefaultMinRelayFee),
			Usage: "least fee the mempool takes, in `coins` per 1,000 bytes of a transaction's encoding, rounded up per transaction " +
				"(a signed transfer is 225 bytes: at 1 it pays at least 1 coin); lower fees are refused (HTTP 400, not relayed). " +
				"Transfers the node signs without a fee pay this minimum. It may raise the network's floor (1 on devnet and regtest), not lower it: " +
				"a lower value is raised to the floor, with a warning. Signed networks only: the open network takes fee 0"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log `format`: text for a terminal, json for one JSON object per line"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "least `level` logged: debug, info, warn or error"},
		&cli.StringFlag{Name: "log-file",
			Usage: "`file` to write the log to instead of stderr, for a node run without a supervisor that keeps its output; " +
				"it is rotated when it reaches --log-max-size, the old ones kept beside it with a timestamp in their name"},
		&cli.IntFlag{Name: "log-max-size", Value: 100, Usage: "`megabytes` a --log-file reaches before it is rotated"},
		&cli.IntFlag{Name: "log-max-backups", Value: 10, Usage: "rotated --log-file `files` kept; older ones are deleted (0 keeps them all)"},
		&cli.StringFlag{Name: "host", Aliases: []string{"H"}, Value: "127.0.0.1",
			Usage: "`address` the HTTP API listens on; anything but loopback needs --api-token"},
		&cli.IntFlag{Name: "port", Aliases: []string{"p"}, Value: 5000, Usage: "TCP `port` of the HTTP API, as the classic teaching chain's app"},
		&cli.StringFlag{Name: "api-token",
			Usage: "`token` that the routes changing state (create-transaction, mine, register-node, sync-chain) require as \"Authorization: Bearer <token>\"; reads stay open"},
		&cli.StringFlag{Name: "pprof", Usage: "loopback `host:port` to serve Go's profiler on (net/http/pprof at /debug/pprof/); off by default. " +
			"Only loopback addresses are accepted: profiles show the node's internals"},
		&cli.StringSliceFlag{Name: "api-allow-host", Validator: each(checkAllowHost),
			Usage: "host `name` the HTTP API also answers to (as the Host header gives it: node.lan, or node.lan:5000 for one port); repeatable. " +
				"It answers to 127.0.0.1, localhost and [::1] on its port and to its own address; any other name is refused, " +
				"so a web page cannot reach it by DNS rebinding. '*' admits every name: dangerous, only behind a proxy that checks Host"},
		&cli.StringSliceFlag{Name: "api-cors-origin", Validator: each(checkOrigin),
			Usage: "web `origin` (https://wallet.example) whose pages may read the API and change state (with --api-token when set); repeatable. " +
				"Pages of other sites cannot change state, and their reads get no CORS headers"},
	}
	return a.command("node", "gossipchain node [flags]", "run a node", nodeDescription, flags,
		func(_ context.Context, cmd *cli.Command) error {
			o, err := resolveNode(cmd, stderr)
			if err != nil {
				return err
			}
			return do(o)
		})
}

// resolveNode checks the node command's values and builds its options.
func resolveNode(cmd *cli.Command, stderr io.Writer) (nodeOptions, error) {
	p, err := chain.ParamsByName(cmd.String("network"))
	if err != nil {
		return nodeOptions{}, usageError{fmt.Errorf("--network: %w", err)}
	}
	threads := cmd.Int("miner-threads")
	if threads < 1 {
		return nodeOptions{}, usageError{fmt.Errorf("--miner-threads %d: want at least 1", threads)}
	}
	minRelayFee := cmd.Uint64("min-relay-fee")
	if minRelayFee > chain.MaxAmount {
		return nodeOptions{}, usageError{fmt.Errorf("--min-relay-fee %d: want at most %d", minRelayFee, uint64(chain.MaxAmount))}
	}
	minFee := chain.FeeRate(minRelayFee)
	reach := cmd.String("reachability")
	switch reach {
	case "auto":
		reach = ""
	case p2p.ReachPublic, p2p.ReachPrivate:
	default:
		return nodeOptions{}, usageError{fmt.Errorf("--reachability %q: want auto, public or private", reach)}
	}
	dhtMode, err := p2p.ParseDHTMode(cmd.String("dht"))
	if err != nil {
		return nodeOptions{}, usageError{fmt.Errorf("--dht: %w", err)}
	}
	logOut, logFile, err := logWriter(cmd, stderr)
	if err != nil {
		return nodeOptions{}, usageError{err}
	}
	log, err := newLogger(logOut, cmd.String("log-format"), cmd.String("log-level"))
	if err != nil {
		return nodeOptions{}, usageError{err}
	}
	dir := cmd.String("data-dir")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nodeOptions{}, usageError{fmt.Errorf("no --data-dir and no home directory: %w", err)}
		}
		dir = filepath.Join(home, ".gossipchain", p.Name)
	}
	apiHost, apiPort, apiToken := cmd.String("host"), cmd.Int("port"), cmd.String("api-token")
	if apiPort < 0 || apiPort > 65535 {
		return nodeOptions{}, usageError{fmt.Errorf("--port %d: want 0 to 65535", apiPort)}
	}
	if !isLoopback(apiHost) && apiToken == "" {
		return nodeOptions{}, usageError{fmt.Errorf("--host %s is not loopback: anyone who reaches it could mine and send from this node's wallet; set --api-token", apiHost)}
	}
	pprofAddr := cmd.String("pprof")
	if pprofAddr != "" {
		h, p, err := net.SplitHostPort(pprofAddr)
		if err != nil || !isLoopback(h) {
			return nodeOptions{}, usageError{fmt.Errorf("--pprof %q: want a loopback host:port such as 127.0.0.1:6060", pprofAddr)}
		}
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			return nodeOptions{}, usageError{fmt.Errorf("--pprof %q: the port must be 0 to 65535", pprofAddr)}
		}
	}
	var netMap *bool // nil: the network's default
	if cmd.IsSet("netmap") {
		on := cmd.Bool("netmap")
		netMap = &on
	}
	hosts := cmd.StringSlice("api-allow-host")
	if net.ParseIP(apiHost) == nil {
		hosts = append([]string{apiHost}, hosts...) // -H node.lan: that name is the API's own
	}
	var cidrs []netip.Prefix
	for _, c := range cmd.StringSlice("public-cidr") {
		cidrs = append(cidrs, netip.MustParsePrefix(c).Masked()) // checked as the flag was set
	}
	return nodeOptions{APIAddr: net.JoinHostPort(apiHost, strconv.Itoa(apiPort)), APIToken: apiToken, PublicCIDRs: cidrs,
		APIHosts: hosts, APIOrigins: cmd.StringSlice("api-cors-origin"), Pprof: pprofAddr, LogFile: logFile,
		Config: node.Config{
			Params:       p,
			DataDir:      dir,
			Listen:       canonical(cmd.StringSlice("listen")),
			Bootstrap:    canonical(cmd.StringSlice("bootstrap")),
			MDNS:         !cmd.Bool("no-mdns"),
			DHT:          dhtMode,
			Announce:     canonical(cmd.StringSlice("announce")),
			PortMap:      cmd.Bool("nat-portmap"),
			Reachability: reach,
			Mine:         cmd.Bool("mine"),
			MinerThreads: threads,
			MinerAddress: cmd.String("miner-address"),
			MinRelayFee:  &minFee,
			NetMap:       netMap,
			Logger:       log,
		}}, nil
}

// logWriter is stderr, or the rotating --log-file. The file is opened
// here, so a path the node cannot write to fails at start, as a usage
// error, rather than losing every line silently.
func logWriter(cmd *cli.Command, stderr io.Writer) (io.Writer, io.Closer, error) {
	name := cmd.String("log-file")
	size, backups := cmd.Int("log-max-size"), cmd.Int("log-max-backups")
	switch {
	case size < 1:
		return nil, nil, fmt.Errorf("--log-max-size %d: want at least 1 (megabytes)", size)
	case backups < 0:
		return nil, nil, fmt.Errorf("--log-max-backups %d: want 0 or more", backups)
	case name == "":
		return stderr, nil, nil
	}
	// lumberjack makes the directory too, but only at the first line.
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, nil, fmt.Errorf("--log-file: %w", err)
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("--log-file: %w", err)
	}
	f.Close()
	l := &lumberjack.Logger{Filename: name, MaxSize: size, MaxBackups: backups}
	return l, l, nil
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// each checks every value of a repeatable flag. The library checks the
// whole list after each value is added, so a bad value fails with the
// flag's name as it is given.
func each(check func(string) error) func([]string) error {
	return func(vs []string) error {
		for _, v := range vs {
			if err := check(v); err != nil {
				return err
			}
		}
		return nil
	}
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

// checkMultiaddr accepts a multiaddr.
func checkMultiaddr(s string) error {
	if _, err := multiaddr.NewMultiaddr(s); err != nil {
		return fmt.Errorf("not a multiaddr: %w", err)
	}
	return nil
}

// checkCIDR accepts an IP range such as 100.64.0.0/10.
func checkCIDR(s string) error {
	if _, err := netip.ParsePrefix(s); err != nil {
		return fmt.Errorf("want an IP range like 100.64.0.0/10: %w", err)
	}
	return nil
}

// checkPeerAddr accepts a full multiaddr, ending in /p2p/<id>.
func checkPeerAddr(s string) error {
	a, err := multiaddr.NewMultiaddr(s)
	if err != nil {
		return fmt.Errorf("not a multiaddr: %w", err)
	}
	if _, err := peer.AddrInfoFromP2pAddr(a); err != nil {
		return fmt.Errorf("want a full multiaddr ending in /p2p/<peer id>, like /ip4/192.0.2.1/tcp/%d/p2p/12D3KooW...: %w",
			p2p.DefaultPort, err)
	}
	return nil
}

// canonical spells checked multiaddrs the way the node logs them.
func canonical(addrs []string) []string {
	out := make([]string, len(addrs))
	for i, s := range addrs {
		a, _ := multiaddr.NewMultiaddr(s) // checked as the flag was set
		out[i] = a.String()
	}
	return out
}
