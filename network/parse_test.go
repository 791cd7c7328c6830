package network_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
)

func TestParseResolvConf(t *testing.T) {
	t.Parallel()
	rc := network.ParseResolvConf([]byte(`# generated
nameserver 2001:db8::53   # DNS64
nameserver fe80::1%eth0
nameserver not-an-address
nameserver 192.0.2.53
search example.org corp.example
options timeout:1 attempts:2 ; comment
;nameserver 2001:db8::99
`))
	require.Len(t, rc.Nameservers, 3)
	assert.Equal(t, "2001:db8::53", rc.Nameservers[0].String())
	assert.Equal(t, "fe80::1%eth0", rc.Nameservers[1].String())
	assert.Equal(t, "192.0.2.53", rc.Nameservers[2].String())
	assert.Equal(t, []string{"example.org", "corp.example"}, rc.Search)
	assert.Empty(t, network.ParseResolvConf(nil).Nameservers)
}

func TestParseIPv6Routes(t *testing.T) {
	t.Parallel()
	// from /proc/net/ipv6_route on a host with a default route, a reject route and lo
	data := `fd6e7465737400020000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     up0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd6e7465737400020000000000000001 00000400 00000001 00000000 00000003     up0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
garbage line
`
	rs := network.ParseIPv6Routes([]byte(data))
	require.Len(t, rs, 4)
	assert.Equal(t, "fd6e:7465:7374:2::/64", rs[0].Dst.String())
	def := network.DefaultRoutes(rs)
	require.Len(t, def, 1)
	assert.Equal(t, "fd6e:7465:7374:2::1", def[0].Gateway.String())
	assert.Equal(t, "up0", def[0].Dev)
	assert.Equal(t, uint32(0x400), def[0].Metric)
}

func TestNAT64Prefixes(t *testing.T) {
	t.Parallel()
	wka := netip.MustParseAddr("192.0.0.170")
	for _, p := range []string{"64:ff9b::/96", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56", "2001:db8:122:344::/64", "2001:db8::/32", "64:ff9b:1::/96"} {
		pfx := netip.MustParsePrefix(p)
		a, ok := network.Synthesize(pfx, wka)
		require.True(t, ok, p)
		got := network.NAT64Prefixes([]netip.Addr{a, a})
		require.Equal(t, []netip.Prefix{pfx}, got, "%s → %s", p, a)
		v4, ok := network.ExtractIPv4(a.As16(), pfx.Bits())
		require.True(t, ok)
		assert.Equal(t, wka.As4(), v4)
	}
	// RFC 6052 section 2.4's examples
	a, _ := network.Synthesize(netip.MustParsePrefix("2001:db8:122:344::/64"), netip.MustParseAddr("192.0.2.33"))
	assert.Equal(t, "2001:db8:122:344:c0:2:2100:0", a.String())
	a, _ = network.Synthesize(netip.MustParsePrefix("2001:db8::/32"), netip.MustParseAddr("192.0.2.33"))
	assert.Equal(t, "2001:db8:c000:221::", a.String())
	// not a NAT64 answer: a real AAAA, an IPv4-mapped one
	assert.Empty(t, network.NAT64Prefixes([]netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:192.0.0.170")}))
	_, ok := network.Synthesize(netip.MustParsePrefix("2001:db8::/33"), wka)
	assert.False(t, ok)
}

func TestBlocked(t *testing.T) {
	t.Parallel()
	rel := mastodon.MustLookup("4.5")
	wkp := netip.MustParsePrefix("64:ff9b::/96")
	entry, blocked := network.Blocked(rel.BlockedIPv6Prefixes(), nil, wkp)
	assert.True(t, blocked)
	assert.Equal(t, "64:ff9b::/96", entry)
	_, blocked = network.Blocked(rel.BlockedIPv6Prefixes(), []netip.Prefix{wkp}, wkp)
	assert.False(t, blocked, "ALLOWED_PRIVATE_ADDRESSES covers it")
	_, blocked = network.Blocked(rel.BlockedIPv6Prefixes(), []netip.Prefix{netip.MustParsePrefix("64:ff9b::/120")}, wkp)
	assert.True(t, blocked, "a smaller allowed prefix does not cover the whole NAT64 prefix")
	_, blocked = network.Blocked(rel.BlockedIPv6Prefixes(), nil, netip.MustParsePrefix("2a01:4f8:c2c:123::/96"))
	assert.False(t, blocked, "a network-specific prefix in global unicast space is not private")
	entry, blocked = network.Blocked(rel.BlockedIPv6Prefixes(), nil, netip.MustParsePrefix("fd6e:7465:7374:64::/96"))
	assert.True(t, blocked)
	assert.Equal(t, "fc00::/7", entry)
}

func TestValidDomain(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"social.example.org", "social.example.org.", "xn--bcher-kva.example", "bücher.example", "a-b.c-d.example"} {
		assert.NoError(t, network.ValidDomain(ok), ok)
	}
	for _, bad := range []string{"", "localhost", "a..b", "-a.example", "a-.example", "a_b.example", "social.example.org:443", "social.example.org/", "a b.example",
		"x\x00.example", "\"q\".example", "a;b.example", "{a}.example", "%41.example", strings.Repeat("a", 64) + ".example", "192.0.2.1", "::1"} {
		assert.Error(t, network.ValidDomain(bad), "%q", bad)
	}
}

func FuzzParseResolvConf(f *testing.F) {
	f.Add([]byte("nameserver 2001:db8::53\nsearch example.org\n"))
	f.Add([]byte("nameserver fe80::1%eth0 # x\nnameserver\n;\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rc := network.ParseResolvConf(data)
		for _, a := range rc.Nameservers {
			if !a.IsValid() {
				t.Fatalf("invalid address from %q", data)
			}
		}
		// writing the nameservers back and parsing gives the same list
		var b strings.Builder
		for _, a := range rc.Nameservers {
			b.WriteString("nameserver " + a.String() + "\n")
		}
		again := network.ParseResolvConf([]byte(b.String()))
		if len(again.Nameservers) != len(rc.Nameservers) {
			t.Fatalf("round trip: %v vs %v", again.Nameservers, rc.Nameservers)
		}
		for i := range again.Nameservers {
			if again.Nameservers[i] != rc.Nameservers[i] {
				t.Fatalf("round trip: %v vs %v", again.Nameservers, rc.Nameservers)
			}
		}
	})
}

func FuzzParseIPv6Routes(f *testing.F) {
	f.Add([]byte("00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd6e7465737400020000000000000001 00000400 00000001 00000000 00000003     up0\n"))
	f.Add([]byte("zz 99 x y z\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range network.ParseIPv6Routes(data) {
			if !r.Dst.IsValid() || !r.Gateway.IsValid() {
				t.Fatalf("invalid route %+v from %q", r, data)
			}
		}
	})
}

func FuzzNAT64Prefixes(f *testing.F) {
	f.Add([]byte{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 0, 170}, uint8(96))
	f.Add(make([]byte, 16), uint8(32))
	f.Fuzz(func(t *testing.T, b []byte, plen uint8) {
		if len(b) != 16 {
			return
		}
		a := netip.AddrFrom16([16]byte(b))
		for _, p := range network.NAT64Prefixes([]netip.Addr{a}) {
			if !p.Contains(a) {
				t.Fatalf("prefix %s does not contain %s", p, a)
			}
		}
		pfx, err := a.Prefix(int(plen % 129))
		if err != nil {
			return
		}
		v4 := netip.AddrFrom4([4]byte{b[0], b[5], b[10], b[15]})
		syn, ok := network.Synthesize(pfx, v4)
		if !ok {
			return
		}
		got, ok := network.ExtractIPv4(syn.As16(), pfx.Bits())
		if !ok || got != v4.As4() {
			t.Fatalf("Synthesize(%s, %s) = %s, extracted %v", pfx, v4, syn, got)
		}
		if !pfx.Contains(syn) {
			t.Fatalf("%s not in %s", syn, pfx)
		}
	})
}
