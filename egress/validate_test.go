package egress_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/mastodon"
)

func goodNAT64() egress.NAT64 {
	return egress.NAT64{DNS64: []netip.Addr{netip.MustParseAddr("2001:db8:1::1")}, Clients: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")}}
}

func goodProxy() egress.Proxy {
	return egress.Proxy{URL: "http://[2001:db8:1::3]:3128", Clients: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")}}
}

func TestBadInputRendersNothing(t *testing.T) {
	for _, c := range []struct {
		name  string
		files func() ([]egress.File, error)
		path  string
		err   error
	}{
		{"prefix length 80", func() ([]egress.File, error) {
			n := goodNAT64()
			n.Prefix = netip.MustParsePrefix("2001:db8:64::/80")
			f, ps := n.Files()
			return f, ps.Err()
		}, "prefix", egress.ErrPrefix},
		{"IPv4 prefix", func() ([]egress.File, error) {
			n := goodNAT64()
			n.Prefix = netip.MustParsePrefix("10.0.0.0/8")
			f, ps := n.Files()
			return f, ps.Err()
		}, "prefix", egress.ErrPrefix},
		{"u octet set", func() ([]egress.File, error) {
			n := goodNAT64()
			n.Prefix = netip.MustParsePrefix("2001:db8:0:0:ff00::/96")
			f, ps := n.Files()
			return f, ps.Err()
		}, "prefix", egress.ErrPrefix},
		{"no nat64 clients", func() ([]egress.File, error) {
			n := goodNAT64()
			n.Clients = nil
			f, ps := n.Files()
			return f, ps.Err()
		}, "clients", egress.ErrClients},
		{"pool overlaps LAN", func() ([]egress.File, error) {
			n := goodNAT64()
			n.LAN = []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}
			f, ps := n.Files()
			return f, ps.Err()
		}, "pool", egress.ErrPool},
		{"Mastodon 3.2 and the WKP", func() ([]egress.File, error) {
			n := goodNAT64()
			n.Release = mastodon.MustLookup("3.2")
			f, ps := n.Files()
			return f, ps.Err()
		}, "prefix", egress.ErrRelease},
		{"unbracketed IPv6 proxy", func() ([]egress.File, error) {
			p := goodProxy()
			p.URL = "http://2001:db8:1::3:3128"
			f, ps := p.Files()
			return f, ps.Err()
		}, "url", egress.ErrProxyURL},
		{"empty proxy allow-list", func() ([]egress.File, error) {
			p := goodProxy()
			p.Clients = nil
			f, ps := p.Files()
			return f, ps.Err()
		}, "clients", egress.ErrClients},
		{"proxy ::/0", func() ([]egress.File, error) {
			p := goodProxy()
			p.Clients = []netip.Prefix{netip.MustParsePrefix("::/0")}
			f, ps := p.Files()
			return f, ps.Err()
		}, "clients[0]", egress.ErrClients},
		{"Mastodon 2.3 has no http_proxy", func() ([]egress.File, error) {
			p := goodProxy()
			p.Release = mastodon.MustLookup("2.3")
			f, ps := p.Files()
			return f, ps.Err()
		}, "mastodon", egress.ErrRelease},
	} {
		t.Run(c.name, func(t *testing.T) {
			files, err := c.files()
			require.Error(t, err)
			assert.Nil(t, files, "nothing rendered")
			assert.True(t, errors.Is(err, c.err), "%v", err)
			assert.Contains(t, err.Error(), c.path+": ")
		})
	}
}

func TestParseProxyURL(t *testing.T) {
	for _, c := range []struct {
		in, host string
		port     uint16
		bad      string
	}{
		{in: "http://[2001:db8::3]:3128", host: "2001:db8::3", port: 3128},
		{in: "http://proxy.example.org:3128/", host: "proxy.example.org", port: 3128},
		{in: "https://192.0.2.3:8443", host: "192.0.2.3", port: 8443},
		{in: "http://2001:db8::3:3128", bad: "http://[2001:db8::3]:3128"},
		{in: "http://2001:db8::3", bad: "http://[2001:db8::3]:3128"},
		{in: "http://[2001:db8::3]", bad: "no port"},
		{in: "socks5://[2001:db8::3]:1080", bad: "scheme"},
		{in: "http://u:p@[2001:db8::3]:3128", bad: "credentials"},
		{in: "http://[fe80::1%25eth0]:3128", bad: "zone"},
		{in: "", bad: "empty"},
	} {
		h, p, err := egress.ParseProxyURL(c.in)
		if c.bad != "" {
			require.Error(t, err, c.in)
			assert.ErrorIs(t, err, egress.ErrProxyURL)
			assert.Contains(t, err.Error(), c.bad, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		assert.Equal(t, c.host, h)
		assert.Equal(t, c.port, p)
	}
}

func TestEmbed(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.33")
	// RFC 6052 section 2.4's table
	for pfx, want := range map[string]string{
		"2001:db8::/32":         "2001:db8:c000:221::",
		"2001:db8:100::/40":     "2001:db8:1c0:2:21::",
		"2001:db8:122::/48":     "2001:db8:122:c000:2:2100::",
		"2001:db8:122:300::/56": "2001:db8:122:3c0:0:221::",
		"2001:db8:122:344::/64": "2001:db8:122:344:c0:2:2100:0",
		"2001:db8:122:344::/96": "2001:db8:122:344::192.0.2.33",
		"64:ff9b::/96":          "64:ff9b::192.0.2.33",
	} {
		got, ok := egress.Synthesize(netip.MustParsePrefix(pfx), v4)
		require.True(t, ok, pfx)
		assert.Equal(t, netip.MustParseAddr(want), got, pfx)
	}
	e, ok := egress.Embed(netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("10.0.0.0/8"))
	require.True(t, ok)
	assert.Equal(t, netip.MustParsePrefix("2001:db8:a00::/40"), e)
	e, ok = egress.Embed(netip.MustParsePrefix("2001:db8:122:344::/64"), netip.MustParsePrefix("10.0.0.0/8"))
	require.True(t, ok)
	assert.Equal(t, netip.MustParsePrefix("2001:db8:122:344:a::/80"), e) // the u octet comes first
}

func TestWriteDirRefusesEscapes(t *testing.T) {
	d := t.TempDir()
	_, err := egress.WriteDir(d, []egress.File{{Path: "etc/ok", Data: []byte("x")}, {Path: "../escape", Data: []byte("x")}})
	require.Error(t, err)
	_, statErr := os.Stat(filepath.Join(d, "etc", "ok"))
	assert.True(t, os.IsNotExist(statErr), "nothing written")
}

func TestParsePath(t *testing.T) {
	for s, want := range map[string]egress.Path{"": egress.None, "none": egress.None, "nat64": egress.ViaNAT64, "proxy": egress.ViaProxy} {
		p, err := egress.ParsePath(s)
		require.NoError(t, err)
		assert.Equal(t, want, p)
		if s != "" {
			assert.Equal(t, s, p.String())
		}
	}
	_, err := egress.ParsePath("socks")
	assert.ErrorIs(t, err, egress.ErrPath)
}

func FuzzParseProxyURL(f *testing.F) {
	for _, s := range []string{"http://[2001:db8::3]:3128", "http://2001:db8::3:3128", "https://p.example:1/", "http://[::1", "http://@:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, p, err := egress.ParseProxyURL(s)
		if err != nil {
			return
		}
		if p == 0 || h == "" {
			t.Fatalf("%q: accepted without host or port", s)
		}
		// what is accepted renders into squid.conf and back out unchanged
		pr := goodProxy()
		pr.URL = s
		if ps := pr.Validate(); ps.HasErrors() {
			t.Fatalf("%q: ParseProxyURL accepts, Validate refuses: %v", s, ps.Err())
		}
		h2, p2, err := egress.ParseProxyURL(s)
		if err != nil || h2 != h || p2 != p {
			t.Fatalf("%q: not deterministic", s)
		}
	})
}
