package api

import (
	"embed"
	"net/http"
)

//go:embed explorer/index.html
var explorerFS embed.FS

// explorerHandler serves the explorer page: one HTML file with its
// script and style inline, so the node needs no build step and the page
// loads nothing from anywhere but the node.
func explorerHandler() http.Handler {
	page, err := explorerFS.ReadFile("explorer/index.html")
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}
