package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/examples/internal/bundletest"
)

// TestValuesCheckedWhereTaken: an e-mail, a NAT64 prefix and paths are refused by
// allinone itself, before any tool they reach (v6-certs, Mastodon's SSRF check, nginx)
// would have to: exit 1, the flag's field named, nothing written.
func TestValuesCheckedWhereTaken(t *testing.T) {
	t.Parallel()
	long := "/" + strings.Repeat(strings.Repeat("d", 200)+"/", 21)[:4095]
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"not an e-mail", []string{"--email", "notanemail"}, []string{"email: ", "@"}},
		{"e-mail with a newline", []string{"--email", "admin@example.org\nExecStartPre=/bin/sh"}, []string{"email: "}},
		{"IPv4 NAT64", []string{"--nat64", "10.0.0.0/8"}, []string{"nat64: ", "RFC 6052", "ALLOWED_PRIVATE_ADDRESSES"}},
		{"NAT64 of a wrong length", []string{"--nat64", "2001:db8::/33"}, []string{"nat64: ", "RFC 6052"}},
		{"too long --letsencrypt", []string{"--letsencrypt", long}, []string{"PATH_MAX"}},
		{"too long --nginx-cache", []string{"--nginx-cache", long}, []string{"PATH_MAX"}},
		{"too long a name in --home", []string{"--home", "/home/" + strings.Repeat("m", 256)}, []string{"NAME_MAX"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "site")
			rc, stdout, stderr := bundletest.Run(run, append([]string{"--out", out}, c.args...)...)
			require.Equal(t, 1, rc, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			for _, w := range c.want {
				assert.Contains(t, stderr, w)
			}
			assert.Contains(t, stderr, "nothing was written")
			_, err := os.Stat(out)
			assert.True(t, os.IsNotExist(err), "nothing written")
		})
	}
	// The well-known prefix and a network-specific /64 are NAT64 prefixes.
	for _, p := range []string{"64:ff9b::/96", "2001:db8:64::/64"} {
		rc, _, stderr := bundletest.Run(run, "--out", filepath.Join(t.TempDir(), "site"), "--nat64", p)
		assert.Equal(t, 0, rc, "%s: %s", p, stderr)
	}
}
