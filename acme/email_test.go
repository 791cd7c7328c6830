package acme_test

import (
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
)

func TestCheckEmail(t *testing.T) {
	t.Parallel()
	good := []string{
		"admin@example.org", "a.b.c@sub.example.org", "x+tag@example.org", "o'neil@example.org",
		"Admin@Example.ORG", "a-b_c@xn--mnchen-3ya.de", "{@example.org", "1@a1.example", strings.Repeat("a", 64) + "@example.org",
	}
	for _, e := range good {
		assert.NoError(t, acme.CheckEmail(e), e)
	}
	bad := map[string]string{
		"":                                       "empty",
		"{":                                      "no @",
		"admin":                                  "no @",
		"@example.org":                           "nothing before",
		"admin@":                                 "nothing after",
		"admin@localhost":                        "single-label",
		"admin@example..org":                     "empty label",
		"admin@example.org.":                     "empty label",
		".admin@example.org":                     "dot",
		"ad..min@example.org":                    "dot",
		"admin.@example.org":                     "dot",
		`"ad min"@example.org`:                   `'"'`,
		"ad min@example.org":                     "' '",
		"Admin <admin@example.org>":              "' '",
		"admin@[192.0.2.1]":                      "address literal",
		"admin@192.0.2.1":                        "all-numeric",
		"admin@exa_mple.org":                     "'_'",
		"admin@-example.org":                     "hyphen",
		"admin@example.org\nX-Evil: 1":           "in the domain",
		"admin\r@example.org":                    "before the @",
		"ädmin@example.org":                      "before the @",
		"admin@exämple.org":                      "in the domain",
		"a,b@example.org":                        "','",
		"a@b@example.org":                        "'@'",
		strings.Repeat("a", 65) + "@example.org": "local part of 65",
		"a@" + strings.Repeat("b", 64) + ".org":  "longer than 63",
		"a@" + strings.Repeat(strings.Repeat("b", 60)+".", 5) + "org": "254",
	}
	for e, want := range bad {
		err := acme.CheckEmail(e)
		require.Error(t, err, "%q", e)
		assert.ErrorIs(t, err, acme.ErrEmail)
		assert.Contains(t, err.Error(), want, "%q", e)
		assert.Contains(t, err.Error(), "invalid e-mail address")
	}
}

// TestConfigRefusesBadEmail: the config (every v6-certs command) refuses what
// CheckEmail refuses, under the path "email".
func TestConfigRefusesBadEmail(t *testing.T) {
	t.Parallel()
	for _, e := range []string{"{", "a@b", "admin@[::1]", "x y@example.org"} {
		ps := acme.Config{Email: e, Challenge: acme.Challenge{Webroot: t.TempDir()}}.Validate()
		require.Error(t, ps.Err(), e)
		assert.ErrorIs(t, ps.Err(), acme.ErrEmail)
		assert.Equal(t, "email", ps.Errors()[0].Path)
	}
	assert.NoError(t, acme.Config{Email: "admin@social.example", Challenge: acme.Challenge{Webroot: t.TempDir()}}.Validate().Err())
}

// FuzzCheckEmail: never panics, and every accepted address is one Go's RFC 5322
// parser reads back as exactly itself, with no display name.
func FuzzCheckEmail(f *testing.F) {
	for _, s := range []string{"admin@example.org", "{", "a@b", "a.b@c.d", `"q"@x.y`, "a@[1.2.3.4]", "x+y@xn--a.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if acme.CheckEmail(s) != nil {
			return
		}
		a, err := mail.ParseAddress(s)
		if err != nil {
			t.Fatalf("accepted %q but net/mail refuses it: %v", s, err)
		}
		if a.Address != s || a.Name != "" {
			t.Fatalf("accepted %q but net/mail reads %q name %q", s, a.Address, a.Name)
		}
		if strings.ContainsAny(s, " \t\r\n\"()<>[],;:\\") {
			t.Fatalf("accepted %q with a special character", s)
		}
	})
}
