package protocol

import (
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// Every name is namespaced by the network, so two networks never share a
// topic, a protocol or an mDNS service.
func TestNamesPerNetwork(t *testing.T) {
	names := map[string]func(chain.Hash) string{
		"TxTopic":          TxTopic,
		"BlockTopic":       BlockTopic,
		"SyncProtocol":     SyncProtocol,
		"BlockTxnProtocol": BlockTxnProtocol,
		"MapProtocol":      MapProtocol,
		"MDNSService":      MDNSService,
	}
	a, b := hashOf("network a"), hashOf("network b")
	if NetTag(a) == NetTag(b) {
		t.Fatalf("NetTag(%s) == NetTag(%s)", a, b)
	}
	seen := make(map[string]string)
	for fname, f := range names {
		for _, net := range []chain.Hash{a, b} {
			name := f(net)
			if !strings.Contains(name, NetTag(net)) {
				t.Errorf("%s(%s) = %q lacks the tag %q", fname, net.Short(), name, NetTag(net))
			}
			if other, dup := seen[name]; dup {
				t.Errorf("%s and %s are both %q", other, fname, name)
			}
			seen[name] = fname + " of " + net.Short()
		}
	}
	if got, want := TxTopic(a), "/gossipchain/"+NetTag(a)+"/tx/3"; got != want {
		t.Errorf("TxTopic = %q, want %q (docs/protocol.md)", got, want)
	}
	if got, want := BlockTopic(a), "/gossipchain/"+NetTag(a)+"/block/3"; got != want {
		t.Errorf("BlockTopic = %q, want %q (docs/protocol.md)", got, want)
	}
	if got, want := BlockTxnProtocol(a), "/gossipchain/"+NetTag(a)+"/blocktxn/1.0.0"; got != want {
		t.Errorf("BlockTxnProtocol = %q, want %q (docs/protocol.md)", got, want)
	}
	if got, want := SyncProtocol(a), "/gossipchain/"+NetTag(a)+"/sync/1.0.0"; got != want {
		t.Errorf("SyncProtocol = %q, want %q (docs/protocol.md)", got, want)
	}
	if got, want := MapProtocol(a), "/gossipchain/"+NetTag(a)+"/netmap/1.0.0"; got != want {
		t.Errorf("MapProtocol = %q, want %q (docs/protocol.md §19.2)", got, want)
	}
	// An mDNS service name is a DNS label: at most 63 bytes.
	if n := len(MDNSService(a)); n > 63 {
		t.Errorf("MDNSService is %d bytes, more than a DNS label holds", n)
	}
	if len(NetTag(a)) != 16 {
		t.Errorf("NetTag %q is not 16 hex digits", NetTag(a))
	}
}

// The predefined networks differ in every name.
func TestPredefinedNetworksApart(t *testing.T) {
	seen := make(map[string]string)
	for _, name := range chain.NetworkNames() {
		p, err := chain.ParamsByName(name)
		if err != nil {
			t.Fatal(err)
		}
		tag := NetTag(p.NetworkID())
		if other, dup := seen[tag]; dup {
			t.Errorf("%s and %s share the tag %s", other, name, tag)
		}
		seen[tag] = name
	}
}
