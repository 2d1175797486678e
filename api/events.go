package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gossipchain/gossipchain/node"
)

// Server-sent events. Each client gets a subscription with a bounded
// buffer; one that reads too slowly is dropped by the node (its stream
// ends and EventSource reconnects), so a stalled browser tab costs a
// bounded amount of memory and never slows the node. The buffer takes
// the burst that follows a block's commit (node.EventBurst): at most
// about 64 streams × 1,024 events of a few hundred bytes, under 20 MiB.
const (
	eventBuffer   = node.EventBurst
	maxEventConns = 64
	// heartbeat keeps proxies from closing an idle stream and finds
	// clients that went away while nothing happened.
	heartbeat = 15 * time.Second
	// eventWriteTimeout bounds each write; the server's WriteTimeout
	// would otherwise end every stream after two minutes.
	eventWriteTimeout = 10 * time.Second
)

var eventKinds = []string{node.EventPeer, node.EventTx, node.EventBlock, node.EventReorg, node.EventSync}

// GET /events[?types=block,tx]: one SSE message per node event,
//
//	id: <seq>
//	event: <type>
//	data: {"seq":..,"type":..,"time":..,"data":{...}}
func (s *server) events(w http.ResponseWriter, r *http.Request) error {
	want := map[string]bool{}
	if t := r.URL.Query().Get("types"); t != "" {
		for k := range strings.SplitSeq(t, ",") {
			if !slices.Contains(eventKinds, k) {
				return errorf(EINVALID, "unknown event type %q; known: %s", clip(k), strings.Join(eventKinds, ", "))
			}
			want[k] = true
		}
	}
	if !s.eventConns.TryAcquire(1) {
		return errorf(EUNAVAILABLE, "too many event streams open (%d)", maxEventConns)
	}
	defer s.eventConns.Release(1)
	sub := s.n.Subscribe(eventBuffer)
	defer sub.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The retry hint and a first comment tell the client the stream is
	// open before any event happens.
	if !write("retry: 3000\n: gossipchain events\n\n") {
		return nil
	}
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-t.C:
			if !write(": keep-alive\n\n") {
				return nil
			}
		case ev, ok := <-sub.C:
			if !ok {
				return nil // dropped for falling behind: the client reconnects
			}
			if len(want) > 0 && !want[ev.Kind] {
				continue
			}
			wire, err := eventOf(ev)
			if err != nil {
				s.log.Error("event encode", "type", ev.Kind, "reason", err)
				continue
			}
			data, err := json.Marshal(wire)
			if err != nil {
				s.log.Error("event encode", "type", ev.Kind, "reason", err)
				continue
			}
			if !write("id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Kind, data) {
				return nil
			}
		}
	}
}
