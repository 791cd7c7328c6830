package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/v6kit/v6kit/internal/wsframe"
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

// StreamingStub answers like Mastodon's streaming server when it lets a websocket
// upgrade without a token (3.0 … 4.1 on the public streams): OK on
// /api/v1/streaming/health, and on /api/v1/streaming a real RFC 6455 handshake followed
// by one text frame and a close frame, as a stream starts and ends (a plain GET without
// Upgrade gets 400). [StreamingStubOptions.Handler] is the stub that wants a token.
func StreamingStub() http.Handler { return StreamingStubOptions{}.Handler() }

// StreamingStubOptions configures a streaming stub that authenticates like Mastodon
// 4.2+'s streaming server (streaming/index.js): the token comes from "Authorization:
// Bearer TOKEN" (the prefix matched case-sensitively), else the access_token query
// parameter, else Sec-WebSocket-Protocol; a missing or unknown token gets 401 before the
// upgrade with X-Error-Message "Missing access token" or "Invalid access token". After
// the upgrade the socket stays open: {"type":"subscribe","stream":S} (and ?stream=S in
// the URL) subscribes, answering only on error with {"error":…,"status":…} — the public
// streams need no scope, "user" and "direct" need read or read:statuses,
// "user:notification" read or read:notifications —, a ping gets its pong, a close frame
// its echo.
type StreamingStubOptions struct {
	// Tokens maps each valid access token to its scopes, space-separated as
	// oauth_access_tokens.scopes holds them ("read write follow"). Nil: no token is
	// needed and the stub behaves as [StreamingStub].
	Tokens map[string]string
	// Event makes a successful subscription send one event, as a busy timeline would.
	// False: silence until the client closes, as on a quiet instance.
	Event bool
	// OnUpgrade, when set, sees every upgrade request before it is authenticated (tests
	// check which headers arrived through a proxy). It must be safe for concurrent use.
	OnUpgrade func(r *http.Request)
}

// streamingPublic are the streams that need no scope (PUBLIC_CHANNELS).
var streamingPublic = []string{"public", "public:media", "public:local", "public:local:media",
	"public:remote", "public:remote:media", "hashtag", "hashtag:local"}

// Handler returns the stub's handler.
func (o StreamingStubOptions) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/streaming/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "OK") })
	mux.HandleFunc("/api/v1/streaming", o.serveUpgrade)
	return mux
}

func (o StreamingStubOptions) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "websocket upgrade required", http.StatusBadRequest)
		return
	}
	if o.OnUpgrade != nil {
		o.OnUpgrade(r)
	}
	var scopes []string
	if o.Tokens != nil {
		token := r.URL.Query().Get("access_token")
		if token == "" {
			token = r.Header.Get("Sec-WebSocket-Protocol")
		}
		if a := r.Header.Get("Authorization"); a != "" {
			token = strings.TrimPrefix(a, "Bearer ")
		}
		s, ok := o.Tokens[token]
		if !ok || token == "" {
			msg := "Invalid access token"
			if token == "" {
				msg = "Missing access token"
			}
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("X-Error-Message", msg)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		scopes = strings.Fields(s)
	}

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
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsframe.Accept(key))
	if o.Tokens == nil {
		_ = wsframe.Write(brw, wsframe.OpText, []byte(`{"event":"update","payload":"{}"}`), false)
		_ = wsframe.Write(brw, wsframe.OpClose, []byte{0x03, 0xe8}, false) // 1000 normal closure
		_ = brw.Flush()
		return
	}
	if brw.Flush() != nil {
		return
	}
	// a session is bounded so that a client that never closes cannot leak the goroutine
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	send := func(op byte, payload []byte) bool {
		if err := wsframe.Write(brw, op, payload, false); err != nil {
			return false
		}
		return brw.Flush() == nil
	}
	subscribe := func(stream string) bool {
		var msg string
		switch {
		case slices.Contains(streamingPublic, stream):
		case stream == "user" || stream == "direct" || stream == "list":
			if !slices.Contains(scopes, "read") && !slices.Contains(scopes, "read:statuses") {
				msg = `{"error":"Access token does not have the required scopes","status":401}`
			}
		case stream == "user:notification":
			if !slices.Contains(scopes, "read") && !slices.Contains(scopes, "read:notifications") {
				msg = `{"error":"Access token does not have the required scopes","status":401}`
			}
		default:
			msg = `{"error":"Unknown stream type","status":400}`
		}
		if msg == "" && o.Event {
			ev, _ := json.Marshal(map[string]any{"stream": []string{stream}, "event": "update", "payload": `{"id":"1"}`})
			msg = string(ev)
		}
		return msg == "" || send(wsframe.OpText, []byte(msg))
	}
	if s := r.URL.Query().Get("stream"); s != "" && !subscribe(s) {
		return
	}
	for {
		op, payload, masked, err := wsframe.Read(brw, 64<<10)
		if err != nil || !masked { // a server refuses unmasked frames (RFC 6455 section 5.1)
			return
		}
		switch op {
		case wsframe.OpText:
			var m struct {
				Type   string `json:"type"`
				Stream string `json:"stream"`
			}
			if json.Unmarshal(payload, &m) == nil && m.Type == "subscribe" && !subscribe(m.Stream) {
				return
			}
		case 0x2: // binary
			_ = send(wsframe.OpClose, append([]byte{0x03, 0xeb}, "The mastodon streaming server does not support binary messages"...))
			return
		case wsframe.OpClose:
			_ = send(wsframe.OpClose, payload)
			return
		case wsframe.OpPing:
			if !send(wsframe.OpPong, payload) {
				return
			}
		}
	}
}
