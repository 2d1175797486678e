package chain_test

import (
	"context"
	"testing"
)

// BenchmarkConnectCachedAccounts454 connects a block of 454 transfers
// (a relay benchmark's 100 KiB block), its signatures cached, with its
// accounts read from the store (accounts=store: none was read before, as
// on a node that never admitted them) and with every one of them in the
// chain's account cache (accounts=cached: as on a relay hop whose
// mempool admitted the transfers), so the two differ only in where the
// connect reads its 456 accounts. The commit (no fsync) is included.
func BenchmarkConnectCachedAccounts454(b *testing.B) {
	h, blk := signedBlock(b, 454)
	before := mainAboveGenesis(b, h.c)
	for _, cached := range []bool{false, true} {
		name := map[bool]string{false: "accounts=store", true: "accounts=cached"}[cached]
		b.Run(name, func(b *testing.B) {
			var cost procCost
			for b.Loop() {
				b.StopTimer()
				c, _, closeStore := admittedChain(b, before, blk, true)
				if cached {
					for i, tx := range blk.Transactions {
						addrs := []string{tx.Recipient}
						if i > 0 { // the coinbase has no sender account
							addrs = append(addrs, tx.Sender)
						}
						for _, addr := range addrs {
							if _, err := c.Account(addr); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				from := sampleProc(b)
				b.StartTimer()
				_, err := c.ProcessBlock(context.Background(), blk)
				b.StopTimer()
				cost.add(b, from)
				closeStore()
				if err != nil {
					b.Fatalf("the block did not connect: %v", err)
				}
				b.StartTimer()
			}
			cost.report(b)
		})
	}
}
