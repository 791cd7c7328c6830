package acme_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
)

func TestParseCertbotConf(t *testing.T) {
	t.Parallel()
	c, err := acme.ParseCertbotConf([]byte(`# renew_before_expiry = 30 days
version = 2.1.0
archive_dir = /etc/letsencrypt/archive/social.example
cert = /etc/letsencrypt/live/social.example/cert.pem

# Options used in the renewal process
[renewalparams]
account = 3f0a
authenticator = standalone
http01_port = 8080
http01_address = "::"
server = https://acme-v02.api.letsencrypt.org/directory
key_type = ecdsa
elliptic_curve = secp384r1
[[webroot_map]]
social.example = /var/www/acme
[acme_renewal_info]
ari_retry_after = 2026-11-27T00:00:00
`))
	require.NoError(t, err)
	assert.Equal(t, "/etc/letsencrypt/archive/social.example", c.Top["archive_dir"])
	assert.Equal(t, "standalone", c.Params["authenticator"])
	assert.Equal(t, "::", c.Params["http01_address"])
	assert.Equal(t, "/var/www/acme", c.WebrootMap["social.example"])
	assert.NotContains(t, c.Params, "ari_retry_after")

	for _, bad := range []string{"[renewalparams\n", "just words\n", " = value\n"} {
		_, err := acme.ParseCertbotConf([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func FuzzParseCertbotConf(f *testing.F) {
	f.Add([]byte("version = 2.1.0\n[renewalparams]\nauthenticator = webroot\nwebroot_path = /var/www,\n[[webroot_map]]\na.example = /var/www\n"))
	f.Add([]byte("[x]\n#c\n k = 'v' \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := acme.ParseCertbotConf(b)
		if err != nil {
			return
		}
		for k := range c.Params {
			if k == "" {
				t.Fatalf("empty key accepted")
			}
		}
	})
}

func FuzzNormalizeNames(f *testing.F) {
	for _, s := range []string{"social.example", "bücher.example", "*.a.example", "2001:db8::1", "a..b", "-x.example", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, ps := acme.NormalizeNames([]string{s}, acme.DNS01)
		if ps.HasErrors() {
			return
		}
		// Whatever is accepted is stable and safe for nginx, file names and dotenv.
		again, ps2 := acme.NormalizeNames(out, acme.DNS01)
		if ps2.HasErrors() || len(again) != 1 || again[0] != out[0] {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", s, out, again, ps2)
		}
		for _, r := range out[0] {
			if r <= ' ' || r == ';' || r == '{' || r == '}' || r == '"' || r == '\'' || r == '%' || r == '/' || r > 0x7e {
				t.Fatalf("accepted %q with %q", out[0], r)
			}
		}
	})
}
