package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node/testnet"
)

func TestParseTestnetFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want testnetOptions
		err  string
	}{
		{"defaults", nil, testnetOptions{nodes: 20, duration: time.Minute, txRate: 100, blockInterval: time.Second, fault: "none"}, ""},
		{"all", []string{"--nodes", "50", "--duration", "2m", "--tx-rate", "500", "--block-interval", "200ms", "--fault", "partition", "--seed", "7", "--senders", "300"},
			testnetOptions{nodes: 50, duration: 2 * time.Minute, txRate: 500, blockInterval: 200 * time.Millisecond, fault: "partition", seed: 7, senders: 300}, ""},
		{"negative senders", []string{"--senders", "-1"}, testnetOptions{}, "--senders"},
		{"one node", []string{"--nodes", "1"}, testnetOptions{}, "--nodes 1"},
		{"zero duration", []string{"--duration", "0s"}, testnetOptions{}, "--duration"},
		{"negative rate", []string{"--tx-rate", "-1"}, testnetOptions{}, "--tx-rate"},
		{"unknown fault", []string{"--fault", "flood"}, testnetOptions{}, "--fault \"flood\""},
		{"faults together", []string{"--fault", "partition,restart"},
			testnetOptions{nodes: 20, duration: time.Minute, txRate: 100, blockInterval: time.Second, fault: "partition,restart"}, ""},
		{"none with a fault", []string{"--fault", "none,restart"}, testnetOptions{}, "--fault \"none,restart\""},
		{"mocknet", []string{"--mocknet", "--nodes", "1000", "--latency", "uniform:10ms-50ms", "--bandwidth", "8"},
			testnetOptions{nodes: 1000, duration: time.Minute, txRate: 100, blockInterval: time.Second, fault: "none",
				mocknet: true, latency: testnet.Latency{Kind: "uniform", Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}, bandwidth: 1e6}, ""},
		{"1000 on loopback", []string{"--nodes", "1000"}, testnetOptions{}, "--nodes 1000: want 2 to 500"},
		{"mocknet restart", []string{"--mocknet", "--fault", "restart"}, testnetOptions{}, "not with --mocknet"},
		{"bad latency", []string{"--latency", "normal:1ms-2ms"}, testnetOptions{}, "--latency"},
		{"latency range reversed", []string{"--latency", "uniform:200ms-20ms"}, testnetOptions{}, "--latency"},
		{"negative bandwidth", []string{"--bandwidth", "-1"}, testnetOptions{}, "--bandwidth"},
		{"bad seed", []string{"--seed", "x"}, testnetOptions{}, "--seed"},
		{"unknown flag", []string{"--bogus"}, testnetOptions{}, "--bogus"},
		{"argument", []string{"extra"}, testnetOptions{}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTestnetFlags(tt.args, io.Discard)
			if tt.err != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want a usage error saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.seed == 0 {
				got.seed = 0 // random unless given
			}
			if !tt.want.mocknet {
				tt.want.latency = testnet.Latency{Kind: "lognormal", Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
				tt.want.bandwidth = 100e6 / 8
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	var help bytes.Buffer
	if _, err := parseTestnetFlags([]string{"--help"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"--nodes", "--duration", "--tx-rate", "--block-interval", "--fault", "--seed", "--verbose", "--senders", "--cpuprofile",
		"--mocknet", "--latency", "--bandwidth"} {
		if !strings.Contains(help.String(), f) {
			t.Errorf("help does not explain %s", f)
		}
	}
}

// TestTestnetCommand runs small networks under load, one with a node
// stopped and restarted and one whose transfers come from funded client
// wallets: every transaction submitted is included once, and the report
// says so.
func TestTestnetCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs networks of nodes for a few seconds")
	}
	for _, tt := range []struct {
		name string
		args []string
		log  string
		// fault: a reorganisation may take back block rewards the
		// nodes' own wallets spent (no coinbase maturity), so a few
		// transfers may end no longer valid; never with --senders.
		fault bool
	}{
		{"restart", []string{"--fault", "restart", "--seed", "5"}, "fault: restarted", true},
		// The simulation, cut in two and healed under load.
		{"mocknet partition", []string{"--mocknet", "--nodes", "8", "--fault", "partition", "--seed", "8"}, "fault: healed", true},
		{"senders", []string{"--senders", "16", "--seed", "6"}, "funding senders", false},
		// Issue 14: faults that overlap, under load.
		{"partition and restart", []string{"--nodes", "6", "--fault", "partition,restart", "--seed", "7"}, "fault: healed", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(append([]string{"testnet", "--nodes", "4", "--duration", "3s", "--tx-rate", "30", "--block-interval", "300ms"}, tt.args...),
				&out, &errOut)
			t.Logf("report:\n%s", out.String())
			if err != nil {
				t.Fatalf("testnet: %v\n%s", err, errOut.String())
			}
			report := out.String()
			m := regexp.MustCompile(`transactions +(\d+) submitted, (\d+) included, (\d+) pending, (\d+) lost(?:, (\d+) no longer valid)?`).FindStringSubmatch(report)
			if m == nil {
				t.Fatalf("no transactions line in the report")
			}
			submitted, _ := strconv.Atoi(m[1])
			included, _ := strconv.Atoi(m[2])
			invalid, _ := strconv.Atoi(m[5])
			// Every transfer on the chain, but under a fault a few that
			// no longer apply (tt.fault).
			maxInvalid := 0
			if tt.fault {
				maxInvalid = submitted / 10
			}
			if submitted == 0 || included+invalid != submitted || invalid > maxInvalid || m[3] != "0" || m[4] != "0" {
				t.Errorf("transactions: %s submitted, %s included, %s pending, %s lost, %d no longer valid: want all included but a few invalidated\n%s",
					m[1], m[2], m[3], m[4], invalid, errOut.String())
			}
			// The throughput line divides what was included by the load's
			// 3 s, and holds it against the verify rate it measured.
			tp := regexp.MustCompile(`throughput +(\d+) included/s over the load; .* verifies (\d+)/s on \d+ cores: ([\d.e+-]+) of that ÷ (\d+)`).FindStringSubmatch(report)
			if tp == nil {
				t.Fatalf("no throughput line in the report")
			}
			rate, _ := strconv.ParseFloat(tp[1], 64)
			verify, _ := strconv.ParseFloat(tp[2], 64)
			ratio, _ := strconv.ParseFloat(tp[3], 64)
			nodes, _ := strconv.ParseFloat(tp[4], 64)
			// rate is rounded to a transfer a second: 5% of slack for that.
			if want := rate * nodes / verify; math.Abs(rate-float64(included)/3) > 1 || verify <= 0 || math.Abs(ratio-want) > 0.05*want {
				t.Errorf("throughput line %q does not follow from %s included in 3 s", tp[0], m[2])
			}
			for _, want := range []string{"every node's ledger matches", "propagation", "peak memory", "verifications per included transfer", "compact blocks", "stale blocks", "gossip ", "per block"} {
				if !strings.Contains(report, want) {
					t.Errorf("report lacks %q", want)
				}
			}
			if !strings.Contains(errOut.String(), tt.log) {
				t.Errorf("no %q in the log:\n%s", tt.log, errOut.String())
			}
		})
	}
}

// TestPresign: each sender's transfers are signed ahead in nonce order,
// valid for the network, the same for the same seed.
func TestPresign(t *testing.T) {
	p := chain.RegTest()
	recipients := []*testnet.Wallet{testnet.NewWallet("r0"), testnet.NewWallet("r1")}
	mk := func() []*sender {
		out := make([]*sender, 3)
		for i := range out {
			out[i] = &sender{w: testnet.NewWallet(fmt.Sprint("s", i)), txs: make([]*chain.Transaction, 0, 5)}
		}
		presign(p, out, recipients, 2, 9)
		return out
	}
	a, b := mk(), mk()
	for i, s := range a {
		if len(s.txs) != 5 {
			t.Fatalf("sender %d: %d transfers signed, want 5", i, len(s.txs))
		}
		for n, tx := range s.txs {
			if tx.Nonce != uint64(n) || tx.Sender != s.w.Addr || tx.Fee != 2 || tx.Amount != 1 {
				t.Fatalf("sender %d transfer %d: %+v", i, n, tx)
			}
			if err := chain.CheckTxSanity(p, tx); err != nil {
				t.Fatalf("sender %d transfer %d: %v", i, n, err)
			}
			if tx.ID() != b[i].txs[n].ID() {
				t.Fatalf("sender %d transfer %d differs between two runs of the same seed", i, n)
			}
		}
	}
}

// TestClassifyGone: a transfer that left every pool is lost only if it
// would still apply to the main chain after its sender's earlier ones,
// pending ones included, in nonce order whatever order they were found
// in;
// one whose nonce the chain spent, one its sender can no longer pay,
// and those after it are no longer valid.
func TestClassifyGone(t *testing.T) {
	p := chain.RegTest()
	a, b, c := testwallet.New("gone a"), testwallet.New("gone b"), testwallet.New("gone c")
	state := testwallet.Ledger{
		a.Addr: {Balance: 100, Nonce: 3},
		b.Addr: {Balance: 100, Nonce: 0},
		c.Addr: {Balance: 100, Nonce: 0},
	}
	left := []submission{
		{tx: a.Tx(p, b.Addr, 10, 0, 2), gone: true},  // spent nonce: invalid
		{tx: b.Tx(p, a.Addr, 40, 0, 2), gone: true},  // listed first, applies after b's nonces 0 and 1: lost
		{tx: b.Tx(p, a.Addr, 5, 0, 1)},               // pending: applied, not counted
		{tx: b.Tx(p, a.Addr, 50, 0, 0), gone: true},  // applies: lost
		{tx: c.Tx(p, a.Addr, 500, 0, 0), gone: true}, // cannot be paid: invalid
		{tx: c.Tx(p, a.Addr, 1, 0, 1), gone: true},   // its predecessor does not apply: invalid
	}
	rep := &testnetReport{}
	classifyGone(slog.New(slog.DiscardHandler), p, state, left, rep)
	if rep.lost != 2 || rep.invalid != 3 {
		t.Fatalf("lost %d, invalid %d; want 2 and 3", rep.lost, rep.invalid)
	}
}
