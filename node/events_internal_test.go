package node

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestTxEventUnwatched: with nobody subscribed, a transaction's event
// costs no allocation (it is published for every admission), yet still
// takes its sequence number, so a later subscriber sees the numbers run
// on; a subscriber gets the event in full.
func TestTxEventUnwatched(t *testing.T) {
	n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	in := n.intake
	tx := testwallet.New("alice").Tx(n.chain.Params(), testwallet.New("bob").Addr, 7, 3, 0)
	id := tx.ID()

	receive := func() Event {
		t.Helper()
		sub := n.Subscribe(1)
		defer sub.Close()
		in.txEvent(tx, id, OriginAPI)
		select {
		case ev := <-sub.C:
			return ev
		default:
			t.Fatal("a subscriber got no event")
			return Event{}
		}
	}
	first := receive()
	want := TxEventData{ID: id.String(), Sender: tx.Sender, Recipient: tx.Recipient, Amount: 7, Fee: 3, Origin: OriginAPI}
	if first.Kind != EventTx || first.Data != want {
		t.Errorf("event %s %+v, want %s %+v", first.Kind, first.Data, EventTx, want)
	}

	const unwatched = 3
	for range unwatched {
		in.txEvent(tx, id, OriginAPI)
	}
	if next := receive(); next.Seq != first.Seq+unwatched+1 {
		t.Errorf("after %d unwatched events, seq %d, want %d", unwatched, next.Seq, first.Seq+unwatched+1)
	}

	if got := testing.AllocsPerRun(100, func() { in.txEvent(tx, id, OriginAPI) }); got != 0 {
		t.Errorf("an unwatched transaction event allocates %.0f times, want 0", got)
	}
}
