package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/p2p"
)

// writeConfig writes a config file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gossipchain.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFlagPrecedence: a flag beats its environment variable, which
// beats the config file, which beats the default; for the node and for
// the client commands, for plain, numeric, boolean and repeatable flags.
func TestFlagPrecedence(t *testing.T) {
	const file = `
network = "regtest"
port = 5002
api-token = "from-file"
mine = true
netmap = false
listen = ["/ip4/127.0.0.1/tcp/9401", "/ip4/127.0.0.1/udp/9401/quic-v1"]
api = "http://127.0.0.1:16100"
limit = 7
`
	cfg := writeConfig(t, file)
	type nodeCase struct {
		name string
		args []string
		env  []string
		get  func(nodeOptions) any
		want any
	}
	nodeCases := []nodeCase{
		{"port default", nil, nil, func(o nodeOptions) any { return o.APIAddr }, "127.0.0.1:5000"},
		{"port file", []string{"--config", cfg}, nil, func(o nodeOptions) any { return o.APIAddr }, "127.0.0.1:5002"},
		{"port env beats file", []string{"--config", cfg}, []string{"GOSSIPCHAIN_PORT", "5003"},
			func(o nodeOptions) any { return o.APIAddr }, "127.0.0.1:5003"},
		{"port -p beats env", []string{"--config", cfg, "-p", "5004"}, []string{"GOSSIPCHAIN_PORT", "5003"},
			func(o nodeOptions) any { return o.APIAddr }, "127.0.0.1:5004"},
		{"network file", []string{"--config", cfg}, nil, func(o nodeOptions) any { return o.Params.Name }, "regtest"},
		{"network env", []string{"--config", cfg}, []string{"GOSSIPCHAIN_NETWORK", "open"},
			func(o nodeOptions) any { return o.Params.Name }, "open"},
		{"network flag", []string{"--config", cfg, "--network", "devnet"}, []string{"GOSSIPCHAIN_NETWORK", "open"},
			func(o nodeOptions) any { return o.Params.Name }, "devnet"},
		{"token file", []string{"--config", cfg}, nil, func(o nodeOptions) any { return o.APIToken }, "from-file"},
		{"token env", []string{"--config", cfg}, []string{envAPIToken, "from-env"}, func(o nodeOptions) any { return o.APIToken }, "from-env"},
		{"mine default", nil, nil, func(o nodeOptions) any { return o.Mine }, false},
		{"mine file", []string{"--config", cfg}, nil, func(o nodeOptions) any { return o.Mine }, true},
		{"mine env false beats file", []string{"--config", cfg}, []string{"GOSSIPCHAIN_MINE", "false"},
			func(o nodeOptions) any { return o.Mine }, false},
		{"mine flag beats env", []string{"--mine"}, []string{"GOSSIPCHAIN_MINE", "false"}, func(o nodeOptions) any { return o.Mine }, true},
		{"netmap default: the network's", nil, nil, func(o nodeOptions) any { return o.NetMap == nil }, true},
		{"netmap file", []string{"--config", cfg}, nil, func(o nodeOptions) any { return *o.NetMap }, false},
		{"netmap env beats file", []string{"--config", cfg}, []string{"GOSSIPCHAIN_NETMAP", "true"},
			func(o nodeOptions) any { return *o.NetMap }, true},
		{"netmap flag beats env", []string{"--netmap=false"}, []string{"GOSSIPCHAIN_NETMAP", "true"},
			func(o nodeOptions) any { return *o.NetMap }, false},
		{"listen file", []string{"--config", cfg}, nil, func(o nodeOptions) any { return strings.Join(o.Listen, " ") },
			"/ip4/127.0.0.1/tcp/9401 /ip4/127.0.0.1/udp/9401/quic-v1"},
		{"listen env", []string{"--config", cfg}, []string{"GOSSIPCHAIN_LISTEN", "/ip4/127.0.0.1/tcp/9402,/ip4/127.0.0.1/tcp/9403"},
			func(o nodeOptions) any { return strings.Join(o.Listen, " ") }, "/ip4/127.0.0.1/tcp/9402 /ip4/127.0.0.1/tcp/9403"},
		{"listen flag", []string{"--config", cfg, "--listen", "/ip4/127.0.0.1/tcp/9404"}, []string{"GOSSIPCHAIN_LISTEN", "/ip4/127.0.0.1/tcp/9402"},
			func(o nodeOptions) any { return strings.Join(o.Listen, " ") }, "/ip4/127.0.0.1/tcp/9404"},
		{"config from the environment", nil, []string{"GOSSIPCHAIN_CONFIG", cfg}, func(o nodeOptions) any { return o.Params.Name }, "regtest"},
		{"dht default", nil, nil, func(o nodeOptions) any { return o.DHT }, p2p.DHTAuto},
		{"dht env", nil, []string{"GOSSIPCHAIN_DHT", "server"}, func(o nodeOptions) any { return o.DHT }, p2p.DHTServer},
		{"dht file", []string{"--config", writeConfig(t, `dht = "client"`)}, nil, func(o nodeOptions) any { return o.DHT }, p2p.DHTClient},
		{"dht flag beats env", []string{"--dht", "off"}, []string{"GOSSIPCHAIN_DHT", "server"}, func(o nodeOptions) any { return o.DHT }, p2p.DHTOff},
		{"public cidr env", nil, []string{"GOSSIPCHAIN_PUBLIC_CIDR", "100.64.0.0/10"}, func(o nodeOptions) any { return fmt.Sprint(o.PublicCIDRs) }, "[100.64.0.0/10]"},
		{"announce file", []string{"--config", writeConfig(t, `announce = ["/ip4/198.51.100.7/tcp/9310"]`)}, nil,
			func(o nodeOptions) any { return fmt.Sprint(o.Announce) }, "[/ip4/198.51.100.7/tcp/9310]"},
		{"nat portmap env", nil, []string{"GOSSIPCHAIN_NAT_PORTMAP", "true"}, func(o nodeOptions) any { return o.PortMap }, true},
		{"data dir env", nil, []string{"GOSSIPCHAIN_DATA_DIR", "/srv/chain"}, func(o nodeOptions) any { return o.DataDir }, "/srv/chain"},
	}
	for _, tt := range nodeCases {
		t.Run("node/"+tt.name, func(t *testing.T) {
			o, err := parseNodeFlagsEnv(tt.args, testEnv(tt.env...), &bytes.Buffer{}, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(o); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	// A client command reads the same file: keys of the node's flags it
	// lacks (port, mine, listen) are left to the node.
	type clientCase struct {
		name string
		args []string
		env  []string
		get  func(queryOptions) any
		want any
	}
	clientCases := []clientCase{
		{"api default", nil, nil, func(o queryOptions) any { return o.API }, defaultAPI},
		{"api file", []string{"--config", cfg}, nil, func(o queryOptions) any { return o.API }, "http://127.0.0.1:16100"},
		{"api env", []string{"--config", cfg}, []string{envAPI, "http://127.0.0.1:16101"}, func(o queryOptions) any { return o.API }, "http://127.0.0.1:16101"},
		{"api flag", []string{"--config", cfg, "--api", "http://127.0.0.1:16102"}, []string{envAPI, "http://127.0.0.1:16101"},
			func(o queryOptions) any { return o.API }, "http://127.0.0.1:16102"},
		{"limit default", nil, nil, func(o queryOptions) any { return o.Limit }, uint64(20)},
		{"limit file", []string{"--config", cfg}, nil, func(o queryOptions) any { return o.Limit }, uint64(7)},
		{"limit env", []string{"--config", cfg}, []string{"GOSSIPCHAIN_LIMIT", "8"}, func(o queryOptions) any { return o.Limit }, uint64(8)},
		{"limit flag", []string{"--config", cfg, "--limit", "9"}, []string{"GOSSIPCHAIN_LIMIT", "8"}, func(o queryOptions) any { return o.Limit }, uint64(9)},
		{"from unset", []string{"--config", cfg}, nil, func(o queryOptions) any { return o.FromSet }, false},
		{"from env is set", nil, []string{"GOSSIPCHAIN_FROM", "0"}, func(o queryOptions) any { return o.FromSet }, true},
	}
	for _, tt := range clientCases {
		t.Run("chain/"+tt.name, func(t *testing.T) {
			o, err := parseQueryFlags("chain", tt.args, testEnv(tt.env...), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(o); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	// send's token and network from the file, and the file's values are
	// checked as a flag's would be.
	o, err := parseSendFlags([]string{"--config", cfg, "--to", "Bob", "--amount", "1", "--network", "open"}, testEnv(), &bytes.Buffer{})
	if err != nil || o.APIToken != "from-file" || o.API != "http://127.0.0.1:16100" {
		t.Errorf("send with the file: %+v, %v", o, err)
	}
	bad := writeConfig(t, "limit = 0\n")
	if _, err := parseQueryFlags("chain", []string{"--config", bad}, testEnv(), &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "--limit 0") || !errors.As(err, new(usageError)) {
		t.Errorf("limit 0 in the file: %v, want the --limit usage error", err)
	}
	if _, err := parseNodeFlagsEnv(nil, testEnv("GOSSIPCHAIN_PORT", "x"), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "GOSSIPCHAIN_PORT") || !errors.As(err, new(usageError)) {
		t.Errorf("GOSSIPCHAIN_PORT=x: %v, want a usage error naming the variable", err)
	}
}

// TestConfigErrors: a config file that cannot be used fails clearly,
// as a usage error (exit status 2), before anything runs.
func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		cmd        []string
		want       string
	}{
		{"unknown key", "data_dir = \"/srv\"\n", []string{"node"}, `unknown key "data_dir"`},
		{"unknown key for a client too", "colour = \"red\"\n", []string{"status"}, `unknown key "colour"`},
		{"not TOML", "network = \n", []string{"node"}, "--config"},
		{"a table", "[node]\nmine = true\n", []string{"node"}, `key "node"`},
		{"bad value", "port = \"many\"\n", []string{"node"}, "port"},
		{"bad address", "listen = [\"127.0.0.1:9310\"]\n", []string{"node"}, "not a multiaddr"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.text)
			var stdout, stderr bytes.Buffer
			err := runWith(append(tt.cmd, "--config", cfg), testEnv(), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, new(usageError)) {
				t.Errorf("error %v, want a usage error saying %q", err, tt.want)
			}
		})
	}
	// --config belongs to each command, not to gossipchain itself.
	err := runWith([]string{"--config", "x.toml", "node"}, testEnv(), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || err.Error() != "flag provided but not defined: --config (see gossipchain --help)" || !errors.As(err, new(usageError)) {
		t.Errorf("gossipchain --config x.toml node: %v", err)
	}
	err = runWith([]string{"node", "--config", filepath.Join(t.TempDir(), "none.toml")}, testEnv(), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "none.toml") || !errors.As(err, new(usageError)) {
		t.Errorf("missing config file: %v", err)
	}
}

// TestVersion: "version" and --version print the build info.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if err := runWith(args, testEnv(), &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if !strings.HasPrefix(lines[0], "gossipchain ") || !slices.Contains(lines, "go "+runtime.Version()) {
			t.Errorf("%v printed %q, want gossipchain <version> and go %s", args, stdout.String(), runtime.Version())
		}
	}
}

// TestCompletion: the completion script names the command, and a
// completion request lists a command's flags without running it.
func TestCompletion(t *testing.T) {
	var stdout bytes.Buffer
	if err := runWith([]string{"completion", "bash"}, testEnv(), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "gossipchain") {
		t.Errorf("bash completion script:\n%s", stdout.String())
	}
	stdout.Reset()
	if err := runWith([]string{"node", "--", "--generate-shell-completion"}, testEnv(), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := runWith([]string{"node", "--data", "--generate-shell-completion"}, testEnv(), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "--data-dir") {
		t.Errorf("completing node --data: %q, want --data-dir", stdout.String())
	}
}

// TestLogFile: --log-file takes the node's log off stderr and rotates it
// at --log-max-size, keeping --log-max-backups old files.
func TestLogFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "node.log")
	var stderr bytes.Buffer
	o, err := parseNodeFlagsEnv([]string{"--log-file", name, "--log-max-size", "1", "--log-max-backups", "1"}, testEnv(), &bytes.Buffer{}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 1000)
	for i := range 3000 { // about 3 MB: two rotations
		o.Logger.Info("filler", "i", i, "pad", line)
	}
	if err := o.LogFile.Close(); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Errorf("log on stderr with --log-file: %.200s", stderr.String())
	}
	// lumberjack deletes backups past --log-max-backups on a goroutine
	// of its own, which Close does not wait for.
	var files []string
	testutil.Eventually(t, 10*time.Second, "node.log and one rotated backup", func() bool {
		files, _ = filepath.Glob(filepath.Join(dir, "node*.log"))
		return len(files) == 2
	})
	if !slices.Contains(files, name) {
		t.Errorf("files %q, want node.log among them", files)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-file", filepath.Join(dir, "new", "sub", "x.log")}, ""},
		{[]string{"--log-file", filepath.Join(dir, "node.log", "x.log")}, "--log-file"},
		{[]string{"--log-max-size", "0"}, "--log-max-size"},
		{[]string{"--log-max-backups", "-1"}, "--log-max-backups"},
	} {
		_, err := parseNodeFlagsEnv(tt.args, testEnv(), &bytes.Buffer{}, &bytes.Buffer{})
		if tt.want == "" {
			if err != nil {
				t.Errorf("%v: %v, want the directory made", tt.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, new(usageError)) {
			t.Errorf("%v: %v, want a usage error saying %s", tt.args, err, tt.want)
		}
	}
}
