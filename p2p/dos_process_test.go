package p2p_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio"

	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// The mempool attacks measured whole, each side in its own process
// (docs/benchmarks.md): the attacker is this test binary run again with
// GOSSIPCHAIN_DOS_ATTACKER set (TestDoSAttacker), the victim a node's
// host, syncer and gossip with default settings in the test process. Each
// side's cost is its process's CPU time (getrusage) over the attack, less
// what the same process spent idle, connected, over a window just before.

// dosCase is one attack: the network, the victim's mempool options, and
// the i-th message's transaction.
type dosCase struct {
	params func() *chain.Params
	opts   []chain.MempoolOption
	tx     func(i int) *chain.Transaction
}

var dosCases = map[string]dosCase{
	"feejam": {params: chain.OpenNet, tx: feeJamTx},
	"zerofee": {params: chain.RegTest, opts: []chain.MempoolOption{chain.WithMinRelayFee(chain.DefaultMinRelayFee)},
		tx: func(i int) *chain.Transaction {
			m := testwallet.New("mallory")
			return m.Tx(chain.RegTest(), m.Addr, 1, 0, uint64(i))
		}},
	// Fees at the network's floor, below a victim that asks five times
	// it: local policy, never a fault, so never banned.
	"floorfee": {params: chain.RegTest, opts: []chain.MempoolOption{chain.WithMinRelayFee(5 * chain.DefaultMinRelayFee)},
		tx: func(i int) *chain.Transaction {
			m := testwallet.New("mallory")
			return m.Tx(chain.RegTest(), m.Addr, 1, 1, uint64(i))
		}},
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// attackerReport is what the attacker process reports when done.
type attackerReport struct {
	Built, Sent            int
	Identities, Refused    int
	CPU, IdleCPU           time.Duration
	Wall, IdleWall, Sign   time.Duration
	SentPerIdentity        []int
	ConnectFailures        []string
	FirstDisconnectAfterMs int64
}

// dosAttacker is one identity of the attacker, built to cost its owner as
// little as it can: a bare host (no listener) that writes GossipSub RPCs,
// one message each, straight onto a stream (the stream's flow control
// paces it; nothing is queued or dropped on its side), and answers the
// victim's status requests so that the victim's syncer keeps it.
type dosAttacker struct {
	h     host.Host
	st    network.Stream
	w     msgio.WriteCloser
	topic string
}

func newDosAttacker(t *testing.T, c *testChain, victim peer.AddrInfo) (*dosAttacker, error) {
	h, err := libp2p.New(libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	answerStatus(h, c)
	// The victim's own GossipSub stream to us: read and dropped.
	h.SetStreamHandler(pubsub.GossipSubID_v11, func(st network.Stream) { _, _ = io.Copy(io.Discard, st) })
	a := &dosAttacker{h: h, topic: protocol.TxTopic(c.Params().NetworkID())}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Connect(ctx, victim); err != nil {
		a.close()
		return nil, err
	}
	if a.st, err = h.NewStream(ctx, victim.ID, pubsub.GossipSubID_v11); err != nil {
		a.close()
		return nil, err
	}
	a.w = msgio.NewVarintWriter(a.st)
	sub := true
	if err := a.send(&pubsubpb.RPC{Subscriptions: []*pubsubpb.RPC_SubOpts{{Subscribe: &sub, Topicid: &a.topic}}}); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *dosAttacker) send(rpc *pubsubpb.RPC) error {
	b, err := proto.Marshal(rpc)
	if err != nil {
		return err
	}
	return a.w.WriteMsg(b)
}

func (a *dosAttacker) close() { _ = a.h.Close() }

// flood writes msgs until all are written or the victim hangs up, and
// returns how many were written.
func (a *dosAttacker) flood(msgs [][]byte) int {
	for i, m := range msgs {
		if err := a.send(&pubsubpb.RPC{Publish: []*pubsubpb.Message{{Data: m, Topic: &a.topic}}}); err != nil {
			return i
		}
	}
	return len(msgs)
}

// TestDoSAttacker is the attacker of TestDoSCostProcesses, in a process
// of its own: it skips unless that test runs it.
func TestDoSAttacker(t *testing.T) {
	mode := os.Getenv("GOSSIPCHAIN_DOS_ATTACKER")
	if mode == "" {
		t.Skip("run by TestDoSCostProcesses")
	}
	tc := dosCases[mode]
	victim, err := peer.AddrInfoFromString(os.Getenv("GOSSIPCHAIN_DOS_VICTIM"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(os.Getenv("GOSSIPCHAIN_DOS_N"))
	ids, _ := strconv.Atoi(os.Getenv("GOSSIPCHAIN_DOS_IDS"))
	// For a sustained attack: fresh identities until this long has passed.
	for_, _ := time.ParseDuration(os.Getenv("GOSSIPCHAIN_DOS_FOR"))
	c := newTestChainFor(t, tc.params())
	in := bufio.NewScanner(os.Stdin)
	a, err := newDosAttacker(t, c, *victim)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("DOS READY")
	idle0, idleStart := cpuTime(), time.Now()
	in.Scan() // GO
	r := attackerReport{IdleCPU: cpuTime() - idle0, IdleWall: time.Since(idleStart), Built: n, Identities: 1}
	cpu0, start := cpuTime(), time.Now()
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = txsMsg(tc.tx(i))
	}
	r.Sign = time.Since(start)
	for a != nil {
		k := a.flood(msgs[r.Sent:])
		r.Sent += k
		r.SentPerIdentity = append(r.SentPerIdentity, k)
		if r.Sent == n || for_ > 0 && time.Since(start) > for_ {
			break
		}
		if r.FirstDisconnectAfterMs == 0 {
			r.FirstDisconnectAfterMs = time.Since(start).Milliseconds()
		}
		a.close()
		for a = nil; a == nil && (r.Identities+r.Refused < ids || for_ > 0 && time.Since(start) < for_); {
			if a, err = newDosAttacker(t, c, *victim); err != nil {
				r.Refused++
				r.ConnectFailures = append(r.ConnectFailures, err.Error())
			} else {
				r.Identities++
			}
		}
	}
	if a != nil {
		_ = a.st.CloseWrite()
	}
	r.CPU, r.Wall = cpuTime()-cpu0, time.Since(start)
	if len(r.ConnectFailures) > 3 { // the rest are alike
		r.ConnectFailures = r.ConnectFailures[:3]
	}
	out, _ := json.Marshal(r)
	fmt.Println("DOS DONE " + string(out))
	in.Scan() // END: the victim has measured; our teardown is not the attack's
	if a != nil {
		a.close()
	}
}

// TestDoSCostProcesses measures the fee jam and zero-fee bloat with each
// side in its own process, for docs/benchmarks.md. A figure, not a check
// of timing: it runs only with GOSSIPCHAIN_DOS_FIGURES=1.
func TestDoSCostProcesses(t *testing.T) {
	if os.Getenv("GOSSIPCHAIN_DOS_FIGURES") == "" {
		t.Skip("set GOSSIPCHAIN_DOS_FIGURES=1 to measure")
	}
	const idleWindow = 3 * time.Second
	for _, run := range []struct {
		name, mode string
		n, ids     int
		// sustained: the attacker comes back with fresh identities for
		// this long, and the victim counts bans against loopback as
		// against a remote IP (protocol.md §14.4 rule 2).
		sustained time.Duration
	}{
		{"feejam", "feejam", 20000, 8, 0},
		{"zerofee", "zerofee", 2000, 8, 0},
		{"floorfee", "floorfee", 2000, 8, 0},
		{"sustained", "feejam", 400000, 0, 20 * time.Second},
	} {
		t.Run(run.name, func(t *testing.T) {
			if f := os.Getenv("GOSSIPCHAIN_DOS_ONLY"); f != "" && !strings.Contains(","+f+",", ","+run.name+",") {
				t.Skip("not in GOSSIPCHAIN_DOS_ONLY")
			}
			tc := dosCases[run.mode]
			c := newTestChainFor(t, tc.params(), tc.opts...)
			vh, err := p2p.NewHost(context.Background(), p2p.HostConfig{
				Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NetworkID: c.Params().NetworkID()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { vh.Close() })
			if run.sustained > 0 {
				vh.CountLoopbackBans()
			}
			if err := vh.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			bl := newBanLog(vh)
			s := p2p.NewSyncer(context.Background(), vh.Host, c, bl)
			t.Cleanup(s.Close)
			g, err := p2p.NewGossip(context.Background(), vh.Host, c, s, p2p.WithPubSubOptions(pubsub.WithRawTracer(bl)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Close() })
			bl.g = g

			cmd := exec.Command(os.Args[0], "-test.run", "^TestDoSAttacker$")
			cmd.Env = append(os.Environ(), "GOSSIPCHAIN_DOS_ATTACKER="+run.mode,
				"GOSSIPCHAIN_DOS_VICTIM="+vh.Addrs()[0].String()+"/p2p/"+vh.ID().String(),
				"GOSSIPCHAIN_DOS_N="+strconv.Itoa(run.n), "GOSSIPCHAIN_DOS_IDS="+strconv.Itoa(run.ids),
				"GOSSIPCHAIN_DOS_FOR="+run.sustained.String())
			stdin, err1 := cmd.StdinPipe()
			stdout, err2 := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
			lines := bufio.NewScanner(stdout)
			expect := func(prefix string) string {
				t.Helper()
				for lines.Scan() {
					if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
						return rest
					}
					t.Log("attacker: " + lines.Text())
				}
				t.Fatalf("the attacker ended before %q", prefix)
				return ""
			}
			expect("DOS READY")
			idle0, idleStart := cpuTime(), time.Now()
			time.Sleep(idleWindow) // the measurement window itself, not a wait for an event
			idleCPU, idleWall := cpuTime()-idle0, time.Since(idleStart)
			cpu0, start := cpuTime(), time.Now()
			if _, err := io.WriteString(stdin, "GO\n"); err != nil {
				t.Fatal(err)
			}
			var r attackerReport
			if err := json.Unmarshal([]byte(expect("DOS DONE ")), &r); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 60*time.Second, "no validation under way", func() bool {
				st := g.Stats().Tx
				return st.In == st.Accepted+st.Rejected+st.Ignored
			})
			cpu, wall := cpuTime()-cpu0, time.Since(start)
			if _, err := io.WriteString(stdin, "END\n"); err != nil {
				t.Fatal(err)
			}
			net := func(cpu, idle, idleWall, wall time.Duration) time.Duration {
				return cpu - time.Duration(float64(idle)*float64(wall)/float64(idleWall))
			}
			victimNet := net(cpu, idleCPU, idleWall, wall)
			attackerNet := net(r.CPU, r.IdleCPU, r.IdleWall, r.Wall)
			st := g.Stats().Tx
			perID := fmt.Sprint(r.SentPerIdentity)
			if len(r.SentPerIdentity) > 10 {
				perID = fmt.Sprintf("%v ... (%d)", r.SentPerIdentity[:10], len(r.SentPerIdentity))
			}
			t.Logf("attacker: %d built (%v), %d written over %d identities (per identity %s), %d refused at connect; CPU %v in %v (idle %v in %v), net %v",
				r.Built, r.Sign, r.Sent, r.Identities, perID, r.Refused, r.CPU, r.Wall, r.IdleCPU, r.IdleWall, attackerNet)
			t.Log(bl.summary())
			t.Logf("victim: %d validated (%d rejected, %d ignored, %d accepted); CPU %v in %v (idle %v in %v), net %v; mempool %d; attacker refused at connect: %v",
				st.In, st.Rejected, st.Ignored, st.Accepted, cpu, wall, idleCPU, idleWall, victimNet, c.mp.Len(), r.ConnectFailures)
			t.Logf("RATIO %s: victim %v / attacker %v = %.2f%% (raw CPU %.2f%%)", run.mode, victimNet, attackerNet,
				100*float64(victimNet)/float64(attackerNet), 100*float64(cpu)/float64(r.CPU))
		})
	}
}
