package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gossipchain/gossipchain/api"
)

// runQuery runs the read-only commands: status, peers and chain.
func runQuery(ctx context.Context, o queryOptions, stdout io.Writer) error {
	c, err := api.NewClient(o.API)
	if err != nil {
		return err
	}
	switch o.Command {
	case "status":
		if o.JSON {
			return printRawOf(ctx, stdout, c, "/status")
		}
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		return printStatus(stdout, st)
	case "peers":
		if o.JSON {
			return printRawOf(ctx, stdout, c, "/peers")
		}
		peers, err := c.Peers(ctx)
		if err != nil {
			return err
		}
		return printPeers(stdout, peers)
	}
	return runChain(ctx, c, o, stdout)
}

func printRawOf(ctx context.Context, w io.Writer, c *api.Client, path string) error {
	raw, err := c.Raw(ctx, path, nil)
	if err != nil {
		return err
	}
	return printRaw(w, raw)
}

func printStatus(w io.Writer, st api.Status) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	peerID := st.PeerID
	if peerID == "" {
		peerID = "(network not started)"
	}
	fmt.Fprintf(tw, "peer id\t%s\n", peerID)
	if len(st.Addrs) == 0 {
		fmt.Fprintf(tw, "addrs\t(none)\n")
	}
	for i, a := range st.Addrs {
		label := ""
		if i == 0 {
			label = "addrs"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
	}
	fmt.Fprintf(tw, "network\t%s (id %s)\n", st.Network, st.NetworkID)
	fmt.Fprintf(tw, "height\t%d\n", st.Height)
	fmt.Fprintf(tw, "tip\t%s\n", st.Tip)
	fmt.Fprintf(tw, "total work\t%s\n", st.TotalWork)
	fmt.Fprintf(tw, "peers\t%d\n", st.Peers)
	fmt.Fprintf(tw, "mempool\t%d transactions\n", st.Mempool)
	fmt.Fprintf(tw, "wallet\t%s\n", st.Wallet)
	mining := "no"
	if st.Mining {
		mining = fmt.Sprintf("yes, %.0f hashes/s", st.HashRate)
	}
	fmt.Fprintf(tw, "mining\t%s\n", mining)
	fmt.Fprintf(tw, "syncing\t%s\n", yesNo(st.Syncing))
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printPeers(w io.Writer, peers []api.Peer) error {
	if len(peers) == 0 {
		_, err := fmt.Fprintln(w, "no peers connected")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER ID\tSOURCE\tADDR")
	for _, p := range peers {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, p.Source, p.Addr)
	}
	return tw.Flush()
}

// runChain lists o.Limit blocks from o.From, or the last o.Limit.
func runChain(ctx context.Context, c *api.Client, o queryOptions, stdout io.Writer) error {
	from := o.From
	if !o.FromSet {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if st.Height+1 > o.Limit {
			from = st.Height + 1 - o.Limit
		}
	}
	if o.JSON {
		raw, err := c.RawChain(ctx, from, o.Limit)
		if err != nil {
			return err
		}
		return printRaw(stdout, raw)
	}
	page, err := c.Chain(ctx, from, o.Limit)
	if err != nil {
		return err
	}
	if len(page.Blocks) == 0 {
		_, err := fmt.Fprintf(stdout, "no blocks from height %d: the chain's last block is at height %d\n", from, page.Length-1)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HEIGHT\tHASH\tTXS\tTIME")
	for _, b := range page.Blocks {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\n", b.Header.Height, b.Hash().Short(), len(b.Transactions),
			b.Header.Time().UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
