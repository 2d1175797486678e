package chain_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// cpuTime is the process's user and system CPU time so far. The phases
// measured below run one after the other, so the difference across one
// is that phase's cost.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// storeSize is the store's bytes on disk: its file and the records file
// that holds large blocks' records.
func storeSize(tb testing.TB, h *harness) int64 {
	var size int64
	for _, name := range []string{store.FileName, store.FileName + store.RecordsSuffix} {
		fi, err := os.Stat(filepath.Join(h.dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		size += fi.Size()
	}
	return size
}

// BenchmarkDoSLowWorkSiblingFlood measures issue 12's first attack on
// devnet: eight siblings of block 1 (genesis target, about 2^20 hashes
// each), each carrying the same ~512 KiB body of unfunded self-signed
// transfers, offered to a node whose tip is at height 3. The attacker's
// cost is its CPU to sign the body once and solve the eight headers; the
// victim's is its CPU to judge them as gossip does (the header's work
// gate, then, only if it passes, decode and process the block
// unrequested) and the bytes its store grows by. For comparison, the
// same blocks on the requested path, which stores them as every path did
// before the work gate. Run with -benchtime 1x: each iteration mines.
func BenchmarkDoSLowWorkSiblingFlood(b *testing.B) {
	for range b.N {
		victim := newHarness(b, chain.DevNet())
		victim.extend(victim.tipHash(), 3)
		before := newHarness(b, chain.DevNet())
		before.extend(before.tipHash(), 3)
		p := victim.p

		attackStart := cpuTime(b)
		var body []*chain.Transaction
		size := 0
		for i := 0; ; i++ {
			w := testwallet.New(fmt.Sprintf("junk %d", i))
			tx := w.Tx(p, w.Addr, 1, 0, 0)
			if size+tx.EncodedSize() > chain.MaxBlockSize-1024 || len(body) == chain.MaxBlockTxs-1 {
				break
			}
			body = append(body, tx)
			size += tx.EncodedSize()
		}
		g := p.Genesis().Header
		var flood [][]byte
		for i := range 8 {
			cb := &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender,
				Recipient: testwallet.New(fmt.Sprintf("flooder %d", i)).Addr, Amount: p.Reward, Nonce: 1}
			blk := &chain.Block{Header: chain.Header{Version: chain.HeaderVersion, Height: 1, PrevHash: g.Hash(),
				Timestamp: g.Timestamp + 1000, Bits: g.Bits}, Transactions: append([]*chain.Transaction{cb}, body...)}
			blk.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(blk.Transactions))
			hdr, err := chain.Solve(context.Background(), blk.Header, 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			blk.Header = hdr
			flood = append(flood, blk.Encode())
		}
		attacker := cpuTime(b) - attackStart

		offer := func(h *harness, requested bool) (time.Duration, int64) {
			size0 := storeSize(b, h)
			start := cpuTime(b)
			for _, data := range flood {
				var err error
				if !requested { // as gossip does: the header's gate before the body is decoded
					hdr, herr := chain.DecodeHeader(data[:chain.HeaderSize])
					if herr != nil {
						b.Fatal(herr)
					}
					err = h.c.PrecheckHeader(&hdr)
				}
				if err == nil {
					blk, derr := chain.DecodeBlock(data)
					if derr != nil {
						b.Fatal(derr)
					}
					if requested {
						_, err = h.sync(blk)
					} else {
						_, err = h.process(blk)
					}
				}
				if requested && err != nil {
					b.Fatalf("requested: %v", err)
				}
				if !requested && chain.CodeOf(err) != chain.ErrLowWork {
					b.Fatalf("gossiped: %v, want ErrLowWork", err)
				}
			}
			return cpuTime(b) - start, storeSize(b, h) - size0
		}
		victimCPU, victimBytes := offer(victim, false)
		oldCPU, oldBytes := offer(before, true)
		b.ReportMetric(attacker.Seconds(), "attacker-cpu-s")
		b.ReportMetric(victimCPU.Seconds(), "victim-cpu-s")
		b.ReportMetric(float64(victimBytes), "victim-stored-B")
		b.ReportMetric(100*victimCPU.Seconds()/attacker.Seconds(), "victim/attacker-%")
		b.ReportMetric(oldCPU.Seconds(), "stored-path-cpu-s")
		b.ReportMetric(float64(oldBytes), "stored-path-B")
		b.ReportMetric(float64(len(flood[0])), "block-B")
	}
}
