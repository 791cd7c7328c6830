package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
)

// appHost is one of the split's web hosts in the world: stub puma and streaming in
// its own namespace where its rendered units bind them, recording what reaches them.
type appHost struct {
	name string
	addr netip.Addr
	node string
	web  *http.Server
	strm []*http.Server

	mu      sync.Mutex
	seen    []seenRequest
	streams atomic.Int64 // websocket upgrades that reached its streaming stub
}

// seenRequest is what nginx passed to a stub.
type seenRequest struct {
	Host, Path, XFF, Proto string
	Remote                 netip.Addr
}

func (a *appHost) record(r *http.Request) {
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, seenRequest{Host: r.Host, Path: r.URL.Path, XFF: r.Header.Get("X-Forwarded-For"),
		Proto: r.Header.Get("X-Forwarded-Proto"), Remote: ap.Addr().Unmap()})
}

func (a *appHost) requests() []seenRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seenRequest(nil), a.seen...)
}

// stop closes the host's puma and streaming listeners, as when the host goes down.
func (a *appHost) stop() {
	_ = a.web.Close()
	for _, s := range a.strm {
		_ = s.Close()
	}
}

// TestSplitFront serves the split topology live: front's nginx, rendered by
// examples/split with its certificate from Pebble over IPv6, in the world's server
// namespace; web1 and web2 in namespaces of their own on the app LAN
// (fd6e:7465:7374:10::/64 behind the router), each running stub puma and streaming
// where its rendered units bind them. From the IPv6-only client: the probe's whole
// inbound ladder passes, HTTPS reaches both web hosts with the Host header and the
// forwarding headers intact (and from the address TRUSTED_PROXY_IP names), the
// websocket upgrade reaches a streaming stub, webfinger/host-meta/nodeinfo on
// LOCAL_DOMAIN redirect to WEB_DOMAIN where the app answers, and nothing else on
// LOCAL_DOMAIN reaches the app. Then web1 stops: every request and upgrade still
// succeeds, through web2.
func TestSplitFront(t *testing.T) {
	t.Parallel()
	start := time.Now()
	bin, w, ctx := exampleWorld(t, "split", "nginx")

	appPrefix := netip.MustParsePrefix("fd6e:7465:7374:10::/64")
	hosts := []*appHost{
		{name: "web1", addr: netip.MustParseAddr("fd6e:7465:7374:10::31")},
		{name: "web2", addr: netip.MustParseAddr("fd6e:7465:7374:10::32")},
	}
	nodes, err := w.AddLAN(appPrefix, hosts[0].addr, hosts[1].addr)
	require.NoError(t, err)
	for i, h := range hosts {
		h.node = nodes[i]
	}
	local, web := "example."+w.Zone, "social.example."+w.Zone
	require.NoError(t, w.AddRecords("example AAAA "+w.ServerAddr.String(), "social.example AAAA "+w.ServerAddr.String()))

	root := testenv.TempDir(t)
	home := filepath.Join(root, "home/mastodon")
	le := filepath.Join(root, "etc/letsencrypt")
	require.NoError(t, os.MkdirAll(filepath.Join(home, "live/public"), 0o755))
	pebble := w.StartE2EPebble(t, w.Client, w.ClientAddr, w.ServerAddr, netip.Addr{}, w.Server)

	// Render the cluster with the world's addresses: front is the server, the web hosts
	// are on the app LAN. db1 and redis1 are not served here (TestSplit serves them).
	out := filepath.Join(root, "cluster")
	renderStart := time.Now()
	cmdOut, err := osexec.Command(bin, "--out", out, "--domain", local, "--web-domain", web, "--email", "admin@"+local,
		"--app-prefix", appPrefix.String(), "--web1-addr", hosts[0].addr.String(), "--web2-addr", hosts[1].addr.String(),
		"--front-addr", w.ServerAddr.String(), "--db-addr", "fd6e:7465:7374:20::5", "--redis-addr", "fd6e:7465:7374:20::6",
		"--home", home, "--letsencrypt", le, "--acme-server", pebble.DirURL, "--nginx-cache", filepath.Join(root, "cache")).CombinedOutput()
	require.NoError(t, err, "%s", cmdOut)
	t.Logf("split rendered in %v", time.Since(renderStart))
	read := func(host, p string) []byte {
		b, err := os.ReadFile(filepath.Join(out, host, p))
		require.NoError(t, err)
		return b
	}
	envRel := strings.TrimPrefix(filepath.Join(home, "live/.env.production"), "/")
	env, err := envfile.Parse(read("web1", envRel))
	require.NoError(t, err)
	cfg, _ := env.Config()
	require.Equal(t, local, cfg.LocalDomain)
	require.Equal(t, web, cfg.WebDomain)

	// front: the certificate with the command front's NEXT-STEPS.md gives, then the site.
	cc := certCommand(t, string(read("front", bundle.NextStepsPath)))
	require.Equal(t, le, cc.dir)
	require.Equal(t, pebble.DirURL, cc.server)
	require.Equal(t, filepath.Join(home, "live/public"), cc.webroot)
	require.Equal(t, []string{web, local}, cc.names)
	site := read("front", bundle.SitePath)
	front := serveFront(ctx, t, w, pebble, cc, read("front", bundle.BootstrapPath), site, read("front", bundle.UnitDir+"/v6-certs-renew.service"))

	// web1, web2: stubs where each host's rendered units bind, which must be upstream
	// servers of front's nginx.
	rel := mastodon.Newest()
	for _, h := range hosts {
		webBind, streamBinds := unitBinds(t, read(h.name, bundle.UnitDir+"/mastodon-web.service"),
			read(h.name, bundle.UnitDir+"/mastodon-streaming@.service"), site)
		require.Equal(t, h.addr, webBind.Addr(), "%s's puma binds its LAN address", h.name)
		stub := testenv.MastodonStub{LocalDomain: local, Version: rel.String(), Rails: true}
		h.web = serve(t, w, h.node, webBind, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			h.record(r)
			rw.Header().Set("X-Served-By", h.name)
			stub.ServeHTTP(rw, r)
		}))
		streaming := testenv.StreamingStub()
		for _, b := range streamBinds {
			h.strm = append(h.strm, serve(t, w, h.node, b, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				h.record(r)
				if r.Header.Get("Upgrade") != "" {
					h.streams.Add(1)
				}
				streaming.ServeHTTP(rw, r)
			})))
		}
	}

	caFile := filepath.Join(root, "roots.pem")
	require.NoError(t, os.WriteFile(caFile, pebble.Roots(t), 0o644))
	opts := network.Options{Domain: local, WebDomain: web, Family: network.V6Only, Resolver: netip.AddrPortFrom(w.DNS64, 53), CheckTimeout: 10 * time.Second}
	requireAllPass(t, probe(t, w, w.Client, opts, caFile))

	webClient := noRedirects(httpsClient(w, web, w.ServerAddr, caFile))
	localClient := noRedirects(httpsClient(w, local, w.ServerAddr, caFile))
	instance := func() string {
		t.Helper()
		resp, err := webClient.Get("https://" + web + "/api/v2/instance")
		require.NoError(t, err)
		defer resp.Body.Close()
		var doc struct{ Domain string }
		require.Equal(t, 200, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
		assert.Equal(t, local, doc.Domain, "the app's answer")
		assert.NotEqual(t, "HIT", resp.Header.Get("X-Cached"), "answered by a web host, not nginx's cache")
		return resp.Header.Get("X-Served-By")
	}
	upgrade := func() {
		t.Helper()
		before := hosts[0].streams.Load() + hosts[1].streams.Load()
		status, frame := websocketFirstFrame(t, webClient, web)
		require.Equal(t, 101, status)
		assert.Contains(t, frame, `"event":"update"`, "the streaming stub's first message")
		assert.Equal(t, before+1, hosts[0].streams.Load()+hosts[1].streams.Load(), "the upgrade reached a streaming stub")
	}

	// HTTPS over IPv6 reaches both web hosts (round robin), Host and forwarding
	// headers preserved, from front's address, which TRUSTED_PROXY_IP trusts.
	served := map[string]int{}
	for range 4 {
		served[instance()]++
	}
	assert.Equal(t, map[string]int{"web1": 2, "web2": 2}, served, "nginx balances the two web hosts")
	for range 4 {
		upgrade()
	}
	for _, h := range hosts {
		reqs := h.requests()
		require.NotEmpty(t, reqs, "%s reached", h.name)
		for _, r := range reqs {
			assert.Equal(t, web, r.Host, "%s %s: Host header preserved", h.name, r.Path)
			assert.Equal(t, "https", r.Proto, "%s %s: X-Forwarded-Proto", h.name, r.Path)
			assert.Equal(t, w.ClientAddr.String(), r.XFF, "%s %s: X-Forwarded-For is the client", h.name, r.Path)
			assert.Equal(t, w.ServerAddr, r.Remote, "%s %s: from front", h.name, r.Path)
			assert.True(t, containsAddr(cfg.TrustedProxyIP, r.Remote), "TRUSTED_PROXY_IP %v trusts front %s", cfg.TrustedProxyIP, r.Remote)
		}
	}

	// WEB_DOMAIN differs from LOCAL_DOMAIN: LOCAL_DOMAIN's well-known paths redirect to
	// WEB_DOMAIN, where the app answers them; nothing else on LOCAL_DOMAIN reaches the app.
	for _, p := range []string{"/.well-known/webfinger?resource=acct:alice@" + local, "/.well-known/host-meta", "/.well-known/nodeinfo"} {
		resp, err := localClient.Get("https://" + local + p)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode, "https://%s%s", local, p)
		assert.Equal(t, "https://"+web+p, resp.Header.Get("Location"))
		resp, err = webClient.Get("https://" + web + p)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, "https://%s%s: %s", web, p, body)
		assert.NotEmpty(t, resp.Header.Get("X-Served-By"), "https://%s%s answered by a web host", web, p)
		if strings.HasPrefix(p, "/.well-known/webfinger") {
			assert.Contains(t, string(body), `"subject":"acct:alice@`+local+`"`)
		}
	}
	n := len(hosts[0].requests()) + len(hosts[1].requests())
	for _, p := range []string{"/", "/api/v2/instance", "/api/v1/streaming"} {
		resp, err := localClient.Get("https://" + local + p)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "https://%s%s", local, p)
	}
	assert.Equal(t, n, len(hosts[0].requests())+len(hosts[1].requests()), "LOCAL_DOMAIN serves nothing from the app")

	// web1 goes down: nginx tries it, is refused, and passes every request and upgrade
	// to web2.
	hosts[0].stop()
	web1Seen, web1Streams := len(hosts[0].requests()), hosts[0].streams.Load()
	for range 4 {
		assert.Equal(t, "web2", instance(), "with web1 down")
	}
	for range 4 {
		upgrade()
	}
	requireAllPass(t, probe(t, w, w.Client, opts, caFile))
	assert.Equal(t, web1Seen, len(hosts[0].requests()), "nothing reaches the stopped web1")
	assert.Equal(t, web1Streams, hosts[0].streams.Load())
	errLog := front.px.ErrorLog()
	assert.Contains(t, errLog, "(111: Connection refused) while connecting to upstream", "nginx tried web1 and failed over")
	assert.Contains(t, errLog, netip.AddrPortFrom(hosts[0].addr, 3000).String())
	t.Logf("split front end to end in %v (web1 served %d requests and %d upgrades before it stopped, web2 %d and %d)",
		time.Since(start), web1Seen, web1Streams, len(hosts[1].requests()), hosts[1].streams.Load())
}

func noRedirects(c *http.Client) *http.Client {
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// websocketFirstFrame makes an RFC 6455 upgrade request to https://name/api/v1/streaming
// over HTTP/1.1 and returns the status and, after a 101, the first frame's text (the
// handshake's Sec-WebSocket-Accept is checked), through cl's transport.
func websocketFirstFrame(t *testing.T, cl *http.Client, name string) (int, string) {
	t.Helper()
	const key = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 section 1.3's sample
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+name+"/api/v1/streaming?stream=public", nil)
	require.NoError(t, err)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	// the transport itself: http.Client's timeout wrapper hides the 101 body's Write
	resp, err := cl.Transport.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	rw, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "a 101 response's body is the connection")
	var hdr [2]byte
	_, err = io.ReadFull(rw, hdr[:])
	require.NoError(t, err)
	require.Equal(t, byte(0x81), hdr[0], "a final text frame")
	require.Less(t, hdr[1], byte(126), "a short unmasked frame")
	msg := make([]byte, hdr[1])
	_, err = io.ReadFull(rw, msg)
	require.NoError(t, err)
	return resp.StatusCode, string(msg)
}
