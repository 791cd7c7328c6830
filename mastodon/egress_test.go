package mastodon_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/v6kit/v6kit/mastodon"
)

func TestLocalUseNAT64PerRelease(t *testing.T) {
	for _, c := range []struct {
		version string
		want    bool
	}{{"4.3", false}, {"4.4", false}, {"4.5.9", false}, {"4.5.10", true}, {"4.5", true}, {"4.6.0", true}, {"4.7", true}} {
		r := mastodon.MustLookup(c.version)
		assert.Equal(t, c.want, r.BlocksLocalUseNAT64(), c.version)
		assert.Equal(t, c.want, slices.Contains(r.BlockedIPv6Prefixes(), "64:ff9b:1::/48"), c.version)
		assert.True(t, slices.Contains(r.BlockedIPv6Prefixes(), mastodon.NAT64WellKnownPrefix), c.version)
	}
}

func TestProxyFacts(t *testing.T) {
	assert.False(t, mastodon.MustLookup("2.3").ReadsHTTPProxy())
	assert.True(t, mastodon.MustLookup("2.4").ReadsHTTPProxy())
	assert.True(t, mastodon.Newest().ProxySkipsPrivateCheck())
	assert.Equal(t, []string{"web", "sidekiq"}, mastodon.Newest().ProxyProcesses())
	assert.Nil(t, mastodon.MustLookup("2.3").ProxyProcesses())
}

func TestRefusesAddress(t *testing.T) {
	wkp := netip.MustParsePrefix(mastodon.NAT64WellKnownPrefix)
	ula := netip.MustParsePrefix("fd6e:6567:6764::/96")
	for _, c := range []struct {
		version, addr string
		allowed       []netip.Prefix
		entry         string
	}{
		{"4.7", "64:ff9b::cb00:710a", nil, "64:ff9b::/96"},
		{"4.7", "64:ff9b::cb00:710a", []netip.Prefix{wkp}, ""},
		{"4.7", "64:ff9b::c0a8:4d0a", []netip.Prefix{wkp}, ""},             // Mastodon does not look inside: the NAT64 must refuse
		{"3.2", "64:ff9b::cb00:710a", []netip.Prefix{wkp}, "64:ff9b::/96"}, // ALLOWED_PRIVATE_ADDRESSES is 3.3+
		{"4.7", "fd6e:6567:6764::cb00:710a", nil, "fc00::/7"},
		{"4.7", "fd6e:6567:6764::cb00:710a", []netip.Prefix{ula}, ""},
		{"4.4", "64:ff9b:1::a00:1", nil, ""},
		{"4.6", "64:ff9b:1::a00:1", nil, "64:ff9b:1::/48"},
		{"4.7", "192.168.77.10", nil, "192.168.0.0/16"},
		{"4.7", "203.0.113.10", nil, "203.0.113.0/24"},
		{"4.7", "::ffff:192.168.77.10", nil, "192.168.0.0/16"},
		{"4.4", "::ffff:192.168.77.10", nil, ""},
		{"4.7", "::c0a8:4d0a", nil, "192.168.0.0/16"},
		{"4.6.3", "::c0a8:4d0a", nil, ""},
		{"4.7", "2a01:4f8:c2c:123f:64::cb00:710a", nil, ""},
		{"4.7", "::1", nil, "::1/128"},
		// the unspecified address (Linux connects it to loopback): listed only from the
		// 4.5.10/4.6.0 refactor (ec2a99341c); IPAddr("::") is neither private?,
		// loopback? nor link_local?, and neither the gem nor 4.3.0's list held ::/128
		{"4.7", "::", nil, "::/128"},
		{"4.5.10", "::", nil, "::/128"},
		{"4.5.9", "::", nil, ""},
		{"4.3", "::", nil, ""},
		{"2.3", "::", nil, ""},
		{"2.3", "64:ff9b::a00:1", nil, "64:ff9b::/96"}, // the gem's list (0.4.1) already held the WKP
		{"2.2", "10.0.0.1", nil, ""},
	} {
		entry, refused := mastodon.MustLookup(c.version).RefusesAddress(netip.MustParseAddr(c.addr), c.allowed)
		assert.Equal(t, c.entry, entry, "%s %s", c.version, c.addr)
		assert.Equal(t, c.entry != "", refused, "%s %s", c.version, c.addr)
	}
}

func TestAllowedPrivateAddressesValue(t *testing.T) {
	assert.Equal(t, "64:ff9b::/96,fd00:1::/96", mastodon.AllowedPrivateAddressesValue([]netip.Prefix{
		netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("fd00:1::/96")}))
}
