package api

import (
	"context"
	"testing"
)

// TestEndsWithNode: a request's context is taken as ending with the node
// only when it descends from the base context New's handler gives
// api.Server, or when the node's context never ends; any other request
// gets route's tie to the node's context.
func TestEndsWithNode(t *testing.T) {
	nodeCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &server{ctx: nodeCtx}
	base := (&handler{base: context.WithValue(s.ctx, baseKey{}, s)}).BaseContext(nil)
	other := &server{ctx: nodeCtx}
	reqOf := func(parent context.Context) context.Context {
		ctx, cancel := context.WithCancel(parent) // as http.Server derives a connection's and a request's
		t.Cleanup(cancel)
		return ctx
	}
	for _, c := range []struct {
		name string
		s    *server
		ctx  context.Context
		want bool
	}{
		{"from api.Server's base context", s, reqOf(base), true},
		{"from a plain server", s, reqOf(context.Background()), false},
		{"from another node's base context", other, reqOf(base), false},
		{"the node's context never ends", &server{ctx: context.Background()}, reqOf(context.Background()), true},
	} {
		if got := c.s.endsWithNode(c.ctx); got != c.want {
			t.Errorf("%s: endsWithNode = %t, want %t", c.name, got, c.want)
		}
	}
}
