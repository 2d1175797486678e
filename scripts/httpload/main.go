// Command httpload prepares the load of scripts/bench-http.sh: it funds
// many sender wallets on a running regtest node through its HTTP API and
// writes transfers those senders signed ahead, one POST
// /create-transaction body per line, so that wrk (a cheap C load
// generator) sends a different valid transaction with every request and
// the client's signing stays out of the measurement.
//
// Lines are interleaved across senders (line i is sender i mod S, nonce i
// div S), so a sender's next nonce comes S requests after its previous one
// and arrives after it on any of wrk's connections; with S a multiple of
// wrk's thread count, each thread that takes every T-th line owns whole
// senders.
//
//	go run ./scripts/httpload --api http://127.0.0.1:19610 --senders 2000 --txs 150000 --out /tmp/bodies
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node/testnet"
)

func main() {
	var o options
	flag.StringVar(&o.api, "api", "http://127.0.0.1:5000", "the node's HTTP API")
	flag.IntVar(&o.senders, "senders", 2000, "sender wallets to fund and sign from")
	flag.IntVar(&o.txs, "txs", 150_000, "transfers to sign, spread over the senders")
	flag.StringVar(&o.out, "out", "bodies.jsonl", "file to write the request bodies to, one a line")
	flag.StringVar(&o.seed, "seed", "httpload", "seed of the sender and recipient wallets")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := run(ctx, log, o); err != nil {
		log.Error("httpload", "reason", err)
		os.Exit(1)
	}
}

type options struct {
	api, out, seed string
	senders, txs   int
}

// fundRound stays under the node wallet's per-sender cap (64 pending):
// funding transfers are mined in rounds of this many.
const fundRound = 60

func run(ctx context.Context, log *slog.Logger, o options) error {
	if o.senders < 1 || o.txs < o.senders {
		return errors.New("want 1 ≤ --senders ≤ --txs")
	}
	c, err := api.NewClient(o.api)
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	p, err := chain.ParamsByName(st.Network)
	if err != nil {
		return err
	}
	if !p.Signed {
		return fmt.Errorf("network %s takes unsigned transfers: nothing to sign", st.Network)
	}
	fee := chain.FeeRate(st.MinRelayFee).Fee(chain.SignedSize(p, &chain.Transaction{Version: chain.TxVersion,
		Sender: testnet.NewWallet("size").Addr, Recipient: testnet.NewWallet("size").Addr, Amount: 1}))
	each := (o.txs + o.senders - 1) / o.senders
	per := uint64(each) * (1 + fee)
	need := int64(per) * int64(o.senders)
	log.Info("mining the funds", "coins", need, "blocks", need/int64(p.Reward)+1)
	for {
		b, err := c.Balance(ctx, st.Wallet)
		if err != nil {
			return err
		}
		if b.Balance >= need {
			break
		}
		for range 100 {
			if _, err := c.Mine(ctx); err != nil {
				return err
			}
		}
	}
	senders := make([]*testnet.Wallet, o.senders)
	for i := range senders {
		senders[i] = testnet.NewWallet(fmt.Sprintf("%s sender %d", o.seed, i))
	}
	log.Info("funding senders", "senders", o.senders, "coins_each", per)
	for i := 0; i < len(senders); i += fundRound {
		for _, s := range senders[i:min(i+fundRound, len(senders))] {
			if err := nodeSend(ctx, o.api, s.Addr, per); err != nil {
				return err
			}
		}
		if _, err := c.Mine(ctx); err != nil {
			return err
		}
	}
	sink := testnet.NewWallet(o.seed + " recipient").Addr
	log.Info("signing", "transfers", each*o.senders)
	bodies := presign(p, senders, sink, each, fee)
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, b := range bodies {
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// nodeSend asks the node to pay amount to addr from its own wallet (the
// classic {"recipient", "amount"} form).
func nodeSend(ctx context.Context, base, addr string, amount uint64) error {
	body, _ := json.Marshal(map[string]any{"recipient": addr, "amount": amount}) // cannot fail
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/create-transaction", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("fund %s: status %d: %s", addr, resp.StatusCode, bytes.TrimSpace(out))
	}
	return nil
}

// presign returns each sender's transfers of one coin to sink, nonces 0
// to each-1, as request bodies interleaved across senders; on every core.
func presign(p *chain.Params, senders []*testnet.Wallet, sink string, each int, fee uint64) [][]byte {
	out := make([][]byte, len(senders)*each)
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				for nonce := range each {
					b, err := json.Marshal(senders[i].Transfer(p, sink, 1, fee, uint64(nonce)))
					if err != nil {
						panic(err) // a valid transfer always encodes
					}
					out[nonce*len(senders)+i] = b
				}
			}
		})
	}
	for i := range senders {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}
