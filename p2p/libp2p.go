package p2p

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// newLibp2p builds the production libp2p host: TCP and QUIC, Noise,
// yamux, identify, the resource manager with libp2p's default scaled
// limits, the connection manager and gater, and NAT traversal (nat.go)
// with relayPeers as AutoRelay's source of candidates.
func newLibp2p(cfg *HostConfig, key crypto.PrivKey, gater *Gater,
	relayPeers func(context.Context, int) <-chan peer.AddrInfo) (host.Host, *connmgr.BasicConnMgr, error) {
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		return nil, nil, fmt.Errorf("connection manager: %w", err)
	}
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	var rmOpts []rcmgr.Option
	if cfg.Metrics != nil {
		rcmgr.MustRegisterWith(cfg.Metrics)
		str, err := rcmgr.NewStatsTraceReporter()
		if err != nil {
			cm.Close()
			return nil, nil, fmt.Errorf("resource manager metrics: %w", err)
		}
		rmOpts = append(rmOpts, rcmgr.WithTraceReporter(str))
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()), rmOpts...)
	if err != nil {
		cm.Close()
		return nil, nil, fmt.Errorf("resource manager: %w", err)
	}
	if err := checkPortsFree(cfg.Listen); err != nil {
		cm.Close()
		rm.Close()
		return nil, nil, err
	}
	nat, err := natOptions(cfg, relayPeers)
	if err != nil {
		cm.Close()
		rm.Close()
		return nil, nil, err
	}
	opts := []libp2p.Option{
		libp2p.UserAgent(UserAgent()),
		libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.ConnectionGater(gater),
		// SO_REUSEPORT on, go-libp2p's default: outgoing TCP leaves
		// from the listening port, so a NAT maps it as it maps the
		// listener and TCP hole punching can work. It was off because a
		// second node given the same --listen then started without error
		// (checkPortsFree refuses that now) and because simultaneous
		// mDNS dials failed (the mDNS yield, discovery.go, avoids them).
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
	}
	opts = append(opts, nat...)
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		// Without a registerer go-libp2p would use Prometheus's global
		// one, which no /metrics of ours serves.
		opts = append(opts, libp2p.DisableMetrics())
	}
	if key != nil {
		opts = append(opts, libp2p.Identity(key))
	}
	lh, err := libp2p.New(opts...)
	if err != nil {
		// libp2p.New closes what it was given only once it owns it.
		cm.Close()
		rm.Close()
		return nil, nil, fmt.Errorf("libp2p host: %w", err)
	}
	return lh, cm, nil
}

// injectedLibp2p builds the host with cfg.Libp2p. The connection
// manager is not the host's (mocknet hosts have none that trims), but
// Host keeps one for its protections, so the rest of the code is the
// same on both paths; Close closes it.
func injectedLibp2p(cfg HostConfig, key crypto.PrivKey, gater *Gater) (host.Host, *connmgr.BasicConnMgr, error) {
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		return nil, nil, fmt.Errorf("connection manager: %w", err)
	}
	lh, err := cfg.Libp2p(key)
	if err != nil {
		cm.Close()
		return nil, nil, fmt.Errorf("libp2p host: %w", err)
	}
	// An injected host may take no gater (mocknet's cannot), so bans and
	// blocks are enforced as a connection opens instead: one that slips
	// through a dial begun before the block is closed at once.
	lh.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if gater.refuses(c.RemotePeer()) {
			go c.Close()
		}
	}})
	return lh, cm, nil
}
