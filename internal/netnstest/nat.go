package netnstest

import (
	"fmt"
	"os/exec"
	"testing"
)

// NATLab is a small internet in namespaces: a public segment, and LANs
// behind NAT routers that masquerade their hosts' traffic (nftables).
//
//	<prefix>-inet:  br0, the public segment <public>.0/24
//	<prefix>-pub:   eth0 <public>.10, the public host
//	<prefix>-r<L>:  wan <public>.<L>, lan 10.0.<L>.1/24, forwarding, masquerade out of wan
//	<prefix>-l<L>:  br0 of LAN L
//	<prefix>-h<L><i>: eth0 10.0.<L>.<10+i>/24, default route via 10.0.<L>.1
//
// The public segment's addresses are whatever the caller picks: a lab
// uses 100.64.0.0/10 (shared address space) or 198.18.0.0/15 (set aside
// for network tests), which go-libp2p counts as non-public, so nodes
// there need --public-cidr. Nothing routes out of the lab.
type NATLab struct {
	Public  Host
	Routers []Host   // Routers[L].IP is LAN L's public address
	LANs    [][]Host // hosts of each LAN
}

// RequireNFT skips t (fails it under CI=true) where nft is missing.
func RequireNFT(t testing.TB) {
	t.Helper()
	Require(t)
	if _, err := exec.LookPath("nft"); err != nil {
		skip(t, "needs the nft command (nftables) for NAT")
	}
}

// NewNATLab builds the lab with len(lanSizes) LANs of the given sizes.
// public is the public segment's first three octets with a trailing dot.
func NewNATLab(t testing.TB, prefix, public string, lanSizes ...int) NATLab {
	t.Helper()
	inet := prefix + "-inet"
	newBridge(t, inet)
	lab := NATLab{Public: Host{NS: prefix + "-pub", IP: public + "10"}}
	attach(t, inet, "vpub", lab.Public.NS, "eth0", lab.Public.IP+"/24")
	for l, n := range lanSizes {
		l1 := l + 1
		r := Host{NS: fmt.Sprintf("%s-r%d", prefix, l1), IP: fmt.Sprintf("%s%d", public, l1)}
		attach(t, inet, fmt.Sprintf("vr%d", l1), r.NS, "wan", r.IP+"/24")
		lan := fmt.Sprintf("%s-l%d", prefix, l1)
		newBridge(t, lan)
		gw := fmt.Sprintf("10.0.%d.1", l1)
		attachExisting(t, lan, "vr", r.NS, "lan", gw+"/24")
		run(t, "ip", "netns", "exec", r.NS, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
		// Masquerade: the LAN's connections leave with the router's wan
		// address; Linux keeps each source port when it is free, as
		// most home routers do (endpoint-independent mapping), and lets
		// in only replies to what went out.
		//
		// Unsolicited packets from the wan to the router itself are
		// dropped, as home routers do. Without that the router answers
		// a hole punch's first packet, arriving before the LAN host's
		// own, with a port-unreachable, and the conntrack entry that
		// answer leaves makes the host's packet leave from another port.
		run(t, "ip", "netns", "exec", r.NS, "nft",
			"add table ip nat; add chain ip nat post { type nat hook postrouting priority 100 ; }; "+
				"add rule ip nat post oifname \"wan\" masquerade; "+
				"add table ip filter; add chain ip filter input { type filter hook input priority 0 ; }; "+
				"add rule ip filter input iifname \"wan\" ct state new drop")
		lab.Routers = append(lab.Routers, r)
		var hosts []Host
		for i := range n {
			h := Host{NS: fmt.Sprintf("%s-h%d%d", prefix, l1, i+1), IP: fmt.Sprintf("10.0.%d.%d", l1, 11+i)}
			attach(t, lan, fmt.Sprintf("v%d", i+1), h.NS, "eth0", h.IP+"/24")
			ip(t, "-n", h.NS, "route", "add", "default", "via", gw)
			hosts = append(hosts, h)
		}
		lab.LANs = append(lab.LANs, hosts)
	}
	return lab
}

// newBridge makes namespace ns with a bridge br0 in it.
func newBridge(t testing.TB, ns string) {
	t.Helper()
	add(t, ns)
	ip(t, "-n", ns, "link", "set", "lo", "up")
	ip(t, "-n", ns, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", ns, "link", "set", "br0", "up")
}

// attach makes namespace ns and joins it to bridge's br0 by a veth whose
// bridge end is veth and whose ns end is ifname, with address cidr.
func attach(t testing.TB, bridge, veth, ns, ifname, cidr string) {
	t.Helper()
	add(t, ns)
	ip(t, "-n", ns, "link", "set", "lo", "up")
	attachExisting(t, bridge, veth, ns, ifname, cidr)
}

// attachExisting is attach for a namespace that exists already.
func attachExisting(t testing.TB, bridge, veth, ns, ifname, cidr string) {
	t.Helper()
	ip(t, "-n", bridge, "link", "add", veth, "type", "veth", "peer", "name", ifname, "netns", ns)
	ip(t, "-n", bridge, "link", "set", veth, "master", "br0")
	ip(t, "-n", bridge, "link", "set", veth, "up")
	ip(t, "-n", ns, "addr", "add", cidr, "dev", ifname)
	ip(t, "-n", ns, "link", "set", ifname, "up")
}

// run runs a command that builds the lab; a failure skips the test
// (fails it under CI), as ip's do.
func run(t testing.TB, prog string, args ...string) {
	t.Helper()
	if out, err := exec.Command(prog, args...).CombinedOutput(); err != nil {
		skip(t, fmt.Sprintf("%s %v: %v: %s", prog, args, err, out))
	}
}
