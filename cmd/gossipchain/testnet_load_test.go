package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

// TestLoadKeepsEverySenderInFlight checks that a slow node does not
// throttle the load: with --senders, every sender has a submission in
// flight while none is answered, as that many independent wallets
// would; the nodes' own wallets keep the fixed pool.
func TestLoadKeepsEverySenderInFlight(t *testing.T) {
	tests := []struct {
		senders, want int
	}{
		{senders: 0, want: loadWorkers},
		{senders: 3, want: loadWorkers},
		{senders: 400, want: 400},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("senders=", tt.senders), func(t *testing.T) {
			senders := make([]*sender, tt.senders)
			for i := range senders {
				senders[i] = &sender{node: i % 5}
			}
			release := make(chan struct{})
			var mu sync.Mutex
			inFlight, most := 0, 0
			ld := &load{submit: func(context.Context, transfer) {
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				<-release // the node has not answered yet
				mu.Lock()
				inFlight--
				mu.Unlock()
			}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				ld.run(ctx, testnetOptions{nodes: 5, txRate: 1e6}, senders, func(int) int { return 0 })
			}()
			testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d submissions in flight", tt.want), func() bool {
				mu.Lock()
				defer mu.Unlock()
				return inFlight >= tt.want
			})
			cancel()
			close(release)
			<-done
			if most != tt.want {
				t.Fatalf("%d submissions in flight at most, want %d", most, tt.want)
			}
		})
	}
}
