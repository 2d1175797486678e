package p2p

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/protocol"
)

// TestBlockTxnAnswerReadReserved: the asker of a blocktxn request
// reserves with the resource manager, under the blocktxn service, the
// largest answer the transactions it asks for can make (not the largest
// answer of all: half a megabyte for one transaction), while it reads it, and releases it when the read
// ends, here with a peer that sends one byte and then nothing until it
// resets the stream.
func TestBlockTxnAnswerReadReserved(t *testing.T) {
	newHost := func() *Host {
		h, err := NewHost(context.Background(), HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NetworkID: chain.RegTest().NetworkID()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	asker, server := newHost(), newHost()
	proto := lpprotocol.ID(protocol.BlockTxnProtocol(chain.RegTest().NetworkID()))
	release := make(chan struct{})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // a failed wait must not leave the handler blocked
	server.SetStreamHandler(proto, func(st network.Stream) {
		_, _ = io.ReadAll(st)
		_, _ = st.Write([]byte{1})
		<-release
		_ = st.Reset()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := asker.Connect(ctx, peer.AddrInfo{ID: server.ID(), Addrs: server.Addrs()}); err != nil {
		t.Fatal(err)
	}
	reserved := func() int64 {
		var m int64
		_ = asker.Network().ResourceManager().ViewService(blockTxnService, func(s network.ServiceScope) error {
			m = s.Stat().Memory
			return nil
		})
		return m
	}
	g := &Gossip{host: asker.Host, blockTxnProto: proto, txnWait: 20 * time.Second}
	done := make(chan error, 1)
	go func() {
		_, err := g.requestTxns(ctx, server.ID(), chain.Hash{1}, []int{1})
		done <- err
	}()
	testutil.Eventually(t, 10*time.Second, "the answer reserved while it is read", func() bool {
		return reserved() >= int64(protocol.BlockTxnAnswerBound(1))
	})
	// As much as one transaction's answer takes, not the largest answer.
	if r := reserved(); r >= protocol.MaxBlockTxnResponseSize {
		t.Fatalf("%d bytes reserved for an answer of one transaction, at most %d", r, protocol.BlockTxnAnswerBound(1))
	}
	let()
	if err := <-done; err == nil || errors.Is(err, errNotServed) {
		t.Fatalf("a reset answer read as %v, want a read error", err)
	}
	testutil.Eventually(t, 10*time.Second, "the reservation released", func() bool { return reserved() == 0 })
}
