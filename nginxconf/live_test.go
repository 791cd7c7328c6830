package nginxconf_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/internal/wsframe"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/nginxconf"
)

// stubPuma serves every request with 200 and the X-Forwarded-Proto it saw.
func stubPuma(t *testing.T, l net.Listener) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "puma %s proto=%s host=%s", r.URL.Path, r.Header.Get("X-Forwarded-Proto"), r.Host)
	}), ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(l) //nolint:errcheck // Serve returns when Close is called.
	t.Cleanup(func() { srv.Close() })
}

// stubStreaming answers a websocket upgrade with 101 and then echoes every byte back,
// which is all nginx's tunnel needs to prove.
func stubStreaming(t *testing.T, l net.Listener, id string) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "streaming wants a websocket", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Stub: %s\r\nSec-WebSocket-Accept: %s\r\n\r\n", id, wsframe.Accept(r.Header.Get("Sec-WebSocket-Key")))
		rw.Flush()
		_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
		io.Copy(conn, rw) //nolint:errcheck // echo until the client closes
	}), ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(l) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
}

// consecutiveListeners listens on n consecutive ports of 127.0.0.1 (streaming instances
// use PORT, PORT+1, …).
func consecutiveListeners(t *testing.T, n int) []net.Listener {
	t.Helper()
	for range 100 {
		first, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		ls := []net.Listener{first}
		base := first.Addr().(*net.TCPAddr).Port
		for i := 1; i < n; i++ {
			l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i)))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) == n {
			return ls
		}
		for _, l := range ls {
			l.Close()
		}
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1", n)
	return nil
}

type liveCase struct {
	name       string
	site       nginxconf.Site
	static     string // a static file path under the root
	cache      string // its Cache-Control
	hsts       string
	streaming  int
	xfProto    string // what puma sees
	legacyPath bool   // the streaming location is a plain prefix (before 4.0)
}

// TestLive serves each rendered site with a real nginx on high ports, in front of stub
// puma and streaming servers on 127.0.0.1, and talks to it as a browser and a
// federating server would.
func TestLive(t *testing.T) {
	cases := []liveCase{
		{name: "v6only-4.3-webdomain", site: nginxconf.Site{Domain: "example.org", WebDomain: "social.example.org", Release: mastodon.MustLookup("4.3")},
			static: "/packs/app.js", cache: "public, max-age=2419200, must-revalidate", hsts: "max-age=63072000; includeSubDomains", streaming: 1, xfProto: "https"},
		{name: "origin-1.6-v6only", site: nginxconf.Site{Domain: "mastodon.v6only.example", Release: mastodon.MustLookup("1.6")},
			static: "/packs/app.js", cache: "public, max-age=31536000, immutable", hsts: "max-age=31536000", streaming: 1, xfProto: "https", legacyPath: true},
		{name: "dual-4.7-two-streaming", site: nginxconf.Site{Domain: "social.example.org", Family: nginxconf.DualStack, Release: mastodon.MustLookup("4.7")},
			static: "/system/media/a.png", cache: "public, max-age=2419200, immutable", hsts: "max-age=63072000; includeSubDomains", streaming: 2, xfProto: "https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runLive(t, c)
		})
	}
}

func runLive(t *testing.T, c liveCase) {
	p := testenv.NewNginxPrefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Upstreams.
	web, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	stubPuma(t, web)
	strm := consecutiveListeners(t, c.streaming)
	for i, l := range strm {
		stubStreaming(t, l, strconv.Itoa(i))
	}

	// Files: the public root with a static file, an ACME token in the webroot.
	root := p.Path("public")
	webroot := p.Path("acme")
	require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(c.static)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, c.static), []byte("static bytes"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(webroot, ".well-known", "acme-challenge"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(webroot, ".well-known", "acme-challenge", "tok-123"), []byte("tok-123.thumbprint"), 0o644))

	s := c.site
	names := []string{s.Domain}
	host := s.Domain
	if s.WebDomain != "" {
		host = s.WebDomain
		names = append(names, s.WebDomain)
	}
	s.Cert, s.Key = testenv.NginxSelfSignedCert(t, p.Path("certs"), names...)
	s.CachePath = p.CachePath()
	s.AccessLog = p.Path("logs", "site-access.log")
	s.Root, s.ACMEWebroot = root, webroot
	s.Web.Port = web.Addr().(*net.TCPAddr).Port
	s.Streaming.Port = strm[0].Addr().(*net.TCPAddr).Port
	s.StreamingInstances = c.streaming
	var site []byte
	var v6http, v6https, v4http, v4https string
	for attempt := 1; ; attempt++ {
		// Another test may take a port between FreePort and nginx's bind: render
		// again with new ports then.
		s.HTTPPort, s.HTTPSPort = testenv.FreePort(t), testenv.FreePort(t)
		site, err = s.Bytes()
		require.NoError(t, err)
		p.WriteSite(t, "site", site)
		v6http = net.JoinHostPort("::1", strconv.Itoa(s.HTTPPort))
		v6https = net.JoinHostPort("::1", strconv.Itoa(s.HTTPSPort))
		v4http = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.HTTPPort))
		v4https = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.HTTPSPort))
		ready := []string{v6http, v6https}
		if s.Family == nginxconf.DualStack {
			ready = append(ready, v4http, v4https)
		}
		_, err := p.TryStartNginx(t, ready...)
		if err == nil {
			break
		}
		if !testenv.NginxAddrInUse(err) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d lost a port race, retrying: %v", attempt, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("error.log:\n%s\nsite:\n%s", p.ErrorLog(), site)
		}
	})

	pool := x509.NewCertPool()
	pem, err := os.ReadFile(s.Cert)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(pem))
	client := func(addr string) *http.Client {
		return &http.Client{
			Timeout: time.Minute,
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "tcp", addr)
				},
				TLSClientConfig:   &tls.Config{RootCAs: pool},
				ForceAttemptHTTP2: true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	get := func(cl *http.Client, url string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		resp, err := cl.Do(req)
		require.NoError(t, err, url)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}
	httpsBase := fmt.Sprintf("https://%s:%d", host, s.HTTPSPort)

	families := []struct{ http, https string }{{v6http, v6https}}
	if s.Family == nginxconf.DualStack {
		families = append(families, struct{ http, https string }{v4http, v4https})
	}
	for _, fam := range families {
		t.Logf("checking via %s and %s", fam.http, fam.https)
		plain := client(fam.http)
		// Port 80: the ACME webroot answers, everything else is a 301 to https.
		resp, body := get(plain, fmt.Sprintf("http://%s/.well-known/acme-challenge/tok-123", host))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "tok-123.thumbprint", body)
		resp, _ = get(plain, fmt.Sprintf("http://%s/.well-known/acme-challenge/missing", host))
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a missing token is a 404, not a redirect")
		resp, _ = get(plain, fmt.Sprintf("http://%s/about?x=1", host))
		assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
		assert.Equal(t, httpsBase+"/about?x=1", resp.Header.Get("Location"))

		// HTTPS: HTTP/2, the static file with the version's cache headers and HSTS.
		tlsc := client(fam.https)
		resp, body = get(tlsc, httpsBase+c.static)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "HTTP/2.0", resp.Proto)
		assert.Equal(t, "static bytes", body)
		assert.Equal(t, c.cache, resp.Header.Get("Cache-Control"))
		assert.Equal(t, c.hsts, resp.Header.Get("Strict-Transport-Security"))

		// The app: proxied to puma on 127.0.0.1 with the forwarded scheme.
		resp, body = get(tlsc, httpsBase+"/about")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "HTTP/2.0", resp.Proto)
		assert.Equal(t, fmt.Sprintf("puma /about proto=%s host=%s", c.xfProto, host), body)

		// Streaming: websocket upgrade over TLS (HTTP/1.1), 101, then bytes echo through;
		// with several instances, least_conn reaches each.
		seen := map[string]bool{}
		for i := range 2 * c.streaming {
			id := websocketEcho(t, ctx, fam.https, host, pool, fmt.Sprintf("hello over v6 #%d", i))
			seen[id] = true
		}
		assert.Len(t, seen, c.streaming, "every streaming instance answered")
	}

	// WEB_DOMAIN split: LOCAL_DOMAIN redirects the discovery endpoints to WEB_DOMAIN.
	if s.WebDomain != "" {
		tlsc := client(v6https)
		local := fmt.Sprintf("https://%s:%d", s.Domain, s.HTTPSPort)
		for _, path := range []string{"/.well-known/webfinger?resource=acct:alice@" + s.Domain, "/.well-known/host-meta", "/.well-known/nodeinfo"} {
			resp, _ := get(tlsc, local+path)
			assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode, path)
			assert.Equal(t, httpsBase+path, resp.Header.Get("Location"), path)
		}
		resp, _ := get(tlsc, local+"/about")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "LOCAL_DOMAIN serves only the redirects")
	}

	// IPv6-only: IPv4 is refused on both ports.
	if s.Family == nginxconf.IPv6Only {
		for _, addr := range []string{v4http, v4https} {
			conn, err := net.DialTimeout("tcp4", addr, 30*time.Second)
			if err == nil {
				conn.Close()
			}
			require.Error(t, err, "IPv4 must be refused on %s", addr)
			assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "want connection refused on %s, got %v", addr, err)
		}
	}
	log, err := os.ReadFile(s.AccessLog)
	require.NoError(t, err)
	assert.Contains(t, string(log), "GET /about", "the site's own access log is used")
}

// websocketEcho upgrades /api/v1/streaming on addr and checks that payload comes back.
// It returns which stub instance answered.
func websocketEcho(t *testing.T, ctx context.Context, addr, host string, pool *x509.CertPool, payload string) string {
	t.Helper()
	d := tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: host, NextProtos: []string{"http/1.1"}}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(time.Minute)))
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /api/v1/streaming?stream=public HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", host, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	_, err = io.WriteString(conn, payload)
	require.NoError(t, err)
	got := make([]byte, len(payload))
	_, err = io.ReadFull(br, got)
	require.NoError(t, err)
	assert.Equal(t, payload, string(got))
	return resp.Header.Get("X-Stub")
}
