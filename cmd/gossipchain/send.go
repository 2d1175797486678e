package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
)

// errWrongNetwork is a node on another network than the one send signs
// for.
var errWrongNetwork = errors.New("node is on another network")

// runSend runs "gossipchain send": sign here, submit to the node.
func runSend(ctx context.Context, o sendOptions, stdout io.Writer) error {
	key, err := loadWallet(o.Wallet)
	if err != nil {
		return err
	}
	c, err := api.NewClient(o.API, api.WithClientToken(o.APIToken))
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return fmt.Errorf("ask the node for its network: %w", err)
	}
	if want := o.Params.NetworkID().String(); st.NetworkID != want {
		return fmt.Errorf("%w: the node at %s is on %q (network id %s), not %s (network id %s); "+
			"refusing to sign a transfer the node could not accept (pass --network %s if that is the network you mean)",
			errWrongNetwork, c.URL(), st.Network, st.NetworkID, o.Params.Name, want, st.Network)
	}
	from := walletAddress(key)
	tx := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: o.To, Amount: o.Amount, Fee: o.Fee}
	if o.Fee == 0 {
		// No --fee: the least the node takes now for this transfer's
		// size (its rolling minimum, if a full pool raised it), as the
		// node pays for its own wallet's transfers.
		tx.Fee = max(chain.FeeRate(st.MinRelayFee).Fee(chain.SignedSize(o.Params, tx)), st.MempoolMinFee)
		if tx.Fee > chain.MaxAmount-tx.Amount {
			return fmt.Errorf("the node at %s asks a fee of %d, too much with --amount %d", c.URL(), tx.Fee, tx.Amount)
		}
	}
	if o.Params.Signed {
		if tx.Nonce, err = nextNonce(ctx, c, from); err != nil {
			return err
		}
		tx.Sign(o.Params.NetworkID(), key)
	} else {
		// The open network takes no signatures and orders no nonces;
		// a random one keeps two equal transfers two transactions, as
		// the node does for a transfer posted without one. 53 bits, so
		// JavaScript clients read it exactly.
		var b [8]byte
		rand.Read(b[:])
		tx.Nonce = binary.BigEndian.Uint64(b[:]) & chain.MaxAmount
	}
	sub, err := c.SubmitTx(ctx, tx)
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	fmt.Fprintf(stdout, "tx %s\n", sub.Transaction.ID())
	fmt.Fprintf(stdout, "sent %d from %s to %s (fee %d, nonce %d); the node at %s expects it in block %d\n",
		tx.Amount, from, tx.Recipient, tx.Fee, tx.Nonce, c.URL(), sub.BlockIndex)
	return nil
}

// nextNonce is addr's confirmed nonce plus its transactions waiting in
// the node's mempool: the nonce the node accepts next. A sender's
// transactions enter the mempool only in nonce order, so counting them
// is enough.
func nextNonce(ctx context.Context, c *api.Client, addr string) (uint64, error) {
	bal, err := c.Balance(ctx, addr)
	if err != nil {
		return 0, fmt.Errorf("ask the node for the wallet's nonce: %w", err)
	}
	pool, err := c.Mempool(ctx)
	if err != nil {
		return 0, fmt.Errorf("ask the node for the wallet's pending transactions: %w", err)
	}
	nonce := bal.Nonce
	for _, tx := range pool {
		if tx != nil && tx.Sender == addr {
			nonce++
		}
	}
	return nonce, nil
}
