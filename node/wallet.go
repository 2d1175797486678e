package node

import (
	"context"
	"crypto/ed25519"
	"sync"

	"github.com/gossipchain/gossipchain/chain"
)

// wallet is the node's own key (wallet.key): it signs transfers from the
// node's address with the address's next nonce and submits them.
//
// Concurrency: send is safe from any goroutine. The wallet owns mu and
// holds it from choosing a nonce, through signing, until intake has
// admitted or refused the transaction: otherwise two sends would read the
// same pending count and choose the same nonce, and the second would be
// refused as a conflict. Lock order: wallet.mu, then intake's. key and
// address never change.
type wallet struct {
	params  *chain.Params
	key     ed25519.PrivateKey
	address string
	intake  *intake

	mu sync.Mutex
}

func newWallet(params *chain.Params, key ed25519.PrivateKey, in *intake) *wallet {
	return &wallet{params: params, key: key, address: chain.AddressFromPublicKey(key.Public().(ed25519.PublicKey)), intake: in}
}

// send signs a transfer from the wallet with its next nonce (after its
// pending transactions) and submits it. A zero fee is the least the
// mempool takes now for the transfer's size (its minimum relay fee, or
// its rolling minimum after evictions if higher): callers that name no
// fee (the classic client's POST /create-transaction, `gossipchain send`
// without --fee) must not be refused for it, and paying more than the
// minimum is a choice they can make by naming one.
func (w *wallet) send(ctx context.Context, to string, amount, fee uint64) (*chain.Transaction, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	nonce, err := w.intake.nextNonce(w.address)
	if err != nil {
		return nil, err
	}
	tx := &chain.Transaction{Version: chain.TxVersion, Sender: w.address, Recipient: to, Amount: amount, Fee: fee, Nonce: nonce}
	if fee == 0 {
		tx.Fee = w.intake.mempool.MinFeeNow(chain.SignedSize(w.params, tx))
	}
	if w.params.Signed {
		tx.Sign(w.params.NetworkID(), w.key)
	}
	if err := w.intake.submit(ctx, tx); err != nil {
		return nil, err
	}
	return tx, nil
}
