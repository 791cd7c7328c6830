package network_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
)

// loopSite is a Mastodon-shaped site on [::1] made of Go servers: a DNS server, an HTTP
// server that redirects, and an HTTPS front end that routes /api/v1/streaming to a
// websocket stub and everything else to a puma stub.
type loopSite struct {
	domain   string
	dnsAddr  netip.AddrPort
	httpPort uint16
	tlsPort  uint16
	pki      *testPKI
	records  map[string][]dns.RR
}

type loopConfig struct {
	cert    string       // "valid" (default), "wrongname", "expired"
	front   http.Handler // replaces the front end's handler
	hang    bool         // the TLS port accepts and never answers
	noHSTS  bool
	aRecord bool
	dual    bool         // also listen on 127.0.0.1 (same ports) and publish an A record
	v4Front http.Handler // with dual: what IPv4 clients get instead of the site
	split   bool         // LOCAL_DOMAIN example.net redirects /.well-known/ to WEB_DOMAIN
}

func dnsServer(t testing.TB, records map[string][]dns.RR) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	require.NoError(t, err)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		rrs, exists := records[name]
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: h}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func listen6(t testing.TB) (net.Listener, uint16) {
	t.Helper()
	l, err := net.Listen("tcp6", "[::1]:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l, uint16(l.Addr().(*net.TCPAddr).Port)
}

// listenBoth listens on the same free port on [::1] and 127.0.0.1.
func listenBoth(t testing.TB) (net.Listener, net.Listener) {
	t.Helper()
	for range 20 {
		p := testenv.FreePort(t)
		l6, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", p))
		if err != nil {
			continue
		}
		l4, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			l6.Close()
			continue
		}
		t.Cleanup(func() { l6.Close(); l4.Close() })
		return l6, l4
	}
	t.Fatal("no port free on both [::1] and 127.0.0.1")
	return nil, nil
}

func newLoopSite(t testing.TB, cfg loopConfig) *loopSite {
	t.Helper()
	s := &loopSite{domain: "social.example.net", pki: newPKI(t, t.TempDir())}
	aaaa, _ := dns.NewRR(s.domain + ". 60 IN AAAA ::1")
	s.records = map[string][]dns.RR{s.domain + ".": {aaaa}}
	if cfg.split {
		local, _ := dns.NewRR("example.net. 60 IN AAAA ::1")
		s.records["example.net."] = []dns.RR{local}
	}
	if cfg.aRecord || cfg.dual {
		a, _ := dns.NewRR(s.domain + ". 60 IN A 127.0.0.1")
		s.records[s.domain+"."] = append(s.records[s.domain+"."], a)
	}
	s.dnsAddr = dnsServer(t, s.records)

	var hl, tl, hl4, tl4 net.Listener
	if cfg.dual {
		hl, hl4 = listenBoth(t)
		tl, tl4 = listenBoth(t)
		s.httpPort = uint16(hl.Addr().(*net.TCPAddr).Port)
		s.tlsPort = uint16(tl.Addr().(*net.TCPAddr).Port)
	} else {
		hl, s.httpPort = listen6(t)
		tl, s.tlsPort = listen6(t)
	}
	redirect := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+hostOnly(r.Host, s.domain)+r.URL.RequestURI(), http.StatusMovedPermanently)
	})}
	go func() { _ = redirect.Serve(hl) }()
	if hl4 != nil {
		go func() { _ = redirect.Serve(hl4) }()
	}
	t.Cleanup(func() { _ = redirect.Close() })

	if cfg.hang {
		go func() {
			for {
				c, err := tl.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() }) // hold it open, say nothing
			}
		}()
		return s
	}
	now := time.Now()
	var cert tls.Certificate
	switch cfg.cert {
	case "wrongname":
		cert, _, _ = s.pki.issue(t, "leaf", now.Add(-time.Hour), now.Add(90*24*time.Hour), "other.example.net")
	case "expired":
		cert, _, _ = s.pki.issue(t, "leaf", now.Add(-90*24*time.Hour), now.Add(-24*time.Hour), s.domain)
	default:
		cert, _, _ = s.pki.issue(t, "leaf", now.Add(-time.Hour), now.Add(90*24*time.Hour), s.domain, "example.net")
	}
	front := cfg.front
	if front == nil {
		puma, streaming := testenv.MastodonStub{}, testenv.StreamingStub()
		front = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !cfg.noHSTS {
				w.Header().Set("Strict-Transport-Security", "max-age=63072000")
			}
			if cfg.split && hostOnly(r.Host, "") == "example.net" {
				if strings.HasPrefix(r.URL.Path, "/.well-known/") {
					http.Redirect(w, r, "https://"+s.domain+r.URL.RequestURI(), http.StatusMovedPermanently)
					return
				}
				http.NotFound(w, r)
				return
			}
			if strings.HasPrefix(r.URL.Path, "/api/v1/streaming") {
				streaming.ServeHTTP(w, r)
				return
			}
			puma.ServeHTTP(w, r)
		})
	}
	tlsCfg := func() *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	}
	srv := &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0), TLSConfig: tlsCfg()}
	srv4 := srv
	if tl4 != nil && cfg.v4Front != nil {
		srv4 = &http.Server{Handler: cfg.v4Front, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0), TLSConfig: tlsCfg()}
		t.Cleanup(func() { _ = srv4.Close() })
	}
	go func() { _ = srv.ServeTLS(tl, "", "") }()
	if tl4 != nil {
		go func() { _ = srv4.ServeTLS(tl4, "", "") }()
	}
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *loopSite) options() network.Options {
	return network.Options{
		Domain: s.domain, Resolver: s.dnsAddr, RootCAs: s.pki.Pool,
		HTTPPort: s.httpPort, HTTPSPort: s.tlsPort, CheckTimeout: 10 * time.Second,
	}
}

func probeLoop(t *testing.T, o network.Options, timeout time.Duration) *network.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := network.Probe(ctx, o)
	require.NoError(t, err)
	return rep
}

func addr1(id string) string { return id + "@::1" }

func TestLoopbackAllGreen(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{})
	rep := probeLoop(t, s.options(), 30*time.Second)
	require.True(t, rep.OK(), rep.Verdict())
	for _, c := range rep.Checks {
		if c.ID == addr1("mtu.icmp") {
			continue // needs CAP_NET_RAW; checked below
		}
		assert.Equal(t, network.OK, c.State, "%s: %s", c.ID, c.Detail)
		assert.Positive(t, c.Duration, c.ID)
	}
	tc, _ := rep.Find(addr1("inbound.tls"))
	assert.Equal(t, "h2", tc.Values["alpn"])
	assert.Equal(t, "TLS 1.3", tc.Values["tls_version"])
	assert.Equal(t, "89", tc.Values["days_left"])
	mt, _ := rep.Find(addr1("mtu.transfer"))
	assert.Contains(t, mt.Values, "path_mtu", "the kernel's path MTU is readable on a connected socket")
	icmp, _ := rep.Find(addr1("mtu.icmp"))
	if os.Geteuid() == 0 {
		assert.Equal(t, network.OK, icmp.State, icmp.Detail)
	} else {
		assert.Equal(t, network.NotChecked, icmp.State)
		assert.Contains(t, icmp.Detail, "not checked: needs CAP_NET_RAW")
	}
	assert.Empty(t, rep.Diagnoses)
	// the plan order is kept
	var ids []string
	for _, c := range rep.Checks {
		ids = append(ids, strings.SplitN(c.ID, "@", 2)[0])
	}
	assert.Equal(t, []string{"dns.aaaa.local", "dns.a.web", "inbound.tcp80", "inbound.tcp443", "inbound.tls", "inbound.redirect",
		"inbound.hsts", "inbound.http2", "inbound.health", "inbound.websocket", "inbound.instance", "inbound.webfinger",
		"inbound.host-meta", "inbound.nodeinfo", "inbound.ipv4-refused", "mtu.transfer", "mtu.icmp"}, ids)
}

func TestLoopbackFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   loopConfig
		id    string
		state network.State
		hint  string
		cause string
	}{
		{"wrong name", loopConfig{cert: "wrongname"}, "inbound.tls", network.Fail, "issue a certificate that names social.example.net", "certificate for the wrong name"},
		{"expired", loopConfig{cert: "expired"}, "inbound.tls", network.Fail, "renew the certificate", "certificate expired"},
		{"no HSTS", loopConfig{noHSTS: true}, "inbound.hsts", network.Warn, "Strict-Transport-Security", ""},
		{"A record on v6only", loopConfig{aRecord: true}, "dns.a.web", network.Fail, "remove the A record 127.0.0.1", "A record on an IPv6-only site"},
		{"502 everywhere", loopConfig{front: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		})}, "inbound.health", network.Fail, "the web service (puma) is down", "web service (puma) down"},
		{"streaming upgrade stripped", loopConfig{front: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v1/streaming") {
				http.Error(w, "websocket upgrade required", http.StatusBadRequest)
				return
			}
			testenv.MastodonStub{}.ServeHTTP(w, r)
		})}, "inbound.websocket", network.Fail, "proxy_http_version 1.1", "websocket broken by the proxy"},
		{"streaming down", loopConfig{front: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v1/streaming") {
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			}
			testenv.MastodonStub{}.ServeHTTP(w, r)
		})}, "inbound.websocket", network.Fail, "systemctl status mastodon-streaming", "streaming service down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newLoopSite(t, tc.cfg)
			rep := probeLoop(t, s.options(), 30*time.Second)
			id := tc.id
			if strings.HasPrefix(id, "inbound.") {
				id = addr1(id)
			}
			c, ok := rep.Find(id)
			require.True(t, ok)
			require.Equal(t, tc.state, c.State, c.Detail)
			require.Contains(t, c.Hint, tc.hint)
			if tc.cause != "" {
				require.True(t, hasCause(rep, tc.cause), "%+v", rep.Diagnoses)
			}
		})
	}
}

func hasCause(rep *network.Report, cause string) bool {
	for _, d := range rep.Diagnoses {
		if strings.Contains(d.Cause, cause) {
			return true
		}
	}
	return false
}

// TestLoopbackDeadline: a server that accepts and never answers cannot hold the probe
// past its deadline.
func TestLoopbackDeadline(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{hang: true})
	o := s.options()
	o.CheckTimeout = time.Minute // only the context bounds the checks
	start := time.Now()
	rep := probeLoop(t, o, 1500*time.Millisecond)
	elapsed := time.Since(start)
	require.Less(t, elapsed, 20*time.Second, "the probe must end near its deadline")
	c, _ := rep.Find(addr1("inbound.tls"))
	require.Equal(t, network.Fail, c.State)
	require.Contains(t, c.Detail, "timed out")
	require.Contains(t, c.Hint, "blackhole")
	m, _ := rep.Find(addr1("mtu.transfer"))
	require.Equal(t, network.Fail, m.State)
	require.True(t, hasCause(rep, "path MTU blackhole"))
}

// TestLoopbackLocal runs the local service checks against real Redis and PostgreSQL on
// ::1 and 127.0.0.1, with stub puma and streaming listeners.
func TestLoopbackLocal(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{})
	pg := testenv.StartPostgres(t)
	redisPort := testenv.FreePort(t)
	snip := filepath.Join(testenv.TempDir(t), "redis.conf")
	require.NoError(t, os.WriteFile(snip, []byte(fmt.Sprintf("bind ::1 127.0.0.1\nport %d\nrequirepass sekret\n", redisPort)), 0o644))
	_, err := testenv.StartRedis(t, snip)
	require.NoError(t, err)
	pumaL, pumaPort := listen6(t)
	puma := &http.Server{Handler: testenv.MastodonStub{}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = puma.Serve(pumaL) }()
	t.Cleanup(func() { _ = puma.Close() })
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(rc, []byte("nameserver ::1\n"), 0o644))

	o := s.options()
	o.Local = true
	o.ResolvConf = rc
	o.WebBind = netip.AddrPortFrom(netip.IPv6Unspecified(), pumaPort)
	o.StreamingBind = netip.AddrPortFrom(netip.IPv6Loopback(), uint16(testenv.FreePort(t))) // nothing there
	o.RedisPort = uint16(redisPort)
	o.RedisPassword = "sekret"
	o.PostgresPort = uint16(pg.Port)
	o.PostgresUser = "postgres"
	o.PostgresPassword = testenv.PostgresSuperPassword
	o.PostgresDatabase = "postgres"
	rep := probeLoop(t, o, 60*time.Second)

	for _, id := range []string{"local.puma", "local.redis@::1", "local.redis@127.0.0.1", "local.postgres@::1", "local.postgres@127.0.0.1"} {
		c, ok := rep.Find(id)
		require.True(t, ok, id)
		assert.Equal(t, network.OK, c.State, "%s: %s", id, c.Detail)
	}
	c, _ := rep.Find("local.streaming")
	assert.Equal(t, network.Fail, c.State)
	assert.Contains(t, c.Hint, "systemctl status mastodon-streaming")
	c, _ = rep.Find("local.postgres@::1")
	assert.NotEmpty(t, c.Values["server_version"])
	c, _ = rep.Find("local.puma")
	assert.Equal(t, "200", c.Values["health"])

	// wrong credentials: each reported separately, with the fix
	o.RedisPassword = "wrong"
	o.PostgresPassword = "wrong"
	rep = probeLoop(t, o, 60*time.Second)
	c, _ = rep.Find("local.postgres@::1")
	assert.Equal(t, network.Fail, c.State)
	assert.Contains(t, c.Hint, "pg_hba.conf")
	assert.Contains(t, c.Hint, "::1/128")
	c, _ = rep.Find("local.redis@127.0.0.1")
	assert.Equal(t, network.Fail, c.State)
	assert.Contains(t, c.Hint, "REDIS_PASSWORD")
}

// TestLoopbackDualStack probes a dual-stack site over both families: every per-address
// check runs once per AAAA and once per A, and the parity check compares them.
func TestLoopbackDualStack(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{dual: true})
	o := s.options()
	o.Family = network.DualStack
	rep := probeLoop(t, o, 30*time.Second)
	require.True(t, rep.OK(), rep.Verdict())
	for _, id := range []string{"dns.a.web", "inbound.tls@127.0.0.1", "inbound.websocket@127.0.0.1", "inbound.health@::1", "inbound.parity"} {
		c, ok := rep.Find(id)
		require.True(t, ok, id)
		assert.Equal(t, network.OK, c.State, "%s: %s", id, c.Detail)
	}
	_, ok := rep.Find("mtu.transfer@127.0.0.1")
	assert.False(t, ok, "the path MTU checks are IPv6 only")

	// IPv4 clients get something else: parity fails and names the checks that differ
	s = newLoopSite(t, loopConfig{dual: true, v4Front: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	})})
	o = s.options()
	o.Family = network.DualStack
	rep = probeLoop(t, o, 30*time.Second)
	c, _ := rep.Find("inbound.parity")
	require.Equal(t, network.Fail, c.State)
	assert.Contains(t, c.Detail, "inbound.health: IPv6 ok 200, IPv4 fail 404")
	assert.Contains(t, c.Hint, "listen [::]:PORT and listen PORT")
	h, _ := rep.Find("inbound.health@::1")
	assert.Equal(t, network.OK, h.State)
}

// TestLoopbackSplitDomain: LOCAL_DOMAIN (example.net) differs from WEB_DOMAIN and
// redirects /.well-known/ there; the federation checks follow the redirect.
func TestLoopbackSplitDomain(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{split: true})
	o := s.options()
	o.Domain, o.WebDomain = "example.net", s.domain
	rep := probeLoop(t, o, 30*time.Second)
	c, _ := rep.Find("inbound.webfinger@::1")
	assert.Equal(t, network.OK, c.State, c.Detail)
	assert.Contains(t, c.Values["final_url"], "https://social.example.net/.well-known/webfinger?resource=acct%3Aexample.net%40example.net")
	_, ok := rep.Find("dns.aaaa.web")
	assert.True(t, ok)
	i, _ := rep.Find("inbound.instance@::1")
	assert.Equal(t, network.Warn, i.State, "the stub calls itself by WEB_DOMAIN: a LOCAL_DOMAIN mismatch is reported")
	assert.Contains(t, i.Hint, "LOCAL_DOMAIN")
	require.True(t, rep.OK(), rep.Verdict())
}

// refusingListener fails like a raw socket without CAP_NET_RAW.
type refusingListener struct{}

func (refusingListener) ListenPacket(context.Context, string, string) (net.PacketConn, error) {
	return nil, &net.OpError{Op: "listen", Net: "ip6:ipv6-icmp", Err: os.NewSyscallError("socket", syscall.EPERM)}
}

// TestICMPNeedsCapNetRaw: without the privilege the ICMP check says so, the rest run.
func TestICMPNeedsCapNetRaw(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{})
	o := s.options()
	o.PacketListener = refusingListener{}
	rep := probeLoop(t, o, 30*time.Second)
	c, _ := rep.Find(addr1("mtu.icmp"))
	assert.Equal(t, network.NotChecked, c.State)
	assert.Contains(t, c.Detail, "not checked: needs CAP_NET_RAW")
	assert.True(t, rep.OK(), "an optional check that could not run does not fail the report: %s", rep.Verdict())
	m, _ := rep.Find(addr1("mtu.transfer"))
	assert.Equal(t, network.OK, m.State)
}

// TestLoopbackOldRelease: Mastodon before 3.0 has no /health; the check says so and does
// not fail the report.
func TestLoopbackOldRelease(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{})
	o := s.options()
	o.Release = mastodon.MustLookup("2.9")
	rep := probeLoop(t, o, 30*time.Second)
	c, _ := rep.Find(addr1("inbound.health"))
	assert.Equal(t, network.NotChecked, c.State)
	assert.False(t, c.Required)
	assert.Contains(t, c.Detail, "has no /health")
	assert.True(t, rep.OK(), rep.Verdict())
	assert.Equal(t, "2.9.4", rep.Release.String())
}

// TestLoopbackLocalRedisDownHint: with nothing on Redis's port, the hint gives what works
// for Mastodon: the site's bind (never "bind 127.0.0.1 ::1", which stops Redis where IPv6
// is off) and a bracketed REDIS_URL, never REDIS_HOST=::1 (Rails builds the invalid redis://::1:6379).
func TestLoopbackLocalRedisDownHint(t *testing.T) {
	t.Parallel()
	s := newLoopSite(t, loopConfig{})
	o := s.options()
	o.Local = true
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(rc, []byte("nameserver ::1\n"), 0o644))
	o.ResolvConf = rc
	o.RedisPort = uint16(testenv.FreePort(t)) // nothing listens there
	rep := probeLoop(t, o, 60*time.Second)
	c, ok := rep.Find("local.redis@::1")
	require.True(t, ok)
	require.Equal(t, network.Fail, c.State, c.Detail)
	assert.NotContains(t, c.Hint, "REDIS_HOST=::1")
	assert.NotContains(t, c.Hint, "bind 127.0.0.1 ::1", "Redis would not start where IPv6 is off")
	assert.Contains(t, c.Hint, "bind ::1 in", "an IPv6-only site")
	assert.Contains(t, c.Hint, "REDIS_URL=redis://[::1]:")
	c, _ = rep.Find("local.redis@127.0.0.1")
	require.Equal(t, network.Fail, c.State, c.Detail)
	assert.Contains(t, c.Hint, "REDIS_HOST=127.0.0.1")
}
