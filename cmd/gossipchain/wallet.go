package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"text/tabwriter"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
)

// runWallet runs "gossipchain wallet <command>".
func runWallet(ctx context.Context, o walletOptions, stdout io.Writer) error {
	switch o.Command {
	case "new":
		key, err := node.CreateKey(o.Wallet)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("wallet new: %s exists and is never overwritten, since it may be the only key to coins; name another file with --wallet: %w", o.Wallet, err)
		}
		if err != nil {
			return fmt.Errorf("wallet new: %w", err)
		}
		fmt.Fprintf(stdout, "created %s\naddress %s\n", o.Wallet, walletAddress(key))
		return nil
	case "address":
		key, err := loadWallet(o.Wallet)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, walletAddress(key))
		return nil
	}
	key, err := loadWallet(o.Wallet)
	if err != nil {
		return err
	}
	c, err := api.NewClient(o.API)
	if err != nil {
		return err
	}
	addr := walletAddress(key)
	if o.JSON {
		raw, err := c.Raw(ctx, "/balance/"+addr, nil)
		if err != nil {
			return err
		}
		return printRaw(stdout, raw)
	}
	b, err := c.Balance(ctx, addr)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "address\t%s\nbalance\t%d\nnonce\t%d\n", b.Address, b.Balance, b.Nonce)
	return tw.Flush()
}

// loadWallet reads the key file at path, never creating one: a key made
// here would be one nobody has sent anything to.
func loadWallet(path string) (ed25519.PrivateKey, error) {
	key, err := node.LoadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no wallet at %s (create one with: gossipchain wallet new --wallet %s): %w", path, path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	return key, nil
}

func walletAddress(key ed25519.PrivateKey) string {
	return chain.AddressFromPublicKey(key.Public().(ed25519.PublicKey))
}

// printRaw writes a node's JSON answer as it came, ending the line.
func printRaw(w io.Writer, raw []byte) error {
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		_, err := io.WriteString(w, "\n")
		return err
	}
	return nil
}
