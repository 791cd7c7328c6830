package nginxconf

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

func problemAt(ps report.Problems, path string, sentinel error) bool {
	for _, p := range ps.Errors() {
		if p.Path == path && errors.Is(p, sentinel) {
			return true
		}
	}
	return false
}

func TestValidateRefusesHostileInput(t *testing.T) {
	t.Parallel()
	base := Site{Domain: "social.example.org"}
	ap := netip.MustParseAddrPort
	cases := []struct {
		name     string
		edit     func(*Site)
		path     string
		sentinel error
		mention  string
	}{
		{"domain newline", func(s *Site) { s.Domain = "a.example\nreturn 200" }, "domain", ErrDomain, `'\n'`},
		{"domain semicolon", func(s *Site) { s.Domain = "a.example;" }, "domain", ErrDomain, `';'`},
		{"domain brace", func(s *Site) { s.Domain = "a.example}" }, "domain", ErrDomain, `'}'`},
		{"domain open brace", func(s *Site) { s.Domain = "a{.example" }, "domain", ErrDomain, `'{'`},
		{"domain dollar", func(s *Site) { s.Domain = "$host.example" }, "domain", ErrDomain, `'$'`},
		{"domain quote", func(s *Site) { s.Domain = `a".example` }, "domain", ErrDomain, `'"'`},
		{"domain single quote", func(s *Site) { s.Domain = `a'.example` }, "domain", ErrDomain, `'\''`},
		{"domain space", func(s *Site) { s.Domain = "a .example" }, "domain", ErrDomain, `' '`},
		{"domain not IDNA", func(s *Site) { s.Domain = "☃.example" }, "domain", ErrDomain, "IDNA"},
		{"domain zero width", func(s *Site) { s.Domain = "exa\u200bmple.org" }, "domain", ErrDomain, "IDNA"},
		{"domain single label", func(s *Site) { s.Domain = "mastodon" }, "domain", ErrDomain, "one label"},
		{"domain ip", func(s *Site) { s.Domain = "2001:db8::1" }, "domain", ErrDomain, "':'"},
		{"domain underscore", func(s *Site) { s.Domain = "a_b.example" }, "domain", ErrDomain, "IDNA"},
		{"domain empty", func(s *Site) { s.Domain = "" }, "domain", ErrDomain, "required"},
		{"web domain equal", func(s *Site) { s.WebDomain = "Social.Example.org" }, "web_domain", ErrSameDomain, "already given as domain"},
		{"alternate duplicate", func(s *Site) { s.AlternateDomains = []string{"b.example", "social.example.org"} }, "alternate_domains[1]", ErrSameDomain, "domain"},
		{"alternate hostile", func(s *Site) { s.AlternateDomains = []string{"b.example;include /etc/passwd"} }, "alternate_domains[0]", ErrDomain, `';'`},
		{"nginx too old", func(s *Site) { s.NginxVersion = "1.18" }, "nginx_version", ErrNginxVersion, "1.18"},
		{"nginx unknown", func(s *Site) { s.NginxVersion = "2.0" }, "nginx_version", ErrNginxVersion, "outside"},
		{"nginx garbage", func(s *Site) { s.NginxVersion = "latest" }, "nginx_version", ErrNginxVersion, "latest"},
		{"mastodon unknown", func(s *Site) { s.Release = mastodon.Release{Version: mastodon.V(5, 0, 0)} }, "mastodon", ErrMastodonVersion, "5.0"},
		{"root relative", func(s *Site) { s.Root = "home/mastodon/live/public" }, "root", ErrPath, "relative"},
		{"root space", func(s *Site) { s.Root = "/home/mastodon/my live" }, "root", ErrPath, `' '`},
		{"root semicolon", func(s *Site) { s.Root = "/srv/x;return 200" }, "root", ErrPath, `';'`},
		{"root newline", func(s *Site) { s.Root = "/srv/x\n}" }, "root", ErrPath, `'\n'`},
		{"root dotdot", func(s *Site) { s.Root = "/srv/../etc" }, "root", ErrPath, "not clean"},
		{"cert dollar", func(s *Site) { s.Cert = "/etc/ssl/$host.pem" }, "cert", ErrPath, `'$'`},
		{"cert directory", func(s *Site) { s.Cert = "/etc/letsencrypt/live/x/" }, "cert", ErrPath, "a directory; give the file"},
		{"key root", func(s *Site) { s.Key = "/" }, "key", ErrPath, "a directory; give the file"},
		{"key quote", func(s *Site) { s.Key = `/etc/ssl/k"ey.pem` }, "key", ErrPath, `'"'`},
		{"key equals cert", func(s *Site) { s.Cert = "/etc/ssl/a.pem"; s.Key = "/etc/ssl/a.pem" }, "key", ErrPath, "certificate's path"},
		{"cache brace", func(s *Site) { s.CachePath = "/var/cache/{x}" }, "cache_path", ErrPath, `'{'`},
		{"access log hash", func(s *Site) { s.AccessLog = "/var/log/nginx/#a.log" }, "access_log", ErrPath, `'#'`},
		{"error log backslash", func(s *Site) { s.ErrorLog = `/var/log/a\b` }, "error_log", ErrPath, `'\\'`},
		{"webroot control", func(s *Site) { s.ACMEWebroot = "/var/www/\x00" }, "acme_webroot", ErrPath, `'\x00'`},
		{"same ports", func(s *Site) { s.HTTPPort = 8443; s.HTTPSPort = 8443 }, "https_port", ErrPortCollision, "collides"},
		{"https on puma port", func(s *Site) { s.HTTPSPort = 3000 }, "https_port", ErrPortCollision, "web"},
		{"http on streaming port", func(s *Site) { s.HTTPPort = 4002; s.StreamingInstances = 4 }, "http_port", ErrPortCollision, "streaming"},
		{"puma among streaming", func(s *Site) { s.Web.Port = 4001; s.StreamingInstances = 2 }, "streaming.port", ErrPortCollision, "web"},
		{"port range", func(s *Site) { s.HTTPSPort = 70000 }, "https_port", ErrListen, "70000"},
		{"explicit empty", func(s *Site) { s.Family = Explicit }, "http_listen", ErrFamily, "explicit"},
		{"listen without explicit", func(s *Site) { s.HTTPListen = []netip.AddrPort{ap("[::1]:8080")} }, "family", ErrFamily, "explicit"},
		{"explicit duplicate", func(s *Site) {
			s.Family = Explicit
			s.HTTPListen = []netip.AddrPort{ap("[::1]:8080")}
			s.HTTPSListen = []netip.AddrPort{ap("[::]:8080")}
		}, "https_listen[0]", ErrPortCollision, "collides"},
		{"explicit zone", func(s *Site) {
			s.Family = Explicit
			s.HTTPListen = []netip.AddrPort{ap("[fe80::1%eth0]:8080")}
			s.HTTPSListen = []netip.AddrPort{ap("[::1]:8443")}
		}, "http_listen[0]", ErrListen, "zone"},
		{"explicit mapped", func(s *Site) {
			s.Family = Explicit
			s.HTTPListen = []netip.AddrPort{ap("[::ffff:127.0.0.1]:8080")}
			s.HTTPSListen = []netip.AddrPort{ap("[::1]:8443")}
		}, "http_listen[0]", ErrListen, "mapped"},
		{"family unknown", func(s *Site) { s.Family = Family(9) }, "family", ErrFamily, "unknown"},
		{"socket and port", func(s *Site) { s.Web = Backend{Socket: "/run/mastodon/web.sock", Port: 3000} }, "web.socket", ErrUpstream, "not both"},
		{"socket shared by instances", func(s *Site) { s.Streaming = Backend{Socket: "/run/mastodon/s.sock"}; s.StreamingInstances = 2 }, "streaming.socket", ErrUpstream, "share"},
		{"socket too long", func(s *Site) { s.Web = Backend{Socket: "/run/" + strings.Repeat("a", 120)} }, "web.socket", ErrUpstream, "bytes"},
		{"socket hostile", func(s *Site) { s.Web = Backend{Socket: "/run/a;b"} }, "web.socket", ErrPath, `';'`},
		{"same socket", func(s *Site) {
			s.Web = Backend{Socket: "/run/m.sock"}
			s.Streaming = Backend{Socket: "/run/m.sock"}
		}, "streaming.socket", ErrPortCollision, "puma"},
		{"upstream zone", func(s *Site) { s.Web = Backend{Addr: netip.MustParseAddr("fe80::1%eth0")} }, "web.addr", ErrUpstream, "zone"},
		{"upstream unspecified", func(s *Site) { s.Web = Backend{Addr: netip.IPv6Unspecified()} }, "web.addr", ErrUpstream, "unicast"},
		{"too many streaming", func(s *Site) { s.StreamingInstances = 1000 }, "streaming_instances", ErrUpstream, "1000"},
		{"addr and addrs", func(s *Site) {
			s.Web = Backend{Addr: netip.MustParseAddr("fd00:1::31"), Addrs: []netip.Addr{netip.MustParseAddr("fd00:1::32")}}
		}, "web.addrs", ErrUpstream, "not both"},
		{"addrs duplicate", func(s *Site) {
			s.Web = Backend{Addrs: []netip.Addr{netip.MustParseAddr("fd00:1::31"), netip.MustParseAddr("fd00:1::31")}}
		}, "web.addrs[1]", ErrUpstream, "already given as web.addrs[0]"},
		{"addrs zone", func(s *Site) {
			s.Streaming = Backend{Addrs: []netip.Addr{netip.MustParseAddr("fd00:1::31"), netip.MustParseAddr("fe80::1%eth0")}}
		}, "streaming.addrs[1]", ErrUpstream, "zone"},
		{"addrs invalid", func(s *Site) { s.Web = Backend{Addrs: []netip.Addr{{}}} }, "web.addrs[0]", ErrUpstream, "unicast"},
		{"addrs and socket", func(s *Site) {
			s.Web = Backend{Socket: "/run/mastodon/web.sock", Addrs: []netip.Addr{netip.MustParseAddr("fd00:1::31")}}
		}, "web.socket", ErrUpstream, "not both"},
		{"addrs port collision", func(s *Site) {
			s.Web = Backend{Addrs: []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("fd00:1::31")}, Port: 4000}
			s.Streaming = Backend{Addr: netip.MustParseAddr("::1")}
		}, "streaming.port", ErrPortCollision, "[::1]:4000"},
		{"addrs on a listener port", func(s *Site) {
			s.Web = Backend{Addrs: []netip.Addr{netip.MustParseAddr("fd00:1::31"), netip.MustParseAddr("::1")}, Port: 443}
		}, "https_port", ErrPortCollision, "443"},
		{"streaming beyond 65535", func(s *Site) { s.Streaming.Port = 65535; s.StreamingInstances = 2 }, "streaming.port", ErrUpstream, "outside"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := base
			c.edit(&s)
			ps := s.Validate()
			require.Error(t, ps.Err())
			assert.True(t, problemAt(ps, c.path, c.sentinel), "want %s at %q, got:\n%s", c.sentinel, c.path, ps)
			assert.Contains(t, ps.Err().Error(), c.mention)
			// Nothing is rendered, nothing is written.
			var buf bytes.Buffer
			assert.Error(t, s.Write(&buf))
			assert.Zero(t, buf.Len())
			_, err := s.Directives()
			assert.Error(t, err)
		})
	}
}

func TestValidateAcceptsAndNotes(t *testing.T) {
	t.Parallel()
	s := Site{Domain: "Bücher.Example", WebDomain: "social.bücher.example", AlternateDomains: []string{"alt.example"}, Release: mastodon.MustLookup("v4.3.2"), NginxVersion: "nginx version: nginx/1.22.1",
		Family: Explicit, HTTPListen: []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::10]:80"), netip.MustParseAddrPort("192.0.2.10:80")},
		HTTPSListen: []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::10]:443")},
		Web:         Backend{Socket: "/run/mastodon/web.sock"}, Streaming: Backend{Addr: netip.IPv6Loopback(), Port: 4100}, StreamingInstances: 3}
	ps := s.Validate()
	require.NoError(t, ps.Err(), ps.String())
	assert.Contains(t, ps.String(), `"Bücher.Example" is written as "xn--bcher-kva.example"`)
	b, err := s.Bytes()
	require.NoError(t, err)
	out := string(b)
	for _, want := range []string{
		"server_name social.xn--bcher-kva.example alt.example xn--bcher-kva.example;",
		"server_name xn--bcher-kva.example;",
		"listen [2001:db8::10]:80;", "listen 192.0.2.10:80;", "listen [2001:db8::10]:443 ssl http2;",
		"server unix:/run/mastodon/web.sock fail_timeout=0;",
		"server [::1]:4100 fail_timeout=0;", "server [::1]:4102 fail_timeout=0;",
		"ssl_certificate /etc/letsencrypt/live/social.xn--bcher-kva.example/fullchain.pem;",
		"return 301 https://social.xn--bcher-kva.example$request_uri;",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "192.0.2.10:443")
}

func TestZeroValueDefaults(t *testing.T) {
	t.Parallel()
	b, err := Site{Domain: "social.example.org"}.Bytes()
	require.NoError(t, err)
	out := string(b)
	for _, want := range []string{
		"listen [::]:80;", "listen [::]:443 ssl http2;", "server 127.0.0.1:3000 fail_timeout=0;", "server 127.0.0.1:4000 fail_timeout=0;",
		"root /home/mastodon/live/public;", "proxy_cache_path /var/cache/nginx levels=1:2", "location @mastodon {",
		"return 301 https://$host$request_uri;",
	} {
		assert.Contains(t, out, want)
	}
	for _, absent := range []string{"listen 80", "listen 443", "ssl_stapling", "TLSv1.1", "http2 on"} {
		assert.NotContains(t, out, absent)
	}
}

func TestNginxVersionSwitchesHTTP2(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"1.22": false, "1.24.0": false, "1.25.0": false, "1.25.1": true, "1.26.3": true, "1.31": true} {
		b, err := Site{Domain: "social.example.org", Family: DualStack, NginxVersion: v}.Bytes()
		require.NoError(t, err)
		ds, err := Parse(b)
		require.NoError(t, err)
		var listens, http2 int
		walk(ds, func(d Directive) {
			if d.Name == "listen" && slices.Contains(d.Args, "ssl") {
				listens++
				assert.Equal(t, !want, slices.Contains(d.Args, "http2"), v)
			}
			if d.Name == "http2" {
				http2++
				assert.Equal(t, []string{"on"}, d.Args)
			}
		})
		assert.Equal(t, 2, listens, v)
		if want {
			assert.Equal(t, 1, http2, v)
		} else {
			assert.Zero(t, http2, v)
		}
	}
}

func walk(ds []Directive, f func(Directive)) {
	for _, d := range ds {
		f(d)
		walk(d.Block, f)
	}
}

func TestWriteFileAtomicAndIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "sites", "mastodon.conf")
	s := Site{Domain: "social.example.org"}
	res, err := s.WriteFile(name)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	res, err = s.WriteFile(name)
	require.NoError(t, err)
	assert.False(t, res.Changed, "re-running gives no change")
	st, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	before, _ := os.ReadFile(name)
	bad := Site{Domain: "social.example.org;"}
	_, err = bad.WriteFile(name)
	require.ErrorIs(t, err, ErrDomain)
	after, _ := os.ReadFile(name)
	assert.Equal(t, before, after, "an invalid site never replaces the file")

	s.Release = mastodon.MustLookup("4.2")
	res, err = s.WriteFile(name)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.NotEmpty(t, res.Backup)
}

// TestWriteFileThroughSymlink writes to Debian's sites-enabled/NAME, a symlink to
// sites-available/NAME: the target is updated and the link stays, and no backup lands in
// sites-enabled, which nginx includes wholesale (a second upstream backend would fail).
func TestWriteFileThroughSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	avail, enabled := filepath.Join(dir, "sites-available"), filepath.Join(dir, "sites-enabled")
	require.NoError(t, os.MkdirAll(avail, 0o755))
	require.NoError(t, os.MkdirAll(enabled, 0o755))
	s := Site{Domain: "social.example.org", Release: mastodon.MustLookup("4.2")}
	_, err := s.WriteFile(filepath.Join(avail, "mastodon"))
	require.NoError(t, err)
	link := filepath.Join(enabled, "mastodon")
	require.NoError(t, os.Symlink("../sites-available/mastodon", link))

	s.Release = mastodon.MustLookup("4.7")
	res, err := s.WriteFile(link)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	st, err := os.Lstat(link)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, st.Mode()&os.ModeSymlink, "the link stays a link")
	want, err := s.Bytes()
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(avail, "mastodon"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "the link's target holds the new site")
	entries, err := os.ReadDir(enabled)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "nothing but the link in sites-enabled")
	assert.Equal(t, filepath.Join(avail, ".v6kit-backup"), filepath.Dir(res.Backup))
}

func TestFamilyText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Family{"v6only": IPv6Only, "dual": DualStack, "dual-stack": DualStack, "explicit": Explicit, "": IPv6Only} {
		var f Family
		require.NoError(t, f.UnmarshalText([]byte(in)))
		assert.Equal(t, want, f)
	}
	var f Family
	assert.ErrorIs(t, f.UnmarshalText([]byte("v4only")), ErrFamily)
	b, _ := DualStack.MarshalText()
	assert.Equal(t, "dual", string(b))
}

// allowedNames is every directive name the renderer emits (plus map keys and comments).
var allowedNames = map[string]bool{
	"#": true, "": true, "default": true, "map": true, "upstream": true, "server": true, "least_conn": true,
	"proxy_cache_path": true, "listen": true, "server_name": true, "root": true, "location": true, "allow": true,
	"default_type": true, "try_files": true, "return": true, "http2": true, "ssl_certificate": true,
	"ssl_certificate_key": true, "ssl_protocols": true, "ssl_ciphers": true, "ssl_ecdh_curve": true,
	"ssl_prefer_server_ciphers": true, "ssl_session_timeout": true, "ssl_session_cache": true,
	"ssl_session_tickets": true, "keepalive_timeout": true, "sendfile": true, "client_max_body_size": true,
	"proxy_read_timeout": true, "gzip": true, "gzip_disable": true, "gzip_vary": true, "gzip_proxied": true,
	"gzip_comp_level": true, "gzip_buffers": true, "gzip_http_version": true, "gzip_types": true,
	"gzip_static": true, "add_header": true, "proxy_set_header": true, "proxy_pass_header": true,
	"proxy_pass": true, "proxy_buffering": true, "proxy_redirect": true, "proxy_http_version": true,
	"proxy_cache": true, "proxy_cache_valid": true, "proxy_cache_use_stale": true, "tcp_nodelay": true,
	"error_page": true, "access_log": true, "error_log": true,
}

// FuzzSiteInputs feeds arbitrary strings into every free-text field: either Validate
// refuses them, or the rendered site parses back with only known directives and each
// value as exactly one argument.
func FuzzSiteInputs(f *testing.F) {
	f.Add("social.example.org", "", "/home/mastodon/live/public", "/etc/ssl/c.pem", "4.7", "1.22")
	f.Add("a.example\n}", "b.example", "/srv/x;y", "/etc/$x", "1.6", "1.26")
	f.Add("bücher.example", "web.bücher.example", "/srv/ü", "/a/b", "4.3", "1.25.1")
	f.Add("x.example", "x.example", "/", "/c", "9.9", "0.1")
	f.Fuzz(func(t *testing.T, domain, web, root, cert, ver, nginx string) {
		var rel mastodon.Release
		if rel.UnmarshalText([]byte(ver)) != nil {
			rel = mastodon.Release{Version: mastodon.V(9, 9, 0)} // unsupported: Validate must refuse it
		}
		s := Site{Domain: domain, WebDomain: web, Root: root, Cert: cert, Key: cert + "k", AccessLog: root, Release: rel, NginxVersion: nginx, AlternateDomains: []string{web + "x"}}
		b, err := s.Bytes()
		if err != nil {
			require.NotEmpty(t, report.AsProblems(err), "a refusal is a validation report: %v", err)
			return
		}
		ds, err := Parse(b)
		require.NoError(t, err, string(b))
		wantRoot := root
		if root == "" {
			wantRoot = defaultRoot // an empty Root means the documented default
		}
		var roots, certs int
		walk(ds, func(d Directive) {
			require.True(t, allowedNames[d.Name], "unexpected directive %q in\n%s", d.Name, b)
			if d.Name == "root" && len(d.Args) == 1 && d.Args[0] == wantRoot {
				roots++
			}
			if d.Name == "ssl_certificate" {
				require.Equal(t, []string{cert}, d.Args)
				certs++
			}
		})
		require.GreaterOrEqual(t, roots, 1)
		require.GreaterOrEqual(t, certs, 1)
	})
}

func BenchmarkSiteBytes(b *testing.B) {
	s := Site{Domain: "example.org", WebDomain: "social.example.org", AlternateDomains: []string{"social.example.net"}, Family: DualStack, StreamingInstances: 4}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	s := Site{Domain: "example.org", WebDomain: "social.example.org", AlternateDomains: []string{"social.example.net"}, Family: DualStack, StreamingInstances: 4}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate().Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWarningsAndNotes(t *testing.T) {
	t.Parallel()
	ps := Site{Domain: "social.example.org", Release: mastodon.MustLookup("3.5"), StreamingInstances: 2}.Validate()
	require.NoError(t, ps.Err(), "warnings don't block rendering")
	require.Len(t, ps.Warnings(), 1)
	assert.Equal(t, "streaming_instances", ps.Warnings()[0].Path)
	assert.Contains(t, ps.Warnings()[0].Message, "STREAMING_CLUSTER_NUM")
	assert.Error(t, ps.Strict(), "--strict makes it fatal")

	ps = Site{Domain: "social.example.org", Release: mastodon.MustLookup("2.9")}.Validate()
	require.NoError(t, ps.Strict())
	assert.Contains(t, ps.String(), "template allowed TLSv1.2 only")
	assert.Empty(t, Site{Domain: "social.example.org", Release: mastodon.MustLookup("4.7"), StreamingInstances: 4}.Validate())
}
