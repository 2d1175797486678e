//go:build unix

package api_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// postLean is post with a minimal HTTP/1.1 client instead of Go's
// net/http one: each goroutine writes its requests, prepared beforehand,
// on its own keep-alive connection and reads each answer's status line,
// headers and Content-Length body itself. Go's client costs about a
// third of the process's CPU in BenchmarkCreateTransaction (a transport
// with a read and a write goroutine per connection, a header map per
// answer); the node's share is what the figure is for, and wrk, the
// other lean load generator (scripts/bench-http.sh), runs in a process
// of its own. Any answer but 201 fails the benchmark.
func postLean(b *testing.B, serverURL string, bodies [][][]byte) []time.Duration {
	u, err := url.Parse(serverURL)
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([][][]byte, len(bodies))
	for g := range bodies {
		reqs[g] = make([][]byte, len(bodies[g]))
		for i, body := range bodies[g] {
			req := fmt.Appendf(nil, "POST /create-transaction HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", u.Host, len(body))
			reqs[g][i] = append(req, body...)
		}
	}
	conns := make([]net.Conn, len(reqs))
	readers := make([]*bufio.Reader, len(reqs))
	for g := range reqs {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		conns[g], readers[g] = conn, bufio.NewReader(conn)
	}
	return postEach(b, bodies, nil, func(g, i int) error {
		if err := conns[g].SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return err
		}
		if _, err := conns[g].Write(reqs[g][i]); err != nil {
			return err
		}
		return readCreated(readers[g])
	})
}

// readCreated reads one answer and returns an error unless it is a 201
// with a Content-Length body (the API's answers are short enough for
// net/http to give their length).
func readCreated(r *bufio.Reader) error {
	status, err := r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read status: %w", err)
	}
	created := bytes.HasPrefix(status, []byte("HTTP/1.1 201 "))
	length := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return fmt.Errorf("content length %q: %w", value, err)
			}
		}
	}
	if length < 0 {
		return errors.New("an answer without a Content-Length")
	}
	if created {
		if _, err := r.Discard(length); err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		return nil
	}
	status = bytes.Clone(bytes.TrimSpace(status))
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return fmt.Errorf("%s: %s", status, bytes.TrimSpace(body))
}
