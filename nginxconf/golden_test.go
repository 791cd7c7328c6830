package nginxconf_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/nginxconf"
)

// goldenCase is one testdata/*.txtar: site.json (the input, a Site in JSON) and
// site.conf (the expected rendering).
type goldenCase struct {
	name    string
	archive *golden.Archive
	site    nginxconf.Site
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	var out []goldenCase
	for _, f := range golden.Files(t, filepath.Join("testdata", "*.txtar")) {
		a := golden.Open(t, f)
		c := goldenCase{name: strings.TrimSuffix(filepath.Base(f), ".txtar"), archive: a}
		in, ok := a.Input("site.json")
		require.True(t, ok, "%s: no site.json", f)
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&c.site), f)
		out = append(out, c)
	}
	return out
}

// TestGolden renders every case, compares it with site.conf, and reads it back with
// Parse: the printed text is the directive tree, word for word.
func TestGolden(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.name, func(t *testing.T) {
			ps := c.site.Validate()
			require.NoError(t, ps.Err())
			got, err := c.site.Bytes()
			require.NoError(t, err)
			c.archive.Check(t, golden.Section{Name: "site.conf", Data: string(got)})

			tree, err := c.site.Directives()
			require.NoError(t, err)
			back, err := nginxconf.Parse(got)
			require.NoError(t, err)
			assert.Equal(t, tree, back)
		})
	}
}

// forNginxT returns the site with what `nginx -t` touches pointed into the prefix: a
// self-signed certificate for its names, the cache and log paths, and free high ports
// (nginx -t binds every listen address).
func forNginxT(t *testing.T, s nginxconf.Site, p *testenv.NginxPrefix) nginxconf.Site {
	t.Helper()
	hosts := append([]string{s.Domain}, s.AlternateDomains...)
	if s.WebDomain != "" {
		hosts = append(hosts, s.WebDomain)
	}
	s.Cert, s.Key = testenv.NginxSelfSignedCert(t, p.Path("certs"), hosts...)
	s.CachePath = p.CachePath()
	if s.AccessLog != "" {
		s.AccessLog = p.Path("logs", "site-access.log")
	}
	if s.ErrorLog != "" {
		s.ErrorLog = p.Path("logs", "site-error.log")
	}
	if s.Family == nginxconf.Explicit {
		ports := map[uint16]uint16{}
		remap := func(aps []netip.AddrPort) []netip.AddrPort {
			var out []netip.AddrPort
			for _, ap := range aps {
				if ports[ap.Port()] == 0 {
					ports[ap.Port()] = uint16(testenv.FreePort(t))
				}
				out = append(out, netip.AddrPortFrom(ap.Addr(), ports[ap.Port()]))
			}
			return out
		}
		s.HTTPListen, s.HTTPSListen = remap(s.HTTPListen), remap(s.HTTPSListen)
	} else {
		s.HTTPPort, s.HTTPSPort = testenv.FreePort(t), testenv.FreePort(t)
	}
	return s
}

// TestGoldenNginxT runs every golden case through Debian's nginx (1.22) with `nginx -t`,
// failing on any [warn]. Cases for nginx ≥ 1.25.1 (`http2 on;`) can't be parsed by
// 1.22: the same site rendered for 1.22 is checked instead, and the two renderings must
// differ only in how HTTP/2 is switched on.
func TestGoldenNginxT(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := testenv.NewNginxPrefix(t)
			s := forNginxT(t, c.site, p)
			target, err := s.Bytes()
			require.NoError(t, err)
			v := nginxconf.OldestNginx
			if c.site.NginxVersion != "" {
				v, err = nginxconf.ParseVersion(c.site.NginxVersion)
				require.NoError(t, err)
			}
			if v.HasHTTP2Directive() {
				assert.Contains(t, string(target), "\n  http2 on;\n")
				assert.NotContains(t, string(target), " http2;")
				s.NginxVersion = "1.22"
				old, err := s.Bytes()
				require.NoError(t, err)
				assert.Equal(t, withoutHTTP2(string(target)), withoutHTTP2(string(old)))
				p.WriteSite(t, "site", old)
			} else {
				assert.NotContains(t, string(target), "http2 on;")
				p.WriteSite(t, "site", target)
			}
			p.MustCheck(t)
		})
	}
}

// withoutHTTP2 drops the lines where the two ways of enabling HTTP/2 differ.
func withoutHTTP2(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "http2 on;" || strings.HasPrefix(l, "# Mastodon ") {
			continue
		}
		out = append(out, strings.Replace(l, " ssl http2;", " ssl;", 1))
	}
	return strings.Join(out, "\n")
}

// TestNginxRejectsWhatValidateWouldRefuse shows why Validate exists: the harness sees
// nginx fail on the hostile text that Validate keeps out of a site.
func TestNginxTFailsOnBrokenSite(t *testing.T) {
	t.Parallel()
	p := testenv.NewNginxPrefix(t)
	p.WriteSite(t, "site", []byte("server { listen [::1]:1 ssl http2; proxy_pas http://x; }\n"))
	_, err := p.Check(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown directive "proxy_pas"`)
}

// TestCheckTouchesNothingOutside runs the library's Check (what v6-nginxgen --check
// does) on a site whose cache and log paths don't exist: nginx -t passes and creates
// neither, because Check points them into its temporary prefix.
func TestCheckTouchesNothingOutside(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "nginx", "nginx")
	dir := testenv.TempDir(t)
	cert, key := testenv.NginxSelfSignedCert(t, dir, "social.example.org")
	s := nginxconf.Site{Domain: "social.example.org", Cert: cert, Key: key, Family: nginxconf.DualStack,
		HTTPPort: testenv.FreePort(t), HTTPSPort: testenv.FreePort(t),
		CachePath: filepath.Join(dir, "never", "cache"), AccessLog: filepath.Join(dir, "never", "access.log"), ErrorLog: filepath.Join(dir, "never", "error.log")}
	res, err := nginxconf.Check(t.Context(), s, nginxconf.CheckOptions{TempDir: dir})
	require.NoError(t, err, res.Output)
	assert.Empty(t, res.Warnings)
	assert.GreaterOrEqual(t, res.Nginx.Compare(nginxconf.OldestNginx), 0)
	_, err = os.Stat(filepath.Join(dir, "never"))
	assert.True(t, os.IsNotExist(err), "nothing created outside the prefix")
	left, _ := filepath.Glob(filepath.Join(dir, "v6k-nginx-*"))
	assert.Empty(t, left, "the temporary prefix is removed")

	s.Key = filepath.Join(dir, "missing.key")
	_, err = nginxconf.Check(t.Context(), s, nginxconf.CheckOptions{})
	require.ErrorIs(t, err, nginxconf.ErrCertMissing)
	assert.Contains(t, err.Error(), "missing.key")

	_, s.Key = testenv.NginxSelfSignedCert(t, t.TempDir(), "other.example") // not this certificate's key
	_, err = nginxconf.Check(t.Context(), s, nginxconf.CheckOptions{})
	require.ErrorIs(t, err, nginxconf.ErrCheck)
	assert.Contains(t, err.Error(), "key values mismatch")
}

// BenchmarkCheck measures v6-nginxgen --check: render, temporary prefix, nginx -t.
func BenchmarkCheck(b *testing.B) {
	testenv.Tool(b, "nginx", "nginx")
	dir := testenv.TempDir(b)
	cert, key := testenv.NginxSelfSignedCert(b, dir, "social.example.org")
	s := nginxconf.Site{Domain: "social.example.org", Cert: cert, Key: key, StreamingInstances: 4,
		HTTPPort: testenv.FreePort(b), HTTPSPort: testenv.FreePort(b)}
	for b.Loop() {
		if res, err := nginxconf.Check(b.Context(), s, nginxconf.CheckOptions{}); err != nil {
			b.Fatal(err, res.Output)
		}
	}
}
