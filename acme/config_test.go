package acme_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
)

func TestNormalizeNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []string
		ct   acme.ChallengeType
		want []string
		err  error
	}{
		{"plain", []string{"Social.Example.ORG"}, acme.HTTP01, []string{"social.example.org"}, nil},
		{"idn to punycode", []string{"bücher.example"}, acme.HTTP01, []string{"xn--bcher-kva.example"}, nil},
		{"trailing dot and dedupe", []string{"a.example.", "a.example"}, acme.HTTP01, []string{"a.example"}, nil},
		{"ipv6 address", []string{"2001:db8::1"}, acme.HTTP01, []string{"2001:db8::1"}, nil},
		{"bracketed ipv6", []string{"[2001:db8::1]"}, acme.TLSALPN01, []string{"2001:db8::1"}, nil},
		{"wildcard dns-01", []string{"*.example.org"}, acme.DNS01, []string{"*.example.org"}, nil},
		{"wildcard http-01", []string{"*.example.org"}, acme.HTTP01, nil, acme.ErrWildcardChallenge},
		{"ip with dns-01", []string{"2001:db8::1"}, acme.DNS01, nil, acme.ErrIPChallenge},
		{"empty", nil, acme.HTTP01, nil, acme.ErrNoNames},
		{"single label", []string{"localhost"}, acme.HTTP01, nil, acme.ErrInvalidName},
		{"underscore", []string{"a_b.example"}, acme.HTTP01, nil, acme.ErrInvalidName},
		{"semicolon", []string{"a.example;rm"}, acme.HTTP01, nil, acme.ErrInvalidName},
		{"newline", []string{"a.example\nb"}, acme.HTTP01, nil, acme.ErrInvalidName},
		{"brace", []string{"a{.example"}, acme.HTTP01, nil, acme.ErrInvalidName},
		{"space", []string{" a.example"}, acme.HTTP01, nil, acme.ErrInvalidName},
		{"hyphen edge", []string{"-a.example"}, acme.HTTP01, nil, acme.ErrInvalidName},
		{"long label", []string{strings.Repeat("a", 64) + ".example"}, acme.HTTP01, nil, acme.ErrInvalidName},
		{"mid wildcard", []string{"a.*.example"}, acme.DNS01, nil, acme.ErrInvalidName},
		{"link-local ip", []string{"fe80::1"}, acme.HTTP01, nil, acme.ErrInvalidName},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ps := acme.NormalizeNames(c.in, c.ct)
			if c.err != nil {
				require.Error(t, ps.Err())
				assert.ErrorIs(t, ps.Err(), c.err)
				return
			}
			require.NoError(t, ps.Err())
			assert.Equal(t, c.want, got)
		})
	}
}

func TestConfigValidateBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  acme.Config
		err  error
		path string
	}{
		{"http CA", acme.Config{Server: "http://acme.example/dir"}, acme.ErrServerURL, "server"},
		{"relative CA", acme.Config{Server: "acme.example/dir"}, acme.ErrServerURL, "server"},
		{"bad email", acme.Config{Email: "Admin <a@b.example>"}, acme.ErrEmail, "email"},
		{"half EAB", acme.Config{EAB: acme.EAB{KID: "k"}}, acme.ErrEAB, "eab"},
		{"key type", acme.Config{KeyType: "dsa"}, acme.ErrKeyType, "key_type"},
		{"profile chars", acme.Config{Profile: "short lived"}, acme.ErrProfile, "profile"},
		{"webroot missing", acme.Config{Challenge: acme.Challenge{Webroot: dir + "/nope"}}, acme.ErrWebroot, "challenge.webroot"},
		{"webroot relative", acme.Config{Challenge: acme.Challenge{Webroot: "www"}}, acme.ErrWebroot, "challenge.webroot"},
		{"unknown challenge", acme.Config{Challenge: acme.Challenge{Type: "http-02"}}, acme.ErrChallenge, "challenge.type"},
		{"unknown dns provider", acme.Config{Challenge: acme.Challenge{Type: acme.DNS01, DNSProvider: "route66"}}, acme.ErrDNSProvider, "challenge.dns_provider"},
		{"cloudflare without token", acme.Config{Challenge: acme.Challenge{Type: acme.DNS01, DNSProvider: "cloudflare"}}, acme.ErrDNSCredentials, "challenge.dns_provider"},
		{"ipv4 listen but ipv6-only", acme.Config{Challenge: acme.Challenge{Listen: netip.MustParseAddrPort("0.0.0.0:80")}}, acme.ErrListen, "challenge.listen"},
		{"port zero", acme.Config{Challenge: acme.Challenge{Listen: netip.MustParseAddrPort("[::]:0")}}, acme.ErrListen, "challenge.listen"},
		{"negative concurrency", acme.Config{Concurrency: -1}, acme.ErrConcurrency, "concurrency"},
		{"bad CA file", acme.Config{CACertPEM: []byte("not pem")}, acme.ErrServerURL, "ca_cert"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := c.cfg.Validate()
			err := ps.Err()
			require.Error(t, err)
			assert.ErrorIs(t, err, c.err)
			require.Len(t, ps.Errors(), 1, ps.String())
			assert.Equal(t, c.path, ps.Errors()[0].Path)
			_, nerr := acme.New(c.cfg)
			assert.True(t, errors.Is(nerr, c.err))
		})
	}
	// The zero value is valid: Let's Encrypt, http-01 on [::]:80, ec256.
	require.NoError(t, acme.Config{}.Validate().Err())
	require.NoError(t, acme.Config{Challenge: acme.Challenge{Type: acme.DNS01, DNSProvider: "cloudflare",
		DNSCredentials: map[string]string{"CF_DNS_API_TOKEN": "x"}}}.Validate().Err())
	require.NoError(t, acme.Config{Challenge: acme.Challenge{Type: acme.DNS01, DNSProvider: "rfc2136",
		DNSCredentials: map[string]string{"RFC2136_NAMESERVER": "[2001:db8::53]:53"}}}.Validate().Err())
}

func TestValidateCertName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"social.example", "2001:db8::1", "a-0001", "Social.Example", "xn--mdia-bpa.social.test", "lego_style.test", "192.0.2.1"} {
		assert.NoError(t, acme.ValidateCertName(ok), ok)
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "-flag", "_x", "a/b", "a\\b", "a b", "a\tb", "a;b", "a\nb", "a\rb", "a\x00b", "x{y}",
		"site.test#c", "a'b", `a"b`, "a,b", "a$b", "a%b", "*.wild.test", "a=b", "ä.test", "a\x7fb", strings.Repeat("a", 201)} {
		err := acme.ValidateCertName(bad)
		assert.ErrorIs(t, err, acme.ErrLineageName, "%q", bad)
	}
}
