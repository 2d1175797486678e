package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// saveScreenshot keeps the PNG in the test's directory and, when
// GOSSIPCHAIN_SCREENSHOT_DIR is set, copies it there.
func saveScreenshot(t *testing.T, name string, data []byte) {
	t.Helper()
	paths := []string{filepath.Join(t.TempDir(), name)}
	if dir := os.Getenv("GOSSIPCHAIN_SCREENSHOT_DIR"); dir != "" {
		paths = append(paths, filepath.Join(dir, name))
	}
	for _, p := range paths {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s: %d bytes", paths[len(paths)-1], len(data))
}

// findChromium returns the Chromium binary, skipping the test when there
// is none, except under CI, which installs it.
func findChromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no chromium, chromium-browser or google-chrome on PATH: the explorer page is not tested in a browser (Debian: apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: commands go to its fd 3, answers and
// events come from its fd 4, each a JSON message ending in a NUL byte).
// No port is opened and no module is needed. Waiting happens in the page
// (a promise that resolves when a condition holds), bounded by the
// caller's context: no sleeps.
type browser struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *os.File
	stderr *tailBuffer
	done   chan struct{} // closed when the reader stops

	wmu sync.Mutex // serialises writes to out

	mu       sync.Mutex // guards the fields below
	next     int64
	calls    map[int64]chan cdpMessage
	pages    map[string]*page // by session ID
	problems []string         // exceptions and console errors, "session: text"
}

type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// startBrowser starts Chromium at bin, with extraArgs after its own; it
// quits when the test ends.
func startBrowser(t *testing.T, ctx context.Context, bin string, extraArgs ...string) *browser {
	t.Helper()
	dir := t.TempDir()
	// Chromium reads commands from its fd 3 and writes to its fd 4.
	chromeIn, commands, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	replies, chromeOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
		"--disable-background-timer-throttling", "--disable-renderer-backgrounding",
		"--disable-backgrounding-occluded-windows", "--hide-scrollbars", "--mute-audio",
		"--force-device-scale-factor=1", "--force-color-profile=srgb", "--lang=en-US",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1280,900",
		"--remote-debugging-pipe"}, extraArgs...)
	cmd := exec.CommandContext(ctx, bin, append(args, "about:blank")...)
	// Crash reports and caches go under HOME: keep them in the test's directory.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir)
	cmd.ExtraFiles = []*os.File{chromeIn, chromeOut} // fd 3, fd 4
	b := &browser{t: t, cmd: cmd, out: commands, stderr: &tailBuffer{max: 8 << 10}, done: make(chan struct{}),
		calls: map[int64]chan cdpMessage{}, pages: map[string]*page{}}
	cmd.Stdout, cmd.Stderr = b.stderr, b.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	chromeIn.Close()
	chromeOut.Close()
	go b.read(replies)
	t.Cleanup(func() { b.close() })
	return b
}

// close asks the browser to quit, and kills it if it does not in time.
func (b *browser) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.call(ctx, "", "Browser.close", nil, nil)
	exited := make(chan error, 1)
	go func() { exited <- b.cmd.Wait() }()
	select {
	case <-exited:
	case <-ctx.Done():
		_ = b.cmd.Process.Kill()
		<-exited
	}
	b.out.Close()
	<-b.done
	if b.t.Failed() {
		b.t.Logf("chromium output (tail):\n%s", b.stderr.String())
	}
}

// read dispatches the browser's messages until its pipe closes.
func (b *browser) read(r *os.File) {
	defer close(b.done)
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, c := range b.calls {
				close(c)
				delete(b.calls, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if c, ok := b.calls[m.ID]; ok {
				c <- m
				delete(b.calls, m.ID)
			}
		} else if p := b.pages[m.SessionID]; p != nil {
			b.event(p, m)
		}
		b.mu.Unlock()
	}
}

// event records what a page reports; b.mu is held.
func (b *browser) event(p *page, m cdpMessage) {
	switch m.Method {
	case "Page.loadEventFired":
		select {
		case p.loaded <- struct{}{}:
		default:
		}
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(m.Params, &e)
		b.problems = append(b.problems, m.SessionID+": exception: "+e.ExceptionDetails.Text+" "+e.ExceptionDetails.Exception.Description)
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		_ = json.Unmarshal(m.Params, &e)
		if e.Type == "error" || e.Type == "warning" || e.Type == "assert" {
			b.problems = append(b.problems, fmt.Sprintf("%s: console.%s: %v", m.SessionID, e.Type, e.Args))
		}
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Level, Source, Text, URL string
			} `json:"entry"`
		}
		_ = json.Unmarshal(m.Params, &e)
		if e.Entry.Level == "error" || e.Entry.Level == "warning" {
			b.problems = append(b.problems, fmt.Sprintf("%s: %s %s: %s %s", m.SessionID, e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	}
}

// call sends a command (to the browser when session is empty, else to
// that page) and decodes its result into out, if not nil.
func (b *browser) call(ctx context.Context, session, method string, params, out any) error {
	if params == nil {
		params = struct{}{}
	}
	c := make(chan cdpMessage, 1)
	b.mu.Lock()
	b.next++
	id := b.next
	b.calls[id] = c
	b.mu.Unlock()
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	msg, err := json.Marshal(cdpMessage{ID: id, Method: method, Params: p, SessionID: session})
	if err != nil {
		return err
	}
	b.wmu.Lock()
	_, err = b.out.Write(append(msg, 0))
	b.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.calls, id)
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	case m, ok := <-c:
		switch {
		case !ok:
			return fmt.Errorf("%s: the browser went away", method)
		case m.Error != nil:
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		case out != nil:
			return json.Unmarshal(m.Result, out)
		}
		return nil
	}
}

// page is one tab, attached with its own session.
type page struct {
	b       *browser
	t       *testing.T
	session string
	loaded  chan struct{}
}

func (b *browser) newPage(ctx context.Context, width, height int) *page {
	b.t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		b.t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		b.t.Fatal(err)
	}
	p := &page{b: b, t: b.t, session: attached.SessionID, loaded: make(chan struct{}, 1)}
	b.mu.Lock()
	b.pages[p.session] = p
	b.mu.Unlock()
	for _, method := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		p.call(ctx, method, nil, nil)
	}
	p.resize(ctx, width, height)
	return p
}

func (p *page) call(ctx context.Context, method string, params, out any) {
	p.t.Helper()
	if err := p.b.call(ctx, p.session, method, params, out); err != nil {
		p.t.Fatal(err)
	}
}

// resize sets the viewport, which is what screenshots capture.
func (p *page) resize(ctx context.Context, width, height int) {
	p.t.Helper()
	p.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}, nil)
}

// navigate loads url and waits for its load event.
func (p *page) navigate(ctx context.Context, url string) {
	p.t.Helper()
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	p.call(ctx, "Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		p.t.Fatalf("navigate %s: %s", url, nav.ErrorText)
	}
	select {
	case <-p.loaded:
	case <-ctx.Done():
		p.t.Fatalf("navigate %s: no load event: %v", url, ctx.Err())
	}
	// Helpers for the test's expressions: $ by id, and a chain row by hash.
	p.eval(ctx, `window.$ = (id) => document.getElementById(id);
		window.row = (h) => document.querySelector('#chain-body tr[data-hash="' + h + '"]')`)
}

// eval runs expr in the page, awaiting it if it is a promise, and
// returns its value as JSON.
func (p *page) eval(ctx context.Context, expr string) json.RawMessage {
	p.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r)
	if e := r.ExceptionDetails; e != nil {
		p.t.Fatalf("evaluate %s: %s %s", expr, e.Text, e.Exception.Description)
	}
	return r.Result.Value
}

func (p *page) evalInto(ctx context.Context, expr string, out any) {
	p.t.Helper()
	if err := json.Unmarshal(p.eval(ctx, expr), out); err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
}

// waitFor waits until cond, a JavaScript expression, is true in the
// page; the page checks it every animation frame or 20 ms.
func (p *page) waitFor(ctx context.Context, what, cond string) {
	p.t.Helper()
	expr := `new Promise((resolve) => {
		const check = () => {
			let ok = false;
			try { ok = !!(` + cond + `); } catch (e) {}
			if (ok) resolve(true); else setTimeout(check, 20);
		};
		check();
	})`
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := p.b.call(wctx, p.session, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, nil)
	if err == nil {
		return
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	var text struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
	}
	_ = p.b.call(dctx, p.session, "Runtime.evaluate", map[string]any{"expression": "document.body.innerText", "returnByValue": true}, &text)
	p.b.mu.Lock()
	problems := slices.Clone(p.b.problems)
	p.b.mu.Unlock()
	p.t.Fatalf("waiting for %s: %v\ncondition: %s\npage problems: %q\npage text:\n%s", what, err, cond, problems, text.Result.Value)
}

// checkProblems fails the test for any exception or console error or
// warning the browser reported, but those containing one of allowed.
func (p *page) checkProblems(t *testing.T, allowed ...string) {
	t.Helper()
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	for _, pr := range p.b.problems {
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.Contains(pr, a) }) {
			t.Errorf("browser reported: %s", pr)
		}
	}
}

// screenshot captures the viewport as PNG and checks it is one of
// width x height.
func (p *page) screenshot(ctx context.Context, t *testing.T, name string, width, height int) []byte {
	t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	p.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	data, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", name, err)
	}
	if cfg.Width != width || cfg.Height != height {
		t.Errorf("%s is %dx%d, want %dx%d", name, cfg.Width, cfg.Height, width, height)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Errorf("%s does not decode: %v", name, err)
	}
	return data
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

var _ io.Writer = (*tailBuffer)(nil)
