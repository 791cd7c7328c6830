package nginxconf_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/nginxconf"
	"github.com/v6kit/v6kit/report"
)

// longPath is an absolute path of exactly n bytes under dir, in components of 200 bytes.
func longPath(dir string, n int) string {
	p := dir
	for len(p) < n {
		p += "/" + strings.Repeat("d", min(200, n-len(p)-1))
	}
	return p[:n]
}

// TestPathLengthIsNginxs proves the limit with the real nginx: a root of 4095 bytes passes
// Validate and `nginx -t`; the same site with a 4096-byte root is what nginx refuses
// ("too long parameter"), and Validate refuses it first, for every path field, naming
// the field and the limit.
func TestPathLengthIsNginxs(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "nginx", "nginx")
	dir := testenv.TempDir(t)
	cert, key := testenv.NginxSelfSignedCert(t, dir, "social.example.org")
	ok, tooLong := longPath("/srv", 4095), longPath("/srv", 4096)
	s := nginxconf.Site{Domain: "social.example.org", Cert: cert, Key: key, Root: ok,
		HTTPPort: testenv.FreePort(t), HTTPSPort: testenv.FreePort(t)}
	res, err := nginxconf.Check(t.Context(), s, nginxconf.CheckOptions{TempDir: dir})
	require.NoError(t, err, res.Output)

	site, err := s.Bytes()
	require.NoError(t, err)
	p := testenv.NewNginxPrefix(t)
	p.WriteSite(t, "site", bytes.ReplaceAll(site, []byte(ok), []byte(tooLong)))
	out, err := p.Check(t.Context())
	require.Error(t, err, "nginx takes a 4096-byte parameter")
	assert.Contains(t, out, "too long parameter")

	fields := map[string]func(*nginxconf.Site, string){
		"root":         func(s *nginxconf.Site, v string) { s.Root = v },
		"acme_webroot": func(s *nginxconf.Site, v string) { s.ACMEWebroot = v },
		"cert":         func(s *nginxconf.Site, v string) { s.Cert = v },
		"key":          func(s *nginxconf.Site, v string) { s.Key = v },
		"cache_path":   func(s *nginxconf.Site, v string) { s.CachePath = v },
		"access_log":   func(s *nginxconf.Site, v string) { s.AccessLog = v },
		"error_log":    func(s *nginxconf.Site, v string) { s.ErrorLog = v },
	}
	for field, set := range fields {
		for _, v := range []string{tooLong, filepath.Join("/srv", strings.Repeat("n", 256))} {
			bad := s
			set(&bad, v)
			ps := bad.Validate()
			require.True(t, ps.HasErrors(), "%s of %d bytes accepted", field, len(v))
			var found bool
			for _, pr := range ps.Errors() {
				found = found || pr.Path == field && strings.Contains(pr.Message, "MAX") && pr.Severity == report.Error
			}
			assert.True(t, found, "%s: %v", field, ps)
		}
	}
}
