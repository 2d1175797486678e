package p2p_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"
)

// emptyProto is the benchmark's floor: a stream whose server writes one
// byte and closes.
const emptyProto = lpprotocol.ID("/gossipchain-bench/empty/1.0.0")

// BenchmarkNetMapAsk: one map request between two connected nodes on
// loopback (open the stream, read and check the answer, keep it), against
// its floor measured in the same run: a stream opened, one byte read,
// closed. The server's rate limit is refilled between requests.
//
//	go test ./p2p -run '^$' -bench BenchmarkNetMapAsk -benchtime 2000x -count 3
func BenchmarkNetMapAsk(b *testing.B) {
	asker, server := newMapNode(b), newMapNode(b)
	connect(b, asker.h, server.h)
	advance := server.s.FreezeServeClock()
	server.h.SetStreamHandler(emptyProto, func(st network.Stream) {
		defer st.Close()
		_, _ = st.Write([]byte{1})
	})
	ctx := context.Background()
	b.Run("floor=stream", func(b *testing.B) {
		for b.Loop() {
			st, err := asker.h.NewStream(ctx, server.h.ID(), emptyProto)
			if err != nil {
				b.Fatal(err)
			}
			_ = st.CloseWrite()
			if _, err := io.ReadAll(st); err != nil {
				b.Fatal(err)
			}
			st.Close()
		}
	})
	b.Run("ask", func(b *testing.B) {
		for b.Loop() {
			advance(time.Minute)
			if err := asker.m.Ask(ctx, server.h.ID()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
