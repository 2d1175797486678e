package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

//go:embed explorer/index.html
var explorerFS embed.FS

// explorerHandler serves the explorer page: one HTML file with its
// script and style inline, so the node needs no build step and the page
// loads nothing from anywhere but the node.
//
// The Content-Security-Policy allows exactly the page's own inline
// script and style, by their SHA-256 (not 'unsafe-inline'), and
// connections to the node only: should a value from the chain ever end
// up as markup, no script it carries could run, and nothing could be
// loaded or sent elsewhere.
func explorerHandler() http.Handler {
	page, err := explorerFS.ReadFile("explorer/index.html")
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	csp, err := explorerCSP(page)
	if err != nil {
		panic(err) // the embedded page is malformed: caught by the package's tests
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}

// explorerCSP builds the policy for page from the hashes of its inline
// <script> and <style> elements.
func explorerCSP(page []byte) (string, error) {
	scripts, err := inlineHashes(page, "script")
	if err != nil {
		return "", err
	}
	styles, err := inlineHashes(page, "style")
	if err != nil {
		return "", err
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + strings.Join(scripts, " "),
		"style-src " + strings.Join(styles, " "),
		"connect-src 'self'", // fetch and EventSource to the node
		"img-src data:",      // the empty favicon
		"base-uri 'none'",
		"form-action 'none'", // forms are sent by the script, as JSON
		"frame-ancestors 'none'",
	}, "; "), nil
}

// inlineHashes returns the CSP source ('sha256-...') of the text of each
// <tag>...</tag> element in page; the opening tag must have no
// attributes. It fails when there is none, or one is not closed.
func inlineHashes(page []byte, tag string) ([]string, error) {
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	var out []string
	for rest := page; ; {
		i := bytes.Index(rest, open)
		if i < 0 {
			break
		}
		rest = rest[i+len(open):]
		j := bytes.Index(rest, end)
		if j < 0 {
			return nil, fmt.Errorf("explorer page: <%s> without </%s>", tag, tag)
		}
		sum := sha256.Sum256(rest[:j])
		out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		rest = rest[j+len(end):]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("explorer page: no <%s>", tag)
	}
	return out, nil
}
