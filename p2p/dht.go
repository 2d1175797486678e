package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	dutil "github.com/libp2p/go-libp2p/p2p/discovery/util"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	protocolids "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/protocol"
)

// This file is discovery through the network's own Kademlia DHT: the
// node advertises the network's rendezvous key and looks up the others
// who did, and dials a bounded number of what it finds.

// DHTMode says what part the node plays in the DHT.
type DHTMode string

// DHT modes, as --dht takes them.
const (
	// DHTOff runs no DHT: the zero value, so an in-process node (tests,
	// the testnet harness) has none unless asked.
	DHTOff DHTMode = "off"
	// DHTClient queries and advertises but answers no one's queries: for
	// a node others cannot dial.
	DHTClient DHTMode = "client"
	// DHTServer also answers queries and stores records: for bootstrap
	// nodes and any node with a public address.
	DHTServer DHTMode = "server"
	// DHTAuto is a client until AutoNAT finds the node reachable from
	// outside, then a server (go-libp2p-kad-dht's ModeAuto).
	DHTAuto DHTMode = "auto"
)

// ParseDHTMode reads --dht's value.
func ParseDHTMode(s string) (DHTMode, error) {
	switch m := DHTMode(s); m {
	case DHTOff, DHTClient, DHTServer, DHTAuto:
		return m, nil
	case "":
		return DHTOff, nil
	}
	return "", fmt.Errorf("DHT mode %q: want auto, server, client or off", s)
}

func (m DHTMode) kadMode() dht.ModeOpt {
	switch m {
	case DHTServer:
		return dht.ModeServer
	case DHTClient:
		return dht.ModeClient
	}
	return dht.ModeAuto
}

// dhtDiscovery owns the DHT and the goroutine that advertises and finds.
type dhtDiscovery struct {
	h    *Host
	kad  *dht.IpfsDHT
	disc *drouting.RoutingDiscovery
	ns   string

	// loopback: whether records' loopback addresses are dialled; only
	// when the host listens on loopback itself (tests on one machine).
	loopback bool

	mu sync.Mutex // makes admit's count-then-keep one step
}

// newDHT builds the DHT on the host, namespaced by the network, with the
// bootstrap peers as its only seeds: it never learns of the IPFS DHT's
// peers, and it speaks only to peers that run our protocol prefix.
func newDHT(h *Host) (*dhtDiscovery, error) {
	providers, err := newProviderStore(protocol.Rendezvous(h.cfg.NetworkID))
	if err != nil {
		return nil, err
	}
	opts := []dht.Option{
		dht.ProviderDatastore(providers),
		dht.Mode(h.cfg.DHT.kadMode()),
		dht.ProtocolPrefix(protocolids.ID(protocol.DHTPrefix(h.cfg.NetworkID))),
		dht.BootstrapPeers(h.bootstrap...),
		// We store no values, only provider records for the rendezvous
		// key; without values a peer cannot fill our memory with them.
		dht.DisableValues(),
	}
	kad, err := dht.New(h.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("DHT: %w", err)
	}
	return &dhtDiscovery{
		h:        h,
		kad:      kad,
		disc:     drouting.NewRoutingDiscovery(kad),
		ns:       protocol.Rendezvous(h.cfg.NetworkID),
		loopback: slices.ContainsFunc(h.Network().ListenAddresses(), manet.IsIPLoopback),
	}, nil
}

// run waits for the routing table to hold a peer, then advertises the
// rendezvous key for as long as ctx lasts and looks it up at growing
// intervals. util.Advertise waits two minutes after a failure, so it
// starts only once there is someone to advertise to.
func (d *dhtDiscovery) run(ctx context.Context) {
	h := d.h
	h.log.Info("DHT discovery on", "mode", string(h.cfg.DHT), "prefix", protocol.DHTPrefix(h.cfg.NetworkID), "rendezvous", d.ns)
	for d.kad.RoutingTable().Size() == 0 {
		if !sleep(ctx, dhtWaitPeers) {
			return
		}
	}
	dutil.Advertise(ctx, d.disc, d.ns)
	// When our own addresses change (a relay slot reserved, a NAT
	// mapping observed), the other nodes', behind the same kind of NAT,
	// are likely changing too: the lookups start over from dhtFindMin
	// rather than wait out a long interval with records that are stale.
	// However often the event comes, lookups are dhtFindMin apart at
	// least.
	sub, err := h.EventBus().Subscribe(new(event.EvtLocalAddressesUpdated), eventbus.BufSize(8))
	if err != nil {
		h.log.Warn("DHT discovery: no address events", "reason", err)
	} else {
		defer sub.Close()
	}
	var changed <-chan any
	if sub != nil {
		changed = sub.Out()
	}
	wait := dhtFindMin
	for {
		d.findOnce(ctx)
		next := time.NewTimer(wait)
		due := time.Now().Add(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				next.Stop()
				return
			case <-next.C:
				wait = min(2*wait, dhtFindMax)
				break waiting
			case <-changed:
				if time.Until(due) > dhtFindMin {
					next.Reset(dhtFindMin)
					due = time.Now().Add(dhtFindMin)
					wait = dhtFindMin
				}
			}
		}
	}
}

// findOnce looks the rendezvous key up and starts dial loops for at most
// dhtNewPerRound new peers: records in the DHT are anyone's to write, so
// what one lookup can make the node dial is bounded, and so is the number
// of DHT peers being dialled at once.
func (d *dhtDiscovery) findOnce(ctx context.Context) {
	h := d.h
	fctx, cancel := context.WithTimeout(ctx, dhtFindTimeout)
	defer cancel()
	ch, err := d.disc.FindPeers(fctx, d.ns, discovery.Limit(dhtFindLimit))
	if err != nil {
		h.log.Debug("DHT lookup failed", "reason", err)
		return
	}
	started := 0
	for ai := range ch {
		if started >= dhtNewPerRound {
			continue // drain: the query ends with fctx
		}
		ok, err := d.admit(ai)
		switch {
		case err != nil:
			h.log.Debug("DHT peer ignored", "peer", ai.ID, "addrs", len(ai.Addrs), "reason", err)
		case ok:
			started++
		}
	}
}

var (
	errDHTNoAddrs = errors.New("no dialable address")
	errDHTLoops   = errors.New("too many DHT peers being dialled")
)

// admit starts a dial loop for a DHT record's peer unless it is us, is
// connected or kept already, has no address worth dialling, or the DHT's
// loops are at their bound.
func (d *dhtDiscovery) admit(ai peer.AddrInfo) (bool, error) {
	h := d.h
	if ai.ID == h.ID() || ai.ID == "" || h.dialer.keeping(ai.ID) || h.isConnected(ai.ID) {
		return false, nil
	}
	ai.Addrs = dhtAddrs(ai.Addrs, d.loopback)
	if len(ai.Addrs) == 0 {
		return false, errDHTNoAddrs
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if h.dialer.loops(SourceDHT) >= dhtMaxLoops {
		return false, errDHTLoops
	}
	if !h.dialer.keep(ai, SourceDHT, keepPolicy{maxFailures: dhtMaxFailures}) {
		return false, nil
	}
	h.log.Log(h.ctx, slog.LevelInfo, "peer found", "peer", ai.ID, "addr", addrString(firstAddr(ai)), "addrs", len(ai.Addrs), "source", SourceDHT)
	return true, nil
}

// dhtAddrs keeps at most maxRememberedAddrs of a record's addresses,
// dropping those no remote peer can mean: unspecified ones, and loopback
// ones unless loopback is set (a record pointing a node on a real network
// at its own machine's services).
func dhtAddrs(addrs []multiaddr.Multiaddr, loopback bool) []multiaddr.Multiaddr {
	var out []multiaddr.Multiaddr
	for _, a := range addrs {
		if len(out) == maxRememberedAddrs {
			break
		}
		if manet.IsIPUnspecified(a) || (!loopback && manet.IsIPLoopback(a)) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func (d *dhtDiscovery) close() error { return d.kad.Close() }

// DHTRoutingTableSize reports how many peers the DHT's routing table
// holds; 0 without a DHT.
func (h *Host) DHTRoutingTableSize() int {
	if h.dht == nil {
		return 0
	}
	return h.dht.kad.RoutingTable().Size()
}
