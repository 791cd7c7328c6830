package network_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/network"
)

// site is one Mastodon-shaped site behind the world's nginx, on its own server address.
type site struct {
	name     string // label in the world's zone
	addr     netip.Addr
	cert     string // "valid", "expired", "wrongname"
	no443    bool
	brokenWS bool
	pumaDown bool
}

// probeWorld is a world with nginx and stub puma/streaming servers in the server
// namespace, built once for all the world cases.
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

func newProbeWorld(t testing.TB) *probeWorld {
	testenv.WorldTools(t)
	nginx := testenv.Tool(t, "nginx", "nginx")
	w := testenv.NewWorld(t, testenv.WorldOptions{})
	pw := &probeWorld{World: w, dir: testenv.TempDir(t), sites: map[string]site{}}
	pw.pki = newPKI(t, pw.dir)

	sites := []site{
		{name: "good", addr: sAddr(0x80), cert: "valid"},
		{name: "no443", addr: sAddr(0x81), cert: "valid", no443: true},
		{name: "expired", addr: sAddr(0x82), cert: "expired"},
		{name: "wrongname", addr: sAddr(0x83), cert: "wrongname"},
		{name: "brokenws", addr: sAddr(0x84), cert: "valid", brokenWS: true},
		{name: "pumadown", addr: sAddr(0x85), cert: "valid", pumaDown: true},
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
	_, validCrt, validKey := pw.pki.issue(t, "valid", now.Add(-time.Hour), now.Add(90*24*time.Hour), valid...)
	_, expCrt, expKey := pw.pki.issue(t, "expired", now.Add(-90*24*time.Hour), now.Add(-48*time.Hour), pw.fqdn("expired"))
	_, wrongCrt, wrongKey := pw.pki.issue(t, "wrongname", now.Add(-time.Hour), now.Add(90*24*time.Hour), "other.example.net")

	// stub puma and streaming on the server's loopback, as the units bind them
	for _, s := range []struct {
		addr string
		h    http.Handler
	}{{"[::1]:3000", mastodonStub(pw.fqdn("good"))}, {"[::1]:4000", streamingStub()}} {
		l, err := w.Listen(w.Server, "tcp6", s.addr)
		require.NoError(t, err)
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
	}

	// nginx: one server block pair per site address
	var conf strings.Builder
	fmt.Fprintf(&conf, `user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream backend   { server [::1]:3000; }
  upstream streaming { server [::1]:4000; }
  upstream nopuma    { server [::1]:3999; }
`, pw.dir)
	for _, s := range sites {
		crt, key := validCrt, validKey
		switch s.cert {
		case "expired":
			crt, key = expCrt, expKey
		case "wrongname":
			crt, key = wrongCrt, wrongKey
		}
		fmt.Fprintf(&conf, "  server {\n    listen [%s]:80;\n    server_name %s;\n    location / { return 301 https://$host$request_uri; }\n  }\n", s.addr, pw.fqdn(s.name))
		if s.no443 {
			continue
		}
		ws := "proxy_http_version 1.1;\n      proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection $connection_upgrade;"
		if s.brokenWS {
			ws = "# broken on purpose: no proxy_http_version 1.1, no Upgrade/Connection headers"
		}
		backend := "backend"
		if s.pumaDown {
			backend = "nopuma"
		}
		fmt.Fprintf(&conf, `  server {
    listen [%s]:443 ssl http2;
    server_name %s;
    ssl_certificate %s;
    ssl_certificate_key %s;
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
    location / {
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_pass http://%s;
    }
    location ^~ /api/v1/streaming {
      proxy_set_header Host $host;
      %s
      proxy_buffering off;
      proxy_pass http://streaming;
    }
  }
`, s.addr, pw.fqdn(s.name), crt, key, backend, ws)
	}
	conf.WriteString("}\n")
	confFile := filepath.Join(pw.dir, "nginx.conf")
	require.NoError(t, os.WriteFile(confFile, []byte(conf.String()), 0o644))
	p := testenv.Start(t, w.Command(context.Background(), w.Server, nginx, "-p", pw.dir, "-c", confFile, "-e", filepath.Join(pw.dir, "error.log"), "-g", "daemon off;"), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := w.Dialer(w.Client)
	for _, s := range sites {
		port := "443"
		if s.no443 {
			port = "80"
		}
		for {
			c, err := d.DialContext(ctx, "tcp6", "["+s.addr.String()+"]:"+port)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-p.Done():
				t.Fatalf("nginx exited: %v\n%s", p.Err(), p.Output.String())
			case <-ctx.Done():
				t.Fatalf("nginx not listening on %s: %v", s.addr, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	// a 1280 bottleneck mid-path for the "mtu" site, with Packet Too Big dropped
	require.NoError(t, w.Bottleneck(pw.sites["mtu"].addr, 1280, true))
	// the same bottleneck for "mtuok", with Packet Too Big delivered: PMTU discovery works
	require.NoError(t, w.Bottleneck(pw.sites["mtuok"].addr, 1280, false))
	return pw
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
