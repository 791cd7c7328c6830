package network_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
	"github.com/v6kit/v6kit/nginxconf"
)

// site is one Mastodon host on its own server address, behind its own nginx running the
// site nginxconf renders for it. A failure case breaks the typed Site (site) or the
// rendered directive tree (tree), never nginx text.
type site struct {
	name string // label in the world's zone
	addr netip.Addr
	cert string // "valid", "expired", "wrongname"
	// site changes the typed Site before rendering.
	site func(*nginxconf.Site)
	// tree edits the rendered directives and returns how many it changed (0 fails the
	// test: the template no longer has what the case breaks).
	tree func([]nginxconf.Directive) int
}

// probeWorld is a world with one nginx per site and stub puma/streaming servers in the
// server namespace, built once for all the world cases.
type probeWorld struct {
	*testenv.World
	pki   *testPKI
	sites map[string]site
	dir   string
}

func (pw *probeWorld) fqdn(label string) string { return label + "." + pw.Zone }

func sAddr(last byte) netip.Addr {
	b := netip.MustParseAddr("fd6e:7465:7374:2::").As16()
	b[15] = last
	return netip.AddrFrom16(b)
}

// stubPumaPort is where no puma listens: the "pumadown" site's upstream.
const stubPumaPort = 3999

func newProbeWorld(t testing.TB) *probeWorld {
	testenv.WorldTools(t)
	nginxBin := testenv.Tool(t, "nginx", "nginx")
	w := testenv.NewWorld(t, testenv.WorldOptions{})
	pw := &probeWorld{World: w, dir: testenv.TempDir(t), sites: map[string]site{}}
	pw.pki = newPKI(t, pw.dir)

	sites := []site{
		{name: "good", addr: sAddr(0x80), cert: "valid"},
		// `listen 443 ssl;` without `listen [::]:443`: HTTPS on IPv4 only, so port 443 of
		// the site's IPv6 address is closed while port 80 answers.
		{name: "no443", addr: sAddr(0x81), cert: "valid", site: func(s *nginxconf.Site) {
			s.HTTPSListen = []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:443")}
		}},
		{name: "expired", addr: sAddr(0x82), cert: "expired"},
		{name: "wrongname", addr: sAddr(0x83), cert: "wrongname"},
		// the streaming location without the Upgrade and Connection headers: nginx
		// forwards the handshake as a plain GET
		{name: "brokenws", addr: sAddr(0x84), cert: "valid", tree: func(ds []nginxconf.Directive) int {
			return dropProxyHeaders(ds, "/api/v1/streaming", "Upgrade", "Connection")
		}},
		// puma's upstream on a port where nothing listens
		{name: "pumadown", addr: sAddr(0x85), cert: "valid", site: func(s *nginxconf.Site) {
			s.Web.Port = stubPumaPort
		}},
		{name: "mtu", addr: sAddr(0x86), cert: "valid"},
		{name: "mtuok", addr: sAddr(0x87), cert: "valid"},
	}
	var rrs []string
	var valid []string
	for _, s := range sites {
		pw.sites[s.name] = s
		if s.addr != w.ServerAddr {
			require.NoError(t, w.AddServerAddr(s.addr))
		}
		rrs = append(rrs, s.name+" AAAA "+s.addr.String())
		valid = append(valid, pw.fqdn(s.name))
	}
	// DNS-only cases: an A record on an IPv6-only site, and a name with only an A record
	// (DNS64 synthesizes an AAAA for it).
	rrs = append(rrs, "witha AAAA "+sAddr(0x80).String(), "witha A 198.51.100.10", "noaaaa A 198.51.100.10",
		// an IPv4-only peer behind the NAT64 that nothing routes to (TEST-NET-3)
		"deadv4 A 203.0.113.10")
	valid = append(valid, pw.fqdn("witha"), pw.fqdn("noaaaa"))
	require.NoError(t, w.AddRecords(rrs...))

	now := time.Now()
	certs := map[string][2]string{}
	for _, c := range []struct {
		name        string
		from, until time.Time
		names       []string
	}{
		{"valid", now.Add(-time.Hour), now.Add(90 * 24 * time.Hour), valid},
		{"expired", now.Add(-90 * 24 * time.Hour), now.Add(-48 * time.Hour), []string{pw.fqdn("expired")}},
		{"wrongname", now.Add(-time.Hour), now.Add(90 * 24 * time.Hour), []string{"other.example.net"}},
	} {
		_, crt, key := pw.pki.issue(t, c.name, c.from, c.until, c.names...)
		certs[c.name] = [2]string{crt, key}
	}

	// stub puma and streaming on the server's loopback, where the sites' upstreams point
	loopback := netip.IPv6Loopback()
	for _, s := range []struct {
		addr netip.AddrPort
		h    http.Handler
	}{
		{netip.AddrPortFrom(loopback, mastodon.DefaultWebPort), testenv.MastodonStub{Rails: true}},
		{netip.AddrPortFrom(loopback, mastodon.DefaultStreamingPort), testenv.StreamingStub()},
	} {
		l, err := w.Listen(w.Server, "tcp6", s.addr.String())
		require.NoError(t, err)
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
	}

	// Mastodon's public directory, with the error page the site serves for 5xx
	public := filepath.Join(pw.dir, "public")
	require.NoError(t, os.Mkdir(public, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(public, "500.html"), []byte("<!doctype html><title>We're sorry, but something went wrong</title>\n"), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ver, err := nginxconf.InstalledVersion(ctx, nginxBin)
	require.NoError(t, err)

	// one nginx per site: a rendered site declares the upstreams, the upgrade map and
	// the cache zone, so one nginx holds one site
	for _, s := range sites {
		px := testenv.NewNginxPrefix(t)
		cfg := nginxconf.Site{
			Domain:       pw.fqdn(s.name),
			NginxVersion: ver.String(),
			Family:       nginxconf.Explicit,
			HTTPListen:   []netip.AddrPort{netip.AddrPortFrom(s.addr, 80)},
			HTTPSListen:  []netip.AddrPort{netip.AddrPortFrom(s.addr, 443)},
			Cert:         certs[s.cert][0],
			Key:          certs[s.cert][1],
			Root:         public,
			CachePath:    px.CachePath(),
			Web:          nginxconf.Backend{Addr: loopback},
			Streaming:    nginxconf.Backend{Addr: loopback},
		}
		if s.site != nil {
			s.site(&cfg)
		}
		tree, err := cfg.Directives()
		require.NoError(t, err, "site %s", s.name)
		if s.tree != nil {
			require.NotZero(t, s.tree(tree), "site %s: the rendered tree has nothing to break", s.name)
		}
		var text bytes.Buffer
		require.NoError(t, nginxconf.Print(&text, tree), "site %s", s.name)
		px.WriteSite(t, s.name, text.Bytes())
		var ready []string
		for _, l := range append(cfg.HTTPListen, cfg.HTTPSListen...) {
			if l.Addr() == s.addr {
				ready = append(ready, l.String())
			}
		}
		ngx := w.StartE2ENginx(t, w.Server, px, ready...)
		// Stop fast (SIGTERM) before the harness's graceful SIGQUIT: the "mtu" site keeps
		// blackholed connections that would hold a graceful shutdown until its timeout.
		t.Cleanup(func() { _ = ngx.Cmd.Process.Signal(syscall.SIGTERM) })
	}
	// a 1280 bottleneck mid-path for the "mtu" site, with Packet Too Big dropped
	require.NoError(t, w.Bottleneck(pw.sites["mtu"].addr, 1280, true))
	// the same bottleneck for "mtuok", with Packet Too Big delivered: PMTU discovery works
	require.NoError(t, w.Bottleneck(pw.sites["mtuok"].addr, 1280, false))
	return pw
}

// dropProxyHeaders removes `proxy_set_header NAME …` for each of names from every
// location whose last argument is path, and returns how many it removed.
func dropProxyHeaders(ds []nginxconf.Directive, path string, names ...string) int {
	n := 0
	for i := range ds {
		d := &ds[i]
		if d.Name == "location" && len(d.Args) > 0 && d.Args[len(d.Args)-1] == path {
			kept := d.Block[:0]
			for _, in := range d.Block {
				if in.Name == "proxy_set_header" && len(in.Args) > 0 && slices.ContainsFunc(names, func(h string) bool { return strings.EqualFold(h, in.Args[0]) }) {
					n++
					continue
				}
				kept = append(kept, in)
			}
			d.Block = kept
			continue
		}
		n += dropProxyHeaders(d.Block, path, names...)
	}
	return n
}

// probe runs the probe inside node's namespace (the test binary re-executed there) and
// returns its report.
func (pw *probeWorld) probe(t *testing.T, node string, o network.Options, resolvConf string) *network.Report {
	t.Helper()
	if resolvConf != "" {
		f := filepath.Join(pw.dir, strings.ReplaceAll(t.Name(), "/", "_")+".resolv.conf")
		require.NoError(t, os.WriteFile(f, []byte(resolvConf), 0o644))
		o.ResolvConf = f
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = 4 * time.Second
	}
	spec, err := json.Marshal(childSpec{Options: o, CAFile: pw.pki.CAFile, Timeout: 20 * time.Second})
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := pw.Command(ctx, node, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("probe child in %s: %v\n%s", node, err, stderr.String())
	}
	var rep network.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	t.Logf("report:\n%s", text.String())
	return &rep
}

func requireCheck(t *testing.T, rep *network.Report, id string, state network.State, hint string) network.Check {
	t.Helper()
	c, ok := rep.Find(id)
	require.True(t, ok, "check %s not in report", id)
	require.Equal(t, state, c.State, "%s: %s", id, c.Detail)
	if hint != "" {
		require.Contains(t, c.Hint, hint, "%s hint", id)
	}
	return c
}

func requireDiagnosis(t *testing.T, rep *network.Report, cause string) {
	t.Helper()
	for _, d := range rep.Diagnoses {
		if strings.Contains(d.Cause, cause) {
			return
		}
	}
	t.Fatalf("no diagnosis %q in %+v", cause, rep.Diagnoses)
}

// TestWorld runs the probe from an IPv6-only client (and on the server) against sites
// behind a real nginx in an IPv6-only world with NAT64 and DNS64. One world serves all
// cases; each case asserts the exact failing check and its hint.
func TestWorld(t *testing.T) {
	pw := newProbeWorld(t)
	inbound := func(label string) network.Options {
		return network.Options{Domain: pw.fqdn(label), Resolver: netip.AddrPortFrom(pw.DNS64, 53)}
	}
	dns64 := "nameserver " + pw.DNS64.String() + "\n"
	plain := "nameserver " + pw.PlainDNS.String() + "\n"
	outbound := func(label string) network.Options {
		o := inbound(label)
		o.Outbound = true
		o.OutboundURL = "http://" + pw.PeerName + "/whoami"
		o.AllowedPrivateAddresses = []netip.Prefix{pw.NAT64Prefix}
		return o
	}
	good := func(s string) string { return s + "@" + pw.sites["good"].addr.String() }

	t.Run("all green", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, outbound("good"), dns64)
		require.True(t, rep.OK(), "verdict: %s", rep.Verdict())
		for _, c := range rep.Checks {
			if c.ID == good("mtu.icmp") {
				continue // advisory
			}
			assert.Equal(t, network.OK, c.State, "%s: %s", c.ID, c.Detail)
		}
		assert.Empty(t, rep.Diagnoses)
		c := requireCheck(t, rep, "outbound.dns64", network.OK, "")
		assert.Equal(t, pw.NAT64Prefix.String(), c.Values["prefix"])
		requireCheck(t, rep, "outbound.reach", network.OK, "")
		requireCheck(t, rep, good("inbound.websocket"), network.OK, "")
		tlsc := requireCheck(t, rep, good("inbound.tls"), network.OK, "")
		assert.Equal(t, "h2", tlsc.Values["alpn"])
		icmp := requireCheck(t, rep, good("mtu.icmp"), network.OK, "")
		assert.Equal(t, "≥1500", icmp.Values["path_mtu"])
	})
	t.Run("v6-probe CLI in the client namespace", func(t *testing.T) {
		t.Parallel()
		// the real binary under `ip netns exec`, which bind-mounts the client's
		// /etc/netns resolv.conf (the DNS64 resolver) over /etc/resolv.conf
		goTool := testenv.Tool(t, "go", "golang-go", "/usr/local/go/bin")
		bin := filepath.Join(testenv.TempDir(t), "v6-probe")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		build := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/v6kit/v6kit/cmd/v6-probe")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		args := []string{"--domain", pw.fqdn("good"), "--ca-cert", pw.pki.CAFile, "--outbound",
			"--outbound-url", "http://" + pw.PeerName + "/whoami", "--allowed-private-addresses", pw.NAT64Prefix.String(), "--timeout", "20s"}
		out, err := pw.Command(ctx, pw.Client, bin, args...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "PASS: "+pw.fqdn("good")+" is ready over IPv6")
		out, err = pw.Command(ctx, pw.Client, bin, append(args[:len(args)-4], "--json", "--timeout", "20s")...).CombinedOutput()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "without ALLOWED_PRIVATE_ADDRESSES the prefix is blocked: exit 1")
		require.Equal(t, 1, ee.ExitCode())
		var rep network.Report
		require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
		requireCheck(t, &rep, "outbound.private", network.Fail, "ALLOWED_PRIVATE_ADDRESSES")
		c := requireCheck(t, &rep, "outbound.dns64", network.OK, "")
		assert.Equal(t, pw.DNS64.String(), c.Values["resolv_conf"])
	})
	t.Run("no AAAA", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("noaaaa"), "")
		c := requireCheck(t, rep, "dns.aaaa.local", network.Fail, "add an AAAA record for "+pw.fqdn("noaaaa"))
		assert.Contains(t, c.Detail, "synthesized by DNS64")
		requireCheck(t, rep, "inbound.tls", network.Skipped, "")
		requireDiagnosis(t, rep, "no usable AAAA")
	})
	t.Run("NXDOMAIN", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("missing"), "")
		c := requireCheck(t, rep, "dns.aaaa.local", network.Fail, "create the name")
		assert.Equal(t, "NXDOMAIN", c.Values["rcode"])
	})
	t.Run("A present on an IPv6-only site", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("witha"), "")
		requireCheck(t, rep, "dns.a.web", network.Fail, "remove the A record 198.51.100.10")
		requireCheck(t, rep, "dns.aaaa.local", network.OK, "")
		requireDiagnosis(t, rep, "A record on an IPv6-only site")
		assert.False(t, rep.OK())
	})
	t.Run("port 443 closed", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("no443"), "")
		a := pw.sites["no443"].addr.String()
		requireCheck(t, rep, "inbound.tcp443@"+a, network.Fail, "listen on ["+a+"]:443")
		requireCheck(t, rep, "inbound.tcp80@"+a, network.OK, "")
		requireCheck(t, rep, "inbound.tls@"+a, network.Skipped, "")
		requireDiagnosis(t, rep, "port 443 closed")
	})
	t.Run("expired certificate", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("expired"), "")
		c := requireCheck(t, rep, "inbound.tls@"+pw.sites["expired"].addr.String(), network.Fail, "renew the certificate")
		assert.Equal(t, "expired", c.Values["verify"])
		requireDiagnosis(t, rep, "certificate expired")
	})
	t.Run("wrong-name certificate", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("wrongname"), "")
		c := requireCheck(t, rep, "inbound.tls@"+pw.sites["wrongname"].addr.String(), network.Fail, "issue a certificate that names "+pw.fqdn("wrongname"))
		assert.Contains(t, c.Detail, "other.example.net")
		requireDiagnosis(t, rep, "certificate for the wrong name")
	})
	t.Run("websocket broken by the proxy", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("brokenws"), "")
		c := requireCheck(t, rep, "inbound.websocket@"+pw.sites["brokenws"].addr.String(), network.Fail, "proxy_set_header Upgrade $http_upgrade")
		assert.Equal(t, "400", c.Values["status"])
		requireCheck(t, rep, "inbound.health@"+pw.sites["brokenws"].addr.String(), network.OK, "")
		requireDiagnosis(t, rep, "websocket broken by the proxy")
	})
	t.Run("puma down (502)", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("pumadown"), "")
		a := pw.sites["pumadown"].addr.String()
		c := requireCheck(t, rep, "inbound.health@"+a, network.Fail, "the web service (puma) is down")
		assert.Equal(t, "502", c.Values["status"])
		requireCheck(t, rep, "inbound.websocket@"+a, network.OK, "")
		requireDiagnosis(t, rep, "web service (puma) down")
	})
	t.Run("puma down seen on the host", func(t *testing.T) {
		t.Parallel()
		o := inbound("pumadown")
		o.Local = true
		o.WebBind = netip.MustParseAddrPort("[::]:3999")
		rep := pw.probe(t, pw.Server, o, dns64)
		requireCheck(t, rep, "local.puma", network.Fail, "systemctl status mastodon-web")
		requireCheck(t, rep, "local.streaming", network.OK, "")
		requireCheck(t, rep, "host.default-route", network.OK, "")
		requireCheck(t, rep, "host.resolv-conf", network.OK, "")
		requireCheck(t, rep, "dns.aaaa.host", network.OK, "")
		requireDiagnosis(t, rep, "web service (puma) down")
	})
	t.Run("AAAA points elsewhere", func(t *testing.T) {
		t.Parallel()
		o := inbound("good")
		o.Local = true
		rep := pw.probe(t, pw.Client, o, dns64)
		requireCheck(t, rep, "dns.aaaa.host", network.Fail, "point the AAAA of "+pw.fqdn("good"))
		requireDiagnosis(t, rep, "AAAA points elsewhere")
	})
	t.Run("no NAT64", func(t *testing.T) {
		t.Parallel()
		o := outbound("good")
		o.Resolver = netip.AddrPortFrom(pw.PlainDNS, 53)
		rep := pw.probe(t, pw.Client, o, plain)
		requireCheck(t, rep, "outbound.dns64", network.Fail, "no NAT64/DNS64")
		requireCheck(t, rep, "outbound.reach", network.Skipped, "")
		requireDiagnosis(t, rep, "IPv4-only peers unreachable: no NAT64/DNS64")
	})
	t.Run("DNS64 not in resolv.conf", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, outbound("good"), plain)
		c := requireCheck(t, rep, "outbound.dns64", network.Fail, "point "+"")
		assert.Contains(t, c.Hint, "DNS64 not in resolv.conf")
		assert.Equal(t, pw.NAT64Prefix.String(), c.Values["prefix_via_resolver"])
		requireDiagnosis(t, rep, "DNS64 not in resolv.conf")
	})
	t.Run("NAT64 prefix blocked by Mastodon", func(t *testing.T) {
		t.Parallel()
		o := outbound("good")
		o.AllowedPrivateAddresses = nil
		rep := pw.probe(t, pw.Client, o, dns64)
		requireCheck(t, rep, "outbound.reach", network.OK, "")
		c := requireCheck(t, rep, "outbound.private", network.Fail, "ALLOWED_PRIVATE_ADDRESSES="+pw.NAT64Prefix.String())
		assert.Contains(t, c.Hint, "SSRF")
		requireDiagnosis(t, rep, "NAT64 prefix blocked by Mastodon")
	})
	t.Run("NAT64 does not forward", func(t *testing.T) {
		t.Parallel()
		o := outbound("good")
		o.OutboundURL = "http://" + pw.fqdn("deadv4") + "/"
		rep := pw.probe(t, pw.Client, o, dns64)
		requireCheck(t, rep, "outbound.dns64", network.OK, "")
		c := requireCheck(t, rep, "outbound.reach", network.Fail, "nothing translates it")
		syn, _ := network.Synthesize(pw.NAT64Prefix, netip.MustParseAddr("203.0.113.10"))
		assert.Equal(t, syn.String(), c.Values["tried"])
		requireDiagnosis(t, rep, "IPv4-only peers unreachable: NAT64 does not forward")
	})
	t.Run("1280 bottleneck with Packet Too Big delivered", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("mtuok"), "")
		a := pw.sites["mtuok"].addr.String()
		requireCheck(t, rep, "mtu.transfer@"+a, network.OK, "")
		c := requireCheck(t, rep, "mtu.icmp@"+a, network.OK, "")
		assert.Equal(t, "1280", c.Values["path_mtu"], c.Detail)
		require.True(t, rep.OK(), rep.Verdict())
	})
	t.Run("1280 bottleneck with Packet Too Big dropped", func(t *testing.T) {
		t.Parallel()
		rep := pw.probe(t, pw.Client, inbound("mtu"), "")
		a := pw.sites["mtu"].addr.String()
		requireCheck(t, rep, "inbound.tcp443@"+a, network.OK, "")
		requireCheck(t, rep, "mtu.transfer@"+a, network.Fail, "allow ICMPv6 type 2")
		requireCheck(t, rep, "inbound.tls@"+a, network.Fail, "path-MTU blackhole")
		requireDiagnosis(t, rep, "path MTU blackhole")
	})
}

// TestDropProxyHeaders: the edit that breaks the "brokenws" site removes the upgrade
// headers from the streaming location only, and nginx still loads the result.
func TestDropProxyHeaders(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	crt, key := testenv.NginxSelfSignedCert(t, dir, "social.example.org")
	s := nginxconf.Site{Domain: "social.example.org", Cert: crt, Key: key, Root: dir, CachePath: filepath.Join(dir, "cache"),
		Family:      nginxconf.Explicit,
		HTTPListen:  []netip.AddrPort{netip.AddrPortFrom(netip.IPv6Loopback(), uint16(testenv.FreePort(t)))},
		HTTPSListen: []netip.AddrPort{netip.AddrPortFrom(netip.IPv6Loopback(), uint16(testenv.FreePort(t)))}}
	tree, err := s.Directives()
	require.NoError(t, err)
	require.Equal(t, 2, dropProxyHeaders(tree, "/api/v1/streaming", "Upgrade", "Connection"))
	require.Zero(t, dropProxyHeaders(tree, "/api/v1/streaming", "Upgrade", "Connection"), "already gone")
	var text bytes.Buffer
	require.NoError(t, nginxconf.Print(&text, tree))
	back, err := nginxconf.Parse(text.Bytes())
	require.NoError(t, err)
	headers := func(path string) []string {
		var hs []string
		var walk func([]nginxconf.Directive)
		walk = func(ds []nginxconf.Directive) {
			for _, d := range ds {
				if d.Name == "location" && len(d.Args) > 0 && d.Args[len(d.Args)-1] == path {
					for _, in := range d.Block {
						if in.Name == "proxy_set_header" {
							hs = append(hs, in.Args[0])
						}
					}
				}
				walk(d.Block)
			}
		}
		walk(back)
		return hs
	}
	streaming := headers("/api/v1/streaming")
	require.NotEmpty(t, streaming)
	assert.NotContains(t, streaming, "Upgrade")
	assert.NotContains(t, streaming, "Connection")
	assert.Contains(t, streaming, "Host")
	testenv.NginxCheck(t, text.Bytes())
}
