package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// dashboardsDir holds the Grafana dashboards shipped with the node.
const dashboardsDir = "../dashboards"

// grafanaPanel is the part of a Grafana panel the test reads. Rows that
// are collapsed keep their panels inside them.
type grafanaPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaDashboard struct {
	Title      string         `json:"title"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			// A string in old dashboards, {"query": "..."} in newer ones.
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// queries returns the dashboard's PromQL: the targets' expressions and
// the template variables' queries, each with where it comes from.
func (d grafanaDashboard) queries(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				if tg.Expr != "" {
					out[fmt.Sprintf("panel %q target %d", p.Title, i)] = tg.Expr
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if len(v.Query) == 0 {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %q: query %s is neither a string nor {\"query\": ...}", v.Name, v.Query)
			}
			q = obj.Query
		}
		if q != "" {
			out[fmt.Sprintf("variable %q", v.Name)] = q
		}
	}
	return out
}

var (
	// promString matches PromQL string literals, dropped before looking
	// for metric names so that a label value is never taken for one.
	promString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	// promMetric matches the names of the metrics a node exports: its
	// own, go-libp2p's and the Go and process collectors'. Function names,
	// keywords, label names and Grafana's $__ variables never start so.
	promMetric = regexp.MustCompile(`\b(?:gossipchain|libp2p|go|process)_[a-zA-Z0-9_]*`)
)

// metricNames returns the metric names a PromQL expression queries.
func metricNames(expr string) []string {
	return promMetric.FindAllString(promString.ReplaceAllString(expr, `""`), -1)
}

// loadDashboards reads every dashboard under dir and returns, by file,
// the metric names each queries and from where.
func loadDashboards(t *testing.T, dir string) map[string]map[string][]string {
	t.Helper()
	all := map[string]map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var d grafanaDashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Errorf("%s: not valid JSON: %v", path, err)
			return nil
		}
		if d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: want a title and at least one panel, have title %q and %d panels", path, d.Title, len(d.Panels))
		}
		names := map[string][]string{}
		for where, q := range d.queries(t) {
			for _, name := range metricNames(q) {
				names[name] = append(names[name], where)
			}
		}
		if len(names) == 0 {
			t.Errorf("%s: queries no metric of the node's", path)
		}
		all[path] = names
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatalf("no dashboards under %s", dir)
	}
	return all
}

// exportedFamilies scrapes /metrics and returns each metric family's
// type by name. promhttp writes a family's "# TYPE" line only when the
// family has at least one sample, so a vector never observed is absent.
func exportedFamilies(t *testing.T, url string) map[string]string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	fams := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			fams[f[2]] = f[3]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return fams
}

// exported reports whether a queried name is a series the families
// hold: a family's own name, or a histogram's _bucket, _sum or _count
// (a summary's _sum or _count). The suffix is stripped only for those
// types, so gossipchain_height_count is not taken for gossipchain_height.
func exported(fams map[string]string, name string) bool {
	if _, ok := fams[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		switch fams[base] {
		case "histogram":
			return true
		case "summary":
			return suffix != "_bucket"
		}
	}
	return false
}

// TestDashboardsQueryExportedMetrics: every dashboard under dashboards/
// is valid JSON with a title and panels, and every metric its queries
// name is on a node's /metrics once the node has done what the panels
// show. Vectors (counters and histograms with labels) appear only once
// observed, so the nodes below go through each activity the dashboards
// graph: a peer connected and one disconnected, blocks mined and
// gossiped, a transaction sent, a dial that fails, an identify push, a
// stream the resource manager refuses.
func TestDashboardsQueryExportedMetrics(t *testing.T) {
	dashboards := loadDashboards(t, dashboardsDir)

	a, aSrv := startedServer(t)
	b, bSrv := startedServer(t)
	code, out := do(t, bSrv, http.MethodPost, "/register-node", fmt.Sprintf(`{"address":%q}`, a.Host().FullAddrs()[0]))
	if code != http.StatusCreated {
		t.Fatalf("b registers a: %d %v", code, out)
	}
	mine(t, aSrv)
	mine(t, aSrv)
	testutil.Eventually(t, 20*time.Second, "b on a's tip", func() bool { return b.Chain().Tip().Hash == a.Chain().Tip().Hash })
	code, out = do(t, aSrv, http.MethodPost, "/create-transaction", fmt.Sprintf(`{"recipient":%q,"amount":10}`, testwallet.Random(t).Addr))
	if code != http.StatusCreated {
		t.Fatalf("create-transaction: %d %v", code, out)
	}
	testutil.Eventually(t, 10*time.Second, "the transaction in b's mempool", func() bool { return b.Stats().Status.Mempool == 1 })

	// A dial that fails: the swarm's dial errors.
	const nobody = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLuCZSrJoUx4MwbLb7Kt1KdFfT27crVYJdTDzrMzW4FHH"
	if code, out := do(t, bSrv, http.MethodPost, "/register-node", fmt.Sprintf(`{"address":%q}`, nobody)); code != http.StatusBadGateway {
		t.Fatalf("register an unreachable peer: %d %v, want 502", code, out)
	}
	// A peer that connects and hangs up: connections closed and their
	// duration.
	c, _ := startedServer(t)
	if err := c.Host().Connect(t.Context(), peer.AddrInfo{ID: a.Host().ID(), Addrs: a.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	if err := c.Host().Network().ClosePeer(a.Host().ID()); err != nil {
		t.Fatal(err)
	}
	// A new listen address: a pushes its addresses to b by identify push,
	// as a node does when its addresses change.
	if err := a.Host().Network().Listen(multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")); err != nil {
		t.Fatal(err)
	}
	// More ping streams than a's resource manager lets one peer open
	// (two inbound): a refuses the third, a blocked resource. The streams
	// end with the hosts.
	for range 3 {
		s, err := b.Host().NewStream(t.Context(), a.Host().ID(), ping.ID)
		if err != nil {
			t.Fatalf("ping stream: %v", err)
		}
		// A ping stream is negotiated on a's side once b writes on it.
		if _, err := s.Write(make([]byte, 32)); err != nil {
			t.Fatalf("ping stream: %v", err)
		}
	}
	// The refused stream is reset, not the connection: a and b stay
	// peers, which the identify push above needs.
	if a.Host().Network().Connectedness(b.Host().ID()) != network.Connected {
		t.Fatal("a and b disconnected")
	}

	// go-libp2p's metrics are process-wide, so a's /metrics has what
	// every host here did; they are recorded asynchronously (identify,
	// closed connections), hence the wait.
	testutil.EventuallyErr(t, 20*time.Second, "every metric the dashboards query on /metrics", func() error {
		fams := exportedFamilies(t, aSrv.URL)
		var missing []string
		for path, names := range dashboards {
			for name, where := range names {
				if !exported(fams, name) {
					slices.Sort(where)
					missing = append(missing, fmt.Sprintf("%s: %s (%s)", path, name, strings.Join(where, ", ")))
				}
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return fmt.Errorf("not exported:\n%s", strings.Join(missing, "\n"))
		}
		return nil
	})
}
