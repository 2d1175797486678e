// Package netnstest builds private networks for tests out of Linux network
// namespaces: one namespace holding a bridge, and a namespace per host,
// each with a veth into the bridge. mDNS multicasts on every interface, so
// tests that run it must run it here and never in the root namespace
// (docs/architecture.md, pitfalls). Every namespace is deleted when the test
// ends, failed or not. It needs root and iproute2; without them Require
// skips the test, or fails it when CI=true, where a skip would hide that
// the test never ran.
package netnstest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Host is one namespace of a test network.
type Host struct {
	NS string // the namespace, for ip netns exec
	IP string // the address of its eth0
}

// Require skips t (fails it under CI=true) where namespaces cannot be made.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skip(t, "needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip(t, "needs the ip command (iproute2)")
	}
}

func skip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("network namespace test cannot run, and CI=true: %s", why)
	}
	t.Skipf("network namespace test skipped: %s (set CI=true to make this a failure)", why)
}

// New builds a network of n hosts:
//
//	<prefix>-br:  br0 (bridge), v1 … vn (veth ends, enslaved to br0)
//	<prefix>-n<i>: lo and eth0 <subnet><i>/24, both with MULTICAST on
//
// subnet is the first three octets with a trailing dot, e.g. "198.18.0.":
// 198.18.0.0/15 is set aside for network tests (RFC 2544) and routed
// nowhere, and no interface of the root namespace is touched. The prefix
// should hold the process id so parallel runs do not collide.
func New(t testing.TB, prefix, subnet string, n int) []Host {
	t.Helper()
	bridge := prefix + "-br"
	add(t, bridge)
	ip(t, "-n", bridge, "link", "set", "lo", "up")
	ip(t, "-n", bridge, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", bridge, "link", "set", "br0", "up")
	hosts := make([]Host, n)
	for i := range hosts {
		h := Host{NS: fmt.Sprintf("%s-n%d", prefix, i+1), IP: fmt.Sprintf("%s%d", subnet, i+1)}
		veth := fmt.Sprintf("v%d", i+1)
		add(t, h.NS)
		ip(t, "-n", bridge, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
		ip(t, "-n", bridge, "link", "set", veth, "master", "br0")
		ip(t, "-n", bridge, "link", "set", veth, "up")
		// lo has no MULTICAST flag by default (docs/architecture.md, pitfalls).
		ip(t, "-n", h.NS, "link", "set", "lo", "up", "multicast", "on")
		ip(t, "-n", h.NS, "addr", "add", h.IP+"/24", "dev", "eth0")
		ip(t, "-n", h.NS, "link", "set", "eth0", "up", "multicast", "on")
		hosts[i] = h
	}
	return hosts
}

// add creates a namespace that is deleted when the test ends.
func add(t testing.TB, name string) {
	t.Helper()
	ip(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
}

// ip runs ip. A failure means this machine cannot build the network (no
// CAP_NET_ADMIN, no veth or bridge module): skip, or fail under CI.
func ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		skip(t, fmt.Sprintf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out)))
	}
}
