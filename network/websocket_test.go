package network_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/internal/wsframe"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
)

// Tokens shaped like Mastodon's (Doorkeeper, 43 characters of base64url), distinct
// enough that finding one in output can only mean a leak.
const (
	tokRead      = "rEaDtOkEn0123456789abcdefghijklmnopqrstuvwx"
	tokWriteOnly = "wRiTeOnLy0123456789abcdefghijklmnopqrstuvwx"
	tokRevoked   = "rEvOkEd000123456789abcdefghijklmnopqrstuvwx"
)

// upgrades records what reached the streaming stub.
type upgrades struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (u *upgrades) add(r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reqs = append(u.reqs, r.Clone(r.Context()))
}

func (u *upgrades) all() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.reqs...)
}

// tokenFront is the loop site's front end with a streaming server that wants a token
// (as Mastodon 4.2+), in front of which mangle (if set) may rewrite the upgrade request.
func tokenFront(st testenv.StreamingStubOptions, mangle func(*http.Request)) http.Handler {
	streaming, puma := st.Handler(), testenv.MastodonStub{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
		if strings.HasPrefix(r.URL.Path, "/api/v1/streaming") {
			if mangle != nil {
				mangle(r)
			}
			streaming.ServeHTTP(w, r)
			return
		}
		puma.ServeHTTP(w, r)
	})
}

// outputs renders rep as text and JSON.
func outputs(t *testing.T, rep *network.Report) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, rep.WriteText(&b))
	require.NoError(t, rep.WriteJSON(&b))
	return b.String()
}

func TestWebsocketToken(t *testing.T) {
	t.Parallel()
	tokens := map[string]string{tokRead: "read write follow", tokWriteOnly: "write"}
	cases := []struct {
		name    string
		token   string
		release string
		event   bool
		mangle  func(*http.Request)
		state   network.State
		detail  string
		hint    string
		query   string // the upgrade's query, as the stub saw it
	}{
		{name: "no token: 401 is a warning naming the flag", state: network.Warn,
			detail: "401 from the streaming server: Missing access token (Mastodon 4.2+ wants a user's access token", hint: "--streaming-token-file", query: "stream=public"},
		{name: "good token: subscription round trip", token: tokRead, state: network.OK,
			detail: `101 with the access token, subscribed to "user", ping answered, no subscription error (0 message(s))`},
		{name: "good token on a busy timeline", token: tokRead, event: true, state: network.OK,
			detail: "ping answered, no subscription error (1 message(s))"},
		{name: "good token before 3.3: the stream is in the URL", token: tokRead, release: "3.2", state: network.OK,
			detail: `subscribed to "user", ping answered`, query: "stream=user"},
		{name: "revoked token is an error", token: tokRevoked, state: network.Fail,
			detail: "401 from the streaming server to the upgrade with the access token: Invalid access token", hint: "unknown, revoked or expired, or is an app token"},
		{name: "token without the read scope", token: tokWriteOnly, state: network.Fail,
			detail: `subscribing to "user" failed: Access token does not have the required scopes (status 401)`, hint: "create a token with the read scope"},
		{name: "proxy drops the Authorization header", token: tokRead, mangle: func(r *http.Request) { r.Header.Del("Authorization") },
			state: network.Fail, detail: "Missing access token, although the upgrade carried Authorization: Bearer", hint: "drops the Authorization header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen upgrades
			s := newLoopSite(t, loopConfig{front: tokenFront(testenv.StreamingStubOptions{Tokens: tokens, Event: tc.event, OnUpgrade: seen.add}, tc.mangle)})
			o := s.options()
			o.StreamingToken = tc.token
			if tc.release != "" {
				o.Release = mastodon.MustLookup(tc.release)
			}
			var logs bytes.Buffer
			o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			rep := probeLoop(t, o, 30*time.Second)
			c, ok := rep.Find(addr1("inbound.websocket"))
			require.True(t, ok)
			require.Equal(t, tc.state, c.State, "%s | %s", c.Detail, c.Hint)
			assert.Contains(t, c.Detail, tc.detail)
			assert.Contains(t, c.Hint, tc.hint)
			assert.Equal(t, tc.state != network.Fail, rep.OK(), rep.Verdict())

			reqs := seen.all()
			require.Len(t, reqs, 1, "one upgrade per address")
			assert.Equal(t, tc.query, reqs[0].URL.RawQuery, "the token never travels in the URL")
			if tc.token != "" && tc.mangle == nil {
				assert.Equal(t, "Bearer "+tc.token, reqs[0].Header.Get("Authorization"))
				assert.Equal(t, "bearer token", c.Values["auth"])
			}
			if tc.token == "" {
				assert.Empty(t, reqs[0].Header.Get("Authorization"))
				assert.Equal(t, "none", c.Values["auth"])
			}
			if tc.state == network.OK {
				assert.Contains(t, c.Values, "round_trip_ms")
			}
			for _, tok := range []string{tokRead, tokWriteOnly, tokRevoked} {
				assert.NotContains(t, outputs(t, rep), tok, "the token must never be reported")
				assert.NotContains(t, logs.String(), tok, "the token must never be logged")
			}
		})
	}
}

// TestWebsocketTokenPlainStub: the plain stub (a server that lets the public stream
// upgrade without a token, as 3.0 … 4.1 did) stays green without a token, and a socket
// the server closes right after the upgrade is a failure once a token asks for more.
func TestWebsocketTokenPlainStub(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{})
	rep := probeLoop(t, s.options(), 30*time.Second)
	c, _ := rep.Find(addr1("inbound.websocket"))
	require.Equal(t, network.OK, c.State, c.Detail)
	assert.Equal(t, "101 Switching Protocols, Sec-WebSocket-Accept correct", c.Detail)

	o := s.options()
	o.StreamingToken = tokRead
	rep = probeLoop(t, o, 30*time.Second)
	c, _ = rep.Find(addr1("inbound.websocket"))
	require.Equal(t, network.Fail, c.State, c.Detail)
	// the stub closes without waiting for the client's frames: the probe sees its close
	// frame, or (when the kernel resets the connection first) the broken connection
	if c.Values["close_code"] != "" {
		assert.Contains(t, c.Detail, "101, then a close frame (code 1000)")
		assert.Equal(t, "1000", c.Values["close_code"])
	} else {
		assert.Contains(t, c.Detail, "101, then the connection broke")
	}
	assert.Contains(t, c.Hint, "journalctl -u mastodon-streaming")
	assert.NotContains(t, outputs(t, rep), tokRead)
}

// TestWebsocketTokenEchoRedacted: a server that echoes the token back cannot make the
// report print it.
func TestWebsocketTokenEchoRedacted(t *testing.T) {
	t.Parallel()
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/streaming") {
			w.Header().Set("X-Error-Message", "no such token "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		testenv.MastodonStub{}.ServeHTTP(w, r)
	})
	s := newLoopSite(t, loopConfig{front: front})
	o := s.options()
	o.StreamingToken = tokRead
	rep := probeLoop(t, o, 30*time.Second)
	c, _ := rep.Find(addr1("inbound.websocket"))
	require.Equal(t, network.Fail, c.State)
	assert.Contains(t, c.Detail, "no such token [redacted]")
	assert.NotContains(t, outputs(t, rep), tokRead)
}

func TestWebsocketTokenPlanTitle(t *testing.T) {
	t.Parallel()
	o := network.Options{Domain: "social.example.org"}
	title := func(o network.Options) string {
		steps, err := network.Plan(o)
		require.NoError(t, err)
		for _, s := range steps {
			if s.ID == "inbound.websocket" {
				return s.Title
			}
		}
		t.Fatal("no inbound.websocket step")
		return ""
	}
	assert.Equal(t, "websocket handshake on /api/v1/streaming (HTTP/1.1)", title(o))
	o.StreamingToken = tokRead
	assert.Equal(t, "websocket handshake on /api/v1/streaming (HTTP/1.1) and a subscription round trip with the access token", title(o))
}

func TestValidateStreamingToken(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"abc\ndef", "abc def", `abc"def`, "abc;def", "===", "tok\x00en", "tök"} {
		ps := network.Options{Domain: "social.example.org", StreamingToken: bad}.Validate()
		require.True(t, ps.HasErrors(), "%q", bad)
		errs := ps.Errors()
		require.Len(t, errs, 1)
		assert.Equal(t, "streaming_token", errs[0].Path)
		assert.ErrorIs(t, errs[0], network.ErrToken)
		assert.NotContains(t, errs[0].Error(), "abc", "the error never repeats the token")
	}
	for _, good := range []string{tokRead, "a", "abc-._~+/==", "ZXhhbXBsZQ="} {
		ps := network.Options{Domain: "social.example.org", StreamingToken: good}.Validate()
		assert.False(t, ps.HasErrors(), "%q: %v", good, ps.Err())
	}
}

func TestReadStreamingToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
	}{
		{"owner-rw", tokRead + "\n", 0o600},
		{"owner-r", "  " + tokRead + "\r\n\n", 0o400},
	} {
		got, err := network.ReadStreamingToken(write(tc.name, tc.content, tc.mode))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tokRead, got, tc.name)
	}
	cases := []struct {
		name, content string
		mode          os.FileMode
		sentinel      error
		want          string
	}{
		{"world-readable", tokRead, 0o644, network.ErrTokenFile, "has mode 0644, so others may read the token; run chmod 600 "},
		{"group-readable", tokRead, 0o640, network.ErrTokenFile, "run chmod 600"},
		{"owner-exec", tokRead, 0o700, network.ErrTokenFile, "has mode 0700"},
		{"empty", " \n", 0o600, network.ErrToken, "is empty"},
		{"two-lines", "abcdef\nghijkl\n", 0o600, network.ErrToken, "more than one line"},
		{"spaces", "abc def", 0o600, network.ErrToken, "a character an access token never has"},
		{"huge", strings.Repeat("a", 5000), 0o600, network.ErrToken, "larger than 4096 bytes"},
	}
	for _, tc := range cases {
		p := write(tc.name, tc.content, tc.mode)
		_, err := network.ReadStreamingToken(p)
		require.Error(t, err, tc.name)
		assert.ErrorIs(t, err, tc.sentinel, tc.name)
		assert.Contains(t, err.Error(), p, "%s: the error names the path", tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
		assert.NotContains(t, err.Error(), "abc", "%s: the error never quotes the content", tc.name)
		assert.NotContains(t, err.Error(), tokRead[:10], "%s: the error never quotes the content", tc.name)
	}
	_, err := network.ReadStreamingToken(dir)
	assert.ErrorIs(t, err, network.ErrTokenFile)
	assert.Contains(t, err.Error(), "is a directory, not a file")
	_, err = network.ReadStreamingToken(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), filepath.Join(dir, "missing"))
}

// BenchmarkWebsocketCheck reports what the token costs inbound.websocket on loopback:
// the subscription, the ping round trip and the linger for a late subscription error.
func BenchmarkWebsocketCheck(b *testing.B) {
	for _, bc := range []struct {
		name  string
		token string
		front http.Handler
	}{
		{"upgrade-only", "", nil},
		{"token-round-trip", tokRead, tokenFront(testenv.StreamingStubOptions{Tokens: map[string]string{tokRead: "read"}}, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newLoopSite(b, loopConfig{front: bc.front})
			o := s.options()
			o.StreamingToken = bc.token
			var ws, wall time.Duration
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				start := time.Now()
				rep, err := network.Probe(ctx, o)
				wall += time.Since(start)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				c, _ := rep.Find(addr1("inbound.websocket"))
				if c.State != network.OK {
					b.Fatalf("%s: %s", c.State, c.Detail)
				}
				ws += c.Duration
			}
			n := float64(b.N)
			b.ReportMetric(float64(ws.Microseconds())/n/1000, "websocket-ms/op")
			b.ReportMetric(float64(wall.Microseconds())/n/1000, "probe-wall-ms/op")
		})
	}
}

// TestReadStreamingTokenFIFO: a named pipe is refused at once, not waited on (opening a
// FIFO for reading blocks until something opens it for writing).
func TestReadStreamingTokenFIFO(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "token")
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	done := make(chan error, 1)
	go func() {
		_, err := network.ReadStreamingToken(p)
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, network.ErrTokenFile)
		assert.Contains(t, err.Error(), p+" is a named pipe, not a file")
	case <-time.After(time.Minute):
		// unblock the open so that the goroutine ends with the test
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("ReadStreamingToken still waits on a named pipe after a minute")
	}
}

// TestWebsocketTokenSilentSocket: a socket that opens and then passes no frame back is a
// warning, and its detail names the time the check really waited, here cut short by
// the check's own deadline.
func TestWebsocketTokenSilentSocket(t *testing.T) {
	t.Parallel()
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/streaming") {
			testenv.MastodonStub{}.ServeHTTP(w, r)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsframe.Accept(r.Header.Get("Sec-WebSocket-Key")))
		_ = brw.Flush()
		_, _ = io.Copy(io.Discard, brw) // swallow every frame until the client goes away
	})
	s := newLoopSite(t, loopConfig{front: front})
	o := s.options()
	o.StreamingToken = tokRead
	o.CheckTimeout = 2900 * time.Millisecond // shorter than the 3 s pong wait, long enough for TLS on a loaded machine
	rep := probeLoop(t, o, 60*time.Second)
	c, ok := rep.Find(addr1("inbound.websocket"))
	require.True(t, ok)
	require.Equal(t, network.Warn, c.State, "%s | %s", c.Detail, c.Hint)
	assert.Contains(t, c.Detail, `101 with the access token, subscribed to "user", but no pong to a ping within `)
	assert.NotContains(t, c.Detail, "within 3s", "the check's deadline ended the wait before the pong wait did")
	assert.Contains(t, c.Hint, "holds websocket frames")
}
