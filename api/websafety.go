package api

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The API listens on loopback without a token by default, which is what
// the classic clients expect, and so any web page the operator opens can
// send it requests. Three checks stop a page from using the node while
// leaving curl, scripts and the node's own explorer page alone; they run
// on every route, before the handler, and are documented for operators
// in docs/operator.md ("The API and web pages").
//
//   - Host allowlist (DNS rebinding): a page on attacker.example whose
//     name is made to resolve to 127.0.0.1 is same-origin with the API as
//     far as the browser knows, but its requests still carry Host:
//     attacker.example. Only loopback names and the address the request
//     arrived on (with the listener's port), and names the operator
//     admits, are served.
//   - No cross-site state change (CSRF): browsers mark every request with
//     Sec-Fetch-Site and cross-origin ones with Origin. A route that
//     changes state refuses a request a page on another site or origin
//     made, including simple requests that need no CORS preflight (an
//     <img> on /mine, a no-cors fetch or a form POST). A request with
//     neither header is a program's (curl, Python), and passes.
//   - No form bodies: the content types an HTML form or a no-cors fetch
//     can send without a preflight are refused on POST, so a body the
//     browser would let a foreign page send never reaches a handler.
//
// Reads from an origin the operator admits with --api-cors-origin get the
// CORS headers a browser needs to hand the answer to that page; reads
// from any other origin get none, so the browser keeps the answer from
// the page.

// webConfig is the web-safety policy; immutable after New.
type webConfig struct {
	// anyHost turns the Host check off (--api-allow-host '*').
	anyHost bool
	// hosts are the names admitted besides loopback and the local
	// address, lower case; a name with a port admits only that port.
	hosts []string
	// origins are the origins admitted for CORS and state changes,
	// normalised by normOrigin.
	origins []string
}

// WithAllowedHosts admits requests whose Host header names one of hosts
// ("node.lan" for any port, "node.lan:5000" for one), on top of the
// loopback names and the address the API listens on. "*" admits any Host,
// which leaves the node open to DNS rebinding: only for an API behind a
// proxy that checks Host itself.
func WithAllowedHosts(hosts ...string) Option {
	return func(s *server) {
		for _, h := range hosts {
			h = strings.ToLower(strings.TrimSpace(h))
			switch {
			case h == "*":
				s.web.anyHost = true
			case h != "":
				s.web.hosts = append(s.web.hosts, h)
			}
		}
	}
}

// WithCORSOrigins admits pages of the given origins
// ("https://wallet.example", scheme, host and port as the browser sends
// them in Origin): their reads get CORS headers, and their requests may
// change state (with the API token, if one is set).
func WithCORSOrigins(origins ...string) Option {
	return func(s *server) {
		for _, o := range origins {
			if n, ok := normOrigin(o); ok {
				s.web.origins = append(s.web.origins, n)
			}
		}
	}
}

// ValidOrigin reports whether o is an origin WithCORSOrigins accepts:
// http or https, a host, an optional port, nothing else.
func ValidOrigin(o string) bool {
	_, ok := normOrigin(o)
	return ok
}

// normOrigin lower-cases an origin and drops a default port, so that
// "HTTP://Node.lan:80" and "http://node.lan" compare equal.
func normOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host, true
}

// webGuard wraps the whole mux: Host check and CORS on every request,
// preflights answered here.
func (s *server) webGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// JSON is never a script or a stylesheet, and no page of another
		// origin may embed an answer without CORS.
		h["X-Content-Type-Options"] = headerNoSniff
		h["Cross-Origin-Resource-Policy"] = headerSameOrig
		if !s.hostAllowed(r) {
			s.writeError(w, r, errorf(EFORBIDDEN,
				"Host %q is not served: this node answers to 127.0.0.1, localhost and [::1] on its API port and to its listen address; start it with --api-allow-host NAME to admit another name",
				clip(r.Host)))
			return
		}
		origin := r.Header.Get("Origin")
		allowed := origin != "" && s.corsAllowed(origin)
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				s.writeError(w, r, errorf(EFORBIDDEN, "origin %q may not use this API; start the node with --api-cors-origin %s to admit it", clip(origin), clip(origin)))
				return
			}
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed applies the Host allowlist to r.
func (s *server) hostAllowed(r *http.Request) bool {
	if s.web.anyHost {
		return true
	}
	name, port := splitHost(r.Host)
	if name == "" {
		return false
	}
	for _, a := range s.web.hosts {
		an, ap := splitHost(a)
		if an == name && (ap == "" || ap == port) {
			return true
		}
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	tcp, _ := local.(*net.TCPAddr)
	if port == "" {
		port = "80"
	}
	// The port as text on the stack: this runs on every request.
	var digits [20]byte
	if tcp != nil && port != string(strconv.AppendInt(digits[:0], int64(tcp.Port), 10)) {
		return false
	}
	// An IP literal cannot be rebound, but only the loopback ones and the
	// one the request came in on name this node.
	if ip := net.ParseIP(name); ip != nil {
		return ip.IsLoopback() || tcp != nil && ip.String() == tcp.IP.String()
	}
	return name == "localhost"
}

// splitHost splits "name[:port]" or "[v6][:port]" into a lower-case name
// without brackets and a port ("" when none).
func splitHost(hostport string) (name, port string) {
	hostport = strings.ToLower(hostport)
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
}

// corsAllowed reports whether origin was admitted with WithCORSOrigins.
func (s *server) corsAllowed(origin string) bool {
	o, ok := normOrigin(origin)
	return ok && slices.Contains(s.web.origins, o)
}

// sameOrigin reports whether origin is the API's own: the Host the
// request was sent to (already checked), over http or https (a TLS proxy
// in front).
func sameOrigin(r *http.Request, origin string) bool {
	o, ok := normOrigin(origin)
	if !ok {
		return false
	}
	for _, scheme := range []string{"http://", "https://"} {
		if own, ok := normOrigin(scheme + r.Host); ok && own == o {
			return true
		}
	}
	return false
}

// crossSite returns why a request that would change state came from a
// page the operator has not admitted, or "" when it may go on.
func (s *server) crossSite(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin != "" && s.corsAllowed(origin) {
		return ""
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "cross-site", "same-site":
		return "a page of another site (Sec-Fetch-Site: " + site + ")"
	}
	if origin != "" && !sameOrigin(r, origin) {
		return "a page of another origin (" + clip(origin) + ")"
	}
	// Browsers without Fetch Metadata still send the page's address as
	// Referer unless the page asked them not to; programs send neither.
	if ref := r.Header.Get("Referer"); origin == "" && ref != "" {
		if u, err := url.Parse(ref); err == nil && u.Host != "" && !sameOrigin(r, u.Scheme+"://"+u.Host) {
			return "a page of another origin (Referer " + clip(u.Scheme+"://"+u.Host) + ")"
		}
	}
	// A GET from a browser too old to send Sec-Fetch-Site carries no
	// Origin either, and a page can suppress its Referer: an <img> on
	// /mine would look like curl. Every browser's User-Agent starts with
	// Mozilla/ and programs' do not (curl, Python, Go), so a browser's
	// state-changing GET must carry Fetch Metadata; POST, which such
	// browsers send with Origin, and the explorer's requests are
	// unaffected.
	if r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Site") == "" && strings.HasPrefix(r.UserAgent(), "Mozilla/") {
		return "a browser that does not say where the request came from (no Sec-Fetch-Site): use POST, or a current browser"
	}
	return ""
}

// formTypes are the content types a page may POST to any address without
// a CORS preflight.
var formTypes = []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}

// checkContentType refuses a POST body that is not JSON: a missing
// Content-Type (a script) or application/json passes.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if r.Method != http.MethodPost || ct == "" || ct == "application/json" {
		return nil // the last what clients send, and what the parse below takes
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		return nil
	}
	if err == nil && slices.Contains(formTypes, mt) {
		return errorf(EMEDIATYPE, "Content-Type %s is what web forms send, and is refused: send the body as application/json", mt)
	}
	return errorf(EMEDIATYPE, "Content-Type %q is not application/json", clip(ct))
}
