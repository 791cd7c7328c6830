package network

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/v6kit/v6kit/internal/wsframe"
	"github.com/v6kit/v6kit/mastodon"
)

// After a token's upgrade the check waits at most wsPongWait for the pong to its ping,
// then wsLinger more for a subscription error that the streaming server sends in the
// same turn as the pong (or just after it); both are cut short by the check's deadline.
const (
	wsPongWait = 3 * time.Second
	wsLinger   = 250 * time.Millisecond
)

// redacted replaces the streaming token wherever a check's text might echo it.
const redacted = "[redacted]"

// checkWebsocket is inbound.websocket: a real RFC 6455 handshake over HTTP/1.1. With
// Options.StreamingToken the upgrade carries "Authorization: Bearer TOKEN" and the check
// goes on over the open socket: it subscribes to the "user" stream (which needs the read
// scope, where the public streams need none), pings, and passes once the pong comes
// back with no subscription error.
func checkWebsocket(ctx context.Context, r *run, c *Check) {
	token := r.o.StreamingToken
	defer redactCheck(c, token)
	raw, ok := dialHTTPS(ctx, r, c)
	if !ok {
		return
	}
	defer raw.Close()
	tc := tls.Client(raw, r.tlsConfig(r.o.WebDomain, "http/1.1"))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.fail("fix TLS first (see inbound.tls)", "TLS handshake failed: %v", err)
		return
	}
	var kb [16]byte
	_, _ = rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	u := url.URL{Scheme: "https", Host: r.o.WebDomain, Path: "/api/v1/streaming", RawQuery: "stream=public"}
	switch {
	case token == "":
		set(c, "auth", "none")
	case r.o.Release.StreamingSubscribeMessages():
		set(c, "auth", "bearer token")
		u.RawQuery = "" // the subscription is a message on the open socket
	default:
		set(c, "auth", "bearer token")
		u.RawQuery = "stream=" + mastodon.StreamingStreamNeedingRead // before 3.3 the URL names the one stream
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("User-Agent", "v6kit-probe/1")
	if token != "" {
		req.Header.Set("Authorization", mastodon.StreamingBearerPrefix+token)
	}
	if err := req.Write(tc); err != nil {
		c.fail("", "writing the upgrade request: %v", err)
		return
	}
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		c.fail("check the streaming location block in nginx", "reading the upgrade response: %v", err)
		return
	}
	resp.Body.Close()
	set(c, "status", strconv.Itoa(resp.StatusCode))
	got := resp.Header.Get("Sec-WebSocket-Accept")
	switch {
	case resp.StatusCode == 101 && got == wsframe.Accept(key):
		if token == "" {
			c.ok("101 Switching Protocols, Sec-WebSocket-Accept correct")
			return
		}
		wsRoundTrip(ctx, r, c, tc, br)
	case resp.StatusCode == 101:
		c.fail("something between the client and the streaming server rewrites the handshake", "101 with a wrong Sec-WebSocket-Accept %q", got)
	case resp.StatusCode == 401:
		ws401(r, c, token != "", remoteText(resp.Header.Get("X-Error-Message")))
	case resp.StatusCode == 400 || resp.StatusCode == 426 || resp.StatusCode == 200 || resp.StatusCode == 404:
		c.fail("the proxy does not pass the upgrade: in location /api/v1/streaming set proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;",
			"%d instead of 101: the websocket upgrade did not reach the streaming server", resp.StatusCode)
	case resp.StatusCode == 502 || resp.StatusCode == 504:
		c.fail("the streaming service is down or not where nginx proxies: systemctl status mastodon-streaming; check its BIND/PORT against nginx's upstream",
			"%s on /api/v1/streaming", gatewayDetail(resp.StatusCode))
	default:
		c.fail("check the streaming location block and the streaming service", "%s instead of 101", gatewayDetail(resp.StatusCode))
	}
}

// ws401 judges a 401 to the upgrade: a warning without a token (the server wants one),
// an error with one (the server refused it).
func ws401(r *run, c *Check, withToken bool, why string) {
	detail := "401 from the streaming server"
	if why != "" {
		detail += ": " + why
	}
	if !withToken {
		wants := "it wants an access token before upgrading"
		if r.o.Release.StreamingUserTokenOnly() {
			wants = "Mastodon 4.2+ wants a user's access token before upgrading"
		}
		c.warn("the upgrade reached the streaming server, but without a token the websocket itself was not tried; to check it end to end, "+
			"give an access token with the read scope (Preferences → Development → New application): "+
			"v6-probe --streaming-token-file FILE (one line, chmod 600)",
			"%s (%s)", detail, wants)
		return
	}
	if why == "Missing access token" {
		c.fail("something between the client and streaming drops the Authorization header: remove any proxy_set_header Authorization \"\" (or an auth_request that clears it) from location /api/v1/streaming",
			"%s, although the upgrade carried Authorization: Bearer", detail)
		return
	}
	hint := "the streaming server refused the access token: it is unknown, revoked or expired"
	if !r.o.Release.StreamingSubscribeMessages() {
		hint += ", or lacks the read scope (checked at the upgrade before 3.3)"
	}
	if r.o.Release.StreamingUserTokenOnly() {
		hint += ", or is an app token without a user (refused since 4.2)"
	}
	hint += "; create a token with the read scope under Preferences → Development → New application and put it in the --streaming-token-file"
	c.fail(hint, "401 from the streaming server to the upgrade with the access token%s", prefixed(": ", why))
}

// wsRoundTrip subscribes (or relies on ?stream= before 3.3), pings, and reads frames
// until the pong plus a short linger, a subscription error, a close, or the deadline.
func wsRoundTrip(ctx context.Context, r *run, c *Check, conn net.Conn, br *bufio.Reader) {
	stream := mastodon.StreamingStreamNeedingRead
	set(c, "stream", stream)
	start := time.Now()
	// A failed write is reported only if nothing explains it: a close frame the server
	// sent before going away is still read below.
	var sendErr error
	if r.o.Release.StreamingSubscribeMessages() {
		msg, _ := json.Marshal(map[string]string{"type": "subscribe", "stream": stream})
		sendErr = wsWriteClientFrame(conn, wsframe.OpText, msg)
	}
	var ping [8]byte
	_, _ = rand.Read(ping[:])
	if sendErr == nil {
		sendErr = wsWriteClientFrame(conn, wsframe.OpPing, ping[:])
	}
	limit := func(d time.Duration) time.Time {
		t := time.Now().Add(d)
		if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
			return dl
		}
		return t
	}
	pongBy := limit(wsPongWait)
	_ = conn.SetReadDeadline(pongBy)
	var rtt time.Duration
	pong, messages := false, 0
	for {
		op, payload, err := wsReadFrame(br)
		if err != nil {
			if isTimeout(err) {
				break
			}
			if sendErr != nil {
				err = sendErr
			}
			c.fail("the streaming server or a proxy closed the socket after the upgrade: journalctl -u mastodon-streaming",
				"101, then the connection broke: %v", err)
			return
		}
		switch op {
		case wsframe.OpText:
			var m struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if json.Unmarshal(payload, &m) == nil && m.Error != "" {
				wsSubscribeError(c, stream, remoteText(m.Error), m.Status)
				return
			}
			messages++
		case wsframe.OpClose:
			code, reason := 1005, ""
			if len(payload) >= 2 {
				code, reason = int(binary.BigEndian.Uint16(payload)), remoteText(string(payload[2:]))
			}
			set(c, "close_code", strconv.Itoa(code))
			c.fail("the streaming server closed the socket it had just opened: journalctl -u mastodon-streaming says why",
				"101, then a close frame (code %d%s) before the subscription was confirmed", code, prefixed(": ", reason))
			return
		case wsframe.OpPing:
			_ = wsWriteClientFrame(conn, wsframe.OpPong, payload)
		case wsframe.OpPong:
			if !pong && bytes.Equal(payload, ping[:]) {
				pong, rtt = true, time.Since(start)
				_ = conn.SetReadDeadline(limit(wsLinger))
			}
		}
	}
	if !pong && messages == 0 {
		c.warn("the websocket opened but nothing came back through it: check that no proxy or firewall between here and streaming holds websocket frames",
			"101 with the access token, subscribed to %q, but no pong to a ping within %s", stream, pongBy.Sub(start).Round(100*time.Millisecond))
		return
	}
	_ = wsWriteClientFrame(conn, wsframe.OpClose, []byte{0x03, 0xe8}) // 1000 normal closure, best effort
	if pong {
		set(c, "round_trip_ms", strconv.FormatInt(rtt.Milliseconds(), 10))
	}
	set(c, "messages", strconv.Itoa(messages))
	what := "ping answered"
	if !pong {
		what = "no pong, but events arrived"
	}
	c.ok("101 with the access token, subscribed to %q, %s, no subscription error (%d message(s))", stream, what, messages)
}

// wsSubscribeError fails c for a subscription error message.
func wsSubscribeError(c *Check, stream, msg string, status int) {
	set(c, "subscribe_status", strconv.Itoa(status))
	if status == 401 || status == 403 {
		c.fail("the access token lacks the scope the "+stream+" stream needs: create a token with the read scope (or at least read:statuses) and put it in the --streaming-token-file",
			"101 with the access token, but subscribing to %q failed: %s (status %d)", stream, msg, status)
		return
	}
	c.fail("the streaming server refused the subscription: journalctl -u mastodon-streaming says why",
		"101 with the access token, but subscribing to %q failed: %s (status %d)", stream, msg, status)
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// remoteText makes text a server sent safe to print: printable ASCII, at most 120 bytes.
func remoteText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 120 {
			b.WriteString("…")
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// redactCheck removes secret from everything a check reports.
func redactCheck(c *Check, secret string) {
	if secret == "" {
		return
	}
	c.Detail = strings.ReplaceAll(c.Detail, secret, redacted)
	c.Hint = strings.ReplaceAll(c.Hint, secret, redacted)
	for k, v := range c.Values {
		c.Values[k] = strings.ReplaceAll(v, secret, redacted)
	}
}

// wsWriteClientFrame writes one final, masked frame (client to server, RFC 6455 5.3).
func wsWriteClientFrame(w io.Writer, op byte, payload []byte) error {
	return wsframe.Write(w, op, payload, true)
}

// wsMaxFrame bounds a frame the check reads; a timeline event is a few kilobytes.
const wsMaxFrame = 1 << 20

// wsReadFrame reads one frame from the server (a fragment's opcode is returned as is:
// the check only looks at whole control frames and single-frame messages).
func wsReadFrame(r io.Reader) (op byte, payload []byte, err error) {
	op, payload, _, err = wsframe.Read(r, wsMaxFrame)
	return op, payload, err
}
