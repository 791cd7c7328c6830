package cli

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseAddr (issue 20): an address flag takes an IP literal as admins type it, an
// IPv6 one in brackets too (as nginx writes [::1]); brackets around IPv4 and host names
// are refused saying what to give.
func TestParseAddr(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"::1", "::1"}, {"[::1]", "::1"}, {" [2001:db8::5] ", "2001:db8::5"}, {"127.0.0.1", "127.0.0.1"},
		{"::ffff:127.0.0.1", "::ffff:127.0.0.1"}, // kept as given: the tools' own checks explain it
		{"[fe80::1%eth0]", "fe80::1%eth0"},
	} {
		a, err := ParseAddr(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, netip.MustParseAddr(c.want), a, c.in)
	}
	for _, c := range []struct{ in, want string }{
		{"[127.0.0.1]", `"[127.0.0.1]": brackets are for IPv6 literals only: drop them (127.0.0.1)`},
		{"web1.example", `"web1.example" is not an IP address: give a literal such as ::1, [::1] or 127.0.0.1 (a host name is not accepted)`},
		{"[::1", `"[::1" is not an IP address`},
		{"[]", `"[]" is not an IP address`},
		{"[[::1]]", `"[[::1]]" is not an IP address`},
		{"[::1]:3000", `"[::1]:3000" is not an IP address: give it without a port`},
		{"", `"" is not an IP address`},
	} {
		_, err := ParseAddr(c.in)
		require.Error(t, err, c.in)
		assert.Contains(t, err.Error(), c.want, c.in)
	}
}
