package testenv

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// MastodonStub answers like Mastodon's web service (puma) for the endpoints that probes
// and end-to-end tests use: /health, /api/v2/instance, webfinger, host-meta, nodeinfo and
// a landing page of realistic size (tens of kilobytes, so a path-MTU blackhole shows).
type MastodonStub struct {
	// LocalDomain is what /api/v2/instance calls the instance. Empty: the request's host
	// (one stub behind several test sites).
	LocalDomain string
	// Version is the instance API's version. Empty: "4.7.0".
	Version string
	// Rails adds the headers Rails itself sends on every app response: HSTS from
	// force_ssl (3.4+; the 4.6+ nginx template adds it on static locations only and
	// relies on this), except on /health, and Cache-Control "max-age=0, private,
	// must-revalidate", which keeps nginx's proxy cache from storing the response.
	Rails bool
}

// ServeHTTP implements http.Handler.
func (s MastodonStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.Rails {
		if r.URL.Path != "/health" {
			w.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		w.Header().Set("Cache-Control", "max-age=0, private, must-revalidate")
	}
	switch r.URL.Path {
	case "/health":
		fmt.Fprint(w, "OK")
	case "/api/v2/instance":
		domain, version := s.LocalDomain, s.Version
		if domain == "" {
			domain = hostOnly(r.Host)
		}
		if version == "" {
			version = "4.7.0"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"domain": domain, "version": version, "title": "stub"})
	case "/.well-known/webfinger":
		w.Header().Set("Content-Type", "application/jrd+json")
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": r.URL.Query().Get("resource")})
	case "/.well-known/host-meta":
		w.Header().Set("Content-Type", "application/xrd+xml")
		fmt.Fprintf(w, `<?xml version="1.0"?><XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"><Link rel="lrdd" template="https://%s/.well-known/webfinger?resource={uri}"/></XRD>`, r.Host)
	case "/.well-known/nodeinfo":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"links":[{"rel":"http://nodeinfo.diaspora.software/ns/schema/2.0","href":"https://%s/nodeinfo/2.0"}]}`, r.Host)
	case "/":
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>stub</title>")
		fmt.Fprint(w, strings.Repeat("<p>landing page padding, as Mastodon's is tens of kilobytes</p>\n", 1200))
	default:
		http.NotFound(w, r)
	}
}

// hostOnly strips the port from a Host header.
func hostOnly(h string) string {
	if i := strings.LastIndex(h, ":"); i > 0 && !strings.HasSuffix(h, "]") {
		return h[:i]
	}
	return h
}

// StreamingStub answers like Mastodon's streaming server: OK on
// /api/v1/streaming/health, and on /api/v1/streaming a real RFC 6455 handshake followed
// by one text frame and a close frame, as a stream starts and ends (a plain GET without
// Upgrade gets 400).
func StreamingStub() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/streaming/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "OK") })
	mux.HandleFunc("/api/v1/streaming", func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
			http.Error(w, "websocket upgrade required", http.StatusBadRequest)
			return
		}
		h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		c, brw, err := hj.Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(h[:]))
		msg := `{"event":"update","payload":"{}"}`
		_, _ = brw.Write(append([]byte{0x81, byte(len(msg))}, msg...))
		_, _ = brw.Write([]byte{0x88, 0x02, 0x03, 0xe8})
		_ = brw.Flush()
	})
	return mux
}
