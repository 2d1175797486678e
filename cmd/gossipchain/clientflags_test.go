package main

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// testEnv is a fixed environment for the flag parsers.
func testEnv(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// checkParseErr checks a parser's error against want (a substring, ""
// for success) and errIs; a failure must be a usage error (exit status
// 2) unless it is --help.
func checkParseErr(t *testing.T, err error, wantErr string, errIs error) (ok bool) {
	t.Helper()
	if errIs != nil && !errors.Is(err, errIs) {
		t.Fatalf("error %v, want %v", err, errIs)
	}
	if wantErr == "" && errIs == nil {
		if err != nil {
			t.Fatal(err)
		}
		return true
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", wantErr)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error %q, want it to contain %q", err, wantErr)
	}
	if errIs != flag.ErrHelp && !errors.As(err, new(usageError)) {
		t.Errorf("error %v is not a usage error (exit status 2)", err)
	}
	return false
}

func TestParseWalletFlags(t *testing.T) {
	w := filepath.Join(t.TempDir(), "w.key")
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		check   func(t *testing.T, o walletOptions)
		wantErr string
		errIs   error
	}{
		{
			name: "new with a wallet path",
			args: []string{"new", "--wallet", w},
			check: func(t *testing.T, o walletOptions) {
				if o.Command != "new" || o.Wallet != w || o.Params.Name != "devnet" {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "default wallet is the devnet node's",
			args: []string{"address"},
			check: func(t *testing.T, o walletOptions) {
				if !strings.HasSuffix(o.Wallet, filepath.Join(".gossipchain", "devnet", "wallet.key")) {
					t.Errorf("wallet %s, want ~/.gossipchain/devnet/wallet.key", o.Wallet)
				}
			},
		},
		{
			name: "default wallet follows --network",
			args: []string{"new", "--network", "regtest"},
			check: func(t *testing.T, o walletOptions) {
				if !strings.HasSuffix(o.Wallet, filepath.Join(".gossipchain", "regtest", "wallet.key")) {
					t.Errorf("wallet %s, want ~/.gossipchain/regtest/wallet.key", o.Wallet)
				}
			},
		},
		{
			name: "balance defaults to the local API",
			args: []string{"balance", "--wallet", w},
			check: func(t *testing.T, o walletOptions) {
				if o.API != defaultAPI || o.JSON {
					t.Errorf("api %s json %v", o.API, o.JSON)
				}
			},
		},
		{
			name: "balance API from the environment",
			args: []string{"balance", "--json"},
			env:  testEnv(envAPI, "http://127.0.0.1:16001"),
			check: func(t *testing.T, o walletOptions) {
				if o.API != "http://127.0.0.1:16001" || !o.JSON {
					t.Errorf("api %s json %v", o.API, o.JSON)
				}
			},
		},
		{
			name: "--api beats the environment",
			args: []string{"balance", "--api", "http://127.0.0.1:16002"},
			env:  testEnv(envAPI, "http://127.0.0.1:16001"),
			check: func(t *testing.T, o walletOptions) {
				if o.API != "http://127.0.0.1:16002" {
					t.Errorf("api %s", o.API)
				}
			},
		},
		{name: "no command", args: nil, wantErr: "no command"},
		{name: "unknown command", args: []string{"burn"}, wantErr: `unknown command "burn"`},
		{name: "unknown network", args: []string{"new", "--network", "mainnet"}, wantErr: "--network", errIs: chain.ErrUnknownNetwork},
		{name: "new takes no --api", args: []string{"new", "--api", defaultAPI}, wantErr: "-api"},
		{name: "bad --api", args: []string{"balance", "--api", "127.0.0.1:5000"}, wantErr: "--api"},
		{name: "bad API in the environment", args: []string{"balance"}, env: testEnv(envAPI, "ftp://x"), wantErr: "--api"},
		{name: "stray argument", args: []string{"address", "extra"}, wantErr: "unexpected arguments"},
		{name: "help", args: []string{"--help"}, errIs: flag.ErrHelp},
		{name: "command help", args: []string{"balance", "-h"}, errIs: flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = testEnv()
			}
			var stdout bytes.Buffer
			o, err := parseWalletFlags(tt.args, env, &stdout)
			if checkParseErr(t, err, tt.wantErr, tt.errIs) && tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func TestParseSendFlags(t *testing.T) {
	to := testwallet.Random(t).Addr
	// The last digit is the checksum's: any other one breaks it.
	badSum := to[:len(to)-1] + "0"
	if to[len(to)-1] == '0' {
		badSum = to[:len(to)-1] + "1"
	}
	w := filepath.Join(t.TempDir(), "w.key")
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		check   func(t *testing.T, o sendOptions)
		wantErr string
		errIs   error
	}{
		{
			name: "every flag",
			args: []string{"--to", to, "--amount", "5", "--fee", "1", "--wallet", w, "--network", "regtest",
				"--api", "http://127.0.0.1:16003", "--api-token", "s3cret"},
			check: func(t *testing.T, o sendOptions) {
				if o.To != to || o.Amount != 5 || o.Fee != 1 || o.Wallet != w || o.Params.Name != "regtest" ||
					o.API != "http://127.0.0.1:16003" || o.APIToken != "s3cret" {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "defaults",
			args: []string{"--to", to, "--amount", "5"},
			check: func(t *testing.T, o sendOptions) {
				if o.Fee != 0 || o.API != defaultAPI || o.APIToken != "" || o.Params.Name != "devnet" ||
					!strings.HasSuffix(o.Wallet, filepath.Join(".gossipchain", "devnet", "wallet.key")) {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "token and API from the environment",
			args: []string{"--to", to, "--amount", "5"},
			env:  testEnv(envAPIToken, "from-env", envAPI, "http://[::1]:16004"),
			check: func(t *testing.T, o sendOptions) {
				if o.APIToken != "from-env" || o.API != "http://[::1]:16004" {
					t.Errorf("token %q api %s", o.APIToken, o.API)
				}
			},
		},
		{
			name: "--api-token beats the environment, even empty",
			args: []string{"--to", to, "--amount", "5", "--api-token="},
			env:  testEnv(envAPIToken, "from-env"),
			check: func(t *testing.T, o sendOptions) {
				if o.APIToken != "" {
					t.Errorf("token %q", o.APIToken)
				}
			},
		},
		{
			name: "any name on the open network",
			args: []string{"--to", "Bob", "--amount", "1", "--network", "open"},
			check: func(t *testing.T, o sendOptions) {
				if o.To != "Bob" || o.Params.Signed {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "largest amount",
			args: []string{"--to", to, "--amount", "9007199254740991"},
			check: func(t *testing.T, o sendOptions) {
				if o.Amount != chain.MaxAmount {
					t.Errorf("amount %d", o.Amount)
				}
			},
		},
		{name: "no --to", args: []string{"--amount", "5"}, wantErr: "--to is required"},
		{name: "no --amount", args: []string{"--to", to}, wantErr: "--amount is required"},
		{name: "zero amount", args: []string{"--to", to, "--amount", "0"}, wantErr: "--amount 0"},
		{name: "negative amount", args: []string{"--to", to, "--amount", "-1"}, wantErr: "flag --amount"},
		{name: "fractional amount", args: []string{"--to", to, "--amount", "1.5"}, wantErr: "flag --amount"},
		{name: "amount over the limit", args: []string{"--to", to, "--amount", "9007199254740992"}, wantErr: "--amount"},
		{name: "amount plus fee over the limit", args: []string{"--to", to, "--amount", "9007199254740991", "--fee", "1"}, wantErr: "--fee"},
		{name: "not an address", args: []string{"--to", "Bob", "--amount", "1"}, wantErr: "--to"},
		{name: "bad checksum", args: []string{"--to", badSum, "--amount", "1"}, wantErr: "checksum"},
		{name: "upper-case address", args: []string{"--to", strings.ToUpper(to), "--amount", "1"}, wantErr: "--to"},
		{name: "name too long on open", args: []string{"--to", strings.Repeat("b", chain.MaxNameLen+1), "--amount", "1", "--network", "open"}, wantErr: "--to"},
		{name: "bad --api", args: []string{"--to", to, "--amount", "1", "--api", "http://"}, wantErr: "--api"},
		{name: "unknown network", args: []string{"--to", to, "--amount", "1", "--network", "x"}, errIs: chain.ErrUnknownNetwork, wantErr: "--network"},
		{name: "unknown flag", args: []string{"--too", to}, wantErr: "-too"},
		{name: "stray argument", args: []string{"--to", to, "--amount", "1", "now"}, wantErr: "unexpected arguments"},
		{name: "help", args: []string{"--help"}, errIs: flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = testEnv()
			}
			var stdout bytes.Buffer
			o, err := parseSendFlags(tt.args, env, &stdout)
			if checkParseErr(t, err, tt.wantErr, tt.errIs) && tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func TestParseQueryFlags(t *testing.T) {
	tests := []struct {
		name    string
		cmd     string
		args    []string
		env     func(string) string
		check   func(t *testing.T, o queryOptions)
		wantErr string
		errIs   error
	}{
		{
			name: "status defaults",
			cmd:  "status",
			check: func(t *testing.T, o queryOptions) {
				if o.API != defaultAPI || o.JSON {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "peers as JSON from the environment's API",
			cmd:  "peers",
			args: []string{"--json"},
			env:  testEnv(envAPI, "http://127.0.0.1:16005/"),
			check: func(t *testing.T, o queryOptions) {
				if o.API != "http://127.0.0.1:16005/" || !o.JSON {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "chain defaults: the last 20 blocks",
			cmd:  "chain",
			check: func(t *testing.T, o queryOptions) {
				if o.FromSet || o.Limit != 20 {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "chain from zero is set",
			cmd:  "chain",
			args: []string{"--from", "0", "--limit", "1000", "--json"},
			check: func(t *testing.T, o queryOptions) {
				if !o.FromSet || o.From != 0 || o.Limit != 1000 || !o.JSON {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "chain from a height",
			cmd:  "chain",
			args: []string{"--from=7", "--limit=3"},
			check: func(t *testing.T, o queryOptions) {
				if !o.FromSet || o.From != 7 || o.Limit != 3 {
					t.Errorf("%+v", o)
				}
			},
		},
		{name: "limit zero", cmd: "chain", args: []string{"--limit", "0"}, wantErr: "--limit 0"},
		{name: "limit over a page", cmd: "chain", args: []string{"--limit", "1001"}, wantErr: "--limit 1001"},
		{name: "negative from", cmd: "chain", args: []string{"--from", "-1"}, wantErr: "flag --from"},
		{name: "status has no --from", cmd: "status", args: []string{"--from", "1"}, wantErr: "-from"},
		{name: "peers has no --wallet", cmd: "peers", args: []string{"--wallet", "w"}, wantErr: "-wallet"},
		{name: "bad --api", cmd: "status", args: []string{"--api", "localhost"}, wantErr: "--api"},
		{name: "stray argument", cmd: "peers", args: []string{"all"}, wantErr: "unexpected arguments"},
		{name: "help", cmd: "chain", args: []string{"--help"}, errIs: flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = testEnv()
			}
			var stdout bytes.Buffer
			o, err := parseQueryFlags(tt.cmd, tt.args, env, &stdout)
			if checkParseErr(t, err, tt.wantErr, tt.errIs) && tt.check != nil {
				if o.Command != tt.cmd {
					t.Errorf("command %q, want %q", o.Command, tt.cmd)
				}
				tt.check(t, o)
			}
		})
	}
}

// TestClientHelp: every client command's --help is on stdout, exits 0
// and explains each of its flags.
func TestClientHelp(t *testing.T) {
	tests := []struct {
		args  []string
		flags []string
	}{
		{[]string{"wallet", "new"}, []string{"wallet", "network"}},
		{[]string{"wallet", "address"}, []string{"wallet", "network"}},
		{[]string{"wallet", "balance"}, []string{"wallet", "network", "api", "json"}},
		{[]string{"send"}, []string{"to", "amount", "fee", "wallet", "network", "api", "api-token"}},
		{[]string{"status"}, []string{"api", "json"}},
		{[]string{"peers"}, []string{"api", "json"}},
		{[]string{"chain"}, []string{"api", "json", "from", "limit"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(append(tt.args, "--help"), &stdout, &stderr); err != nil {
				t.Fatalf("--help: %v", err)
			}
			help := stdout.String()
			if !strings.HasPrefix(help, "usage: gossipchain "+strings.Join(tt.args, " ")) {
				t.Errorf("help does not start with its usage line:\n%s", help)
			}
			for _, f := range tt.flags {
				if !strings.Contains(help, "  --"+f+" ") && !strings.Contains(help, "  --"+f+"\n") {
					t.Errorf("help does not explain --%s", f)
				}
			}
			if stderr.Len() > 0 {
				t.Errorf("help wrote to stderr: %s", stderr.String())
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"wallet", "--help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"new", "address", "balance"} {
		if !strings.Contains(stdout.String(), "  "+sub+" ") {
			t.Errorf("wallet --help does not list %s", sub)
		}
	}
	stdout.Reset()
	if err := run([]string{"--help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"node", "wallet new", "wallet address", "wallet balance", "send", "status", "peers", "chain"} {
		if !strings.Contains(stdout.String(), "  "+cmd+" ") {
			t.Errorf("gossipchain --help does not list %q", cmd)
		}
	}
}
