package network_test

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/network"
	"github.com/v6kit/v6kit/nginxconf"
)

// serveOn serves h on a free port of [::1] until the test ends.
func serveOn(t *testing.T, h http.Handler) uint16 {
	t.Helper()
	l, port := listen6(t)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return port
}

// TestWebsocketTokenThroughNginx puts a real nginx, with the site nginxconf renders, in
// front of a streaming server that wants a token: the Authorization header and the
// websocket frames (subscription, ping, pong) must cross nginx, and the token must show
// neither in the report nor in nginx's access log.
func TestWebsocketTokenThroughNginx(t *testing.T) {
	t.Parallel()
	px := testenv.NewNginxPrefix(t)
	const domain = "social.example.net"
	pki := newPKI(t, t.TempDir())
	now := time.Now()
	_, certFile, keyFile := pki.issue(t, "leaf", now.Add(-time.Hour), now.Add(90*24*time.Hour), domain)

	tokens := map[string]string{tokRead: "read", tokWriteOnly: "write"}
	loop := netip.IPv6Loopback()
	pumaPort := serveOn(t, testenv.MastodonStub{Rails: true})
	streamingPort := serveOn(t, testenv.StreamingStubOptions{Tokens: tokens}.Handler())

	public := filepath.Join(px.Dir, "public")
	require.NoError(t, os.Mkdir(public, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ver, err := nginxconf.InstalledVersion(ctx, px.Binary)
	require.NoError(t, err)

	var httpPort, httpsPort uint16
	for attempt := 0; ; attempt++ {
		httpPort, httpsPort = uint16(testenv.FreePort(t)), uint16(testenv.FreePort(t))
		site := nginxconf.Site{
			Domain: domain, NginxVersion: ver.String(), Family: nginxconf.Explicit,
			HTTPListen:  []netip.AddrPort{netip.AddrPortFrom(loop, httpPort)},
			HTTPSListen: []netip.AddrPort{netip.AddrPortFrom(loop, httpsPort)},
			Cert:        certFile, Key: keyFile, Root: public, CachePath: px.CachePath(),
			Web:       nginxconf.Backend{Addr: loop, Port: int(pumaPort)},
			Streaming: nginxconf.Backend{Addr: loop, Port: int(streamingPort)},
		}
		tree, err := site.Directives()
		require.NoError(t, err)
		var text bytes.Buffer
		require.NoError(t, nginxconf.Print(&text, tree))
		px.WriteSite(t, "mastodon", text.Bytes())
		_, err = px.TryStartNginx(t, netip.AddrPortFrom(loop, httpsPort).String())
		if err == nil {
			break
		}
		if !testenv.NginxAddrInUse(err) || attempt == 4 {
			t.Fatal(err)
		}
	}

	aaaa, err := dns.NewRR(domain + ". 60 IN AAAA ::1")
	require.NoError(t, err)
	resolver := dnsServer(t, map[string][]dns.RR{domain + ".": {aaaa}})
	probe := func(token string) network.Check {
		o := network.Options{Domain: domain, Resolver: resolver, RootCAs: pki.Pool,
			HTTPPort: httpPort, HTTPSPort: httpsPort, CheckTimeout: 10 * time.Second, StreamingToken: token}
		rep := probeLoop(t, o, 30*time.Second)
		c, ok := rep.Find(addr1("inbound.websocket"))
		require.True(t, ok)
		out := outputs(t, rep)
		assert.NotContains(t, out, tokRead)
		assert.NotContains(t, out, tokWriteOnly)
		assert.NotContains(t, out, tokRevoked)
		return c
	}

	c := probe("")
	assert.Equal(t, network.Warn, c.State, c.Detail)
	assert.Contains(t, c.Hint, "--streaming-token-file")

	c = probe(tokRead)
	assert.Equal(t, network.OK, c.State, "%s | %s", c.Detail, c.Hint)
	assert.Contains(t, c.Detail, "ping answered")

	c = probe(tokRevoked)
	assert.Equal(t, network.Fail, c.State, c.Detail)
	assert.Contains(t, c.Detail, "Invalid access token")
	assert.Contains(t, c.Hint, "revoked")

	c = probe(tokWriteOnly)
	assert.Equal(t, network.Fail, c.State, c.Detail)
	assert.Contains(t, c.Hint, "read scope")

	access, err := os.ReadFile(px.Path("logs", "access.log"))
	require.NoError(t, err)
	assert.Contains(t, string(access), "/api/v1/streaming", "the upgrades went through nginx")
	for _, tok := range []string{tokRead, tokWriteOnly, tokRevoked} {
		assert.NotContains(t, string(access), tok, "the token never travels in the URL, so nginx never logs it")
	}
}
