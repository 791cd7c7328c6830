package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// TestWorld builds a world and checks what every network test relies on: DNS64
// synthesis, RFC 7050 data, NAT64 reach from the IPv6-only client to the IPv4-only
// peer, no IPv4 route on the client, AddRecords, and the per-namespace resolv.conf.
func TestWorld(t *testing.T) {
	t.Parallel()
	w := NewWorld(t, WorldOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := w.Dialer(w.Client)

	q := func(srv netip.Addr, name string, qt uint16) []dns.RR {
		t.Helper()
		c, err := d.DialContext(ctx, "udp", netip.AddrPortFrom(srv, 53).String())
		require.NoError(t, err)
		defer c.Close()
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qt)
		resp, _, err := (&dns.Client{Timeout: 5 * time.Second}).ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: c})
		require.NoError(t, err)
		return resp.Answer
	}
	syn, ok := synth(w.NAT64Prefix, w.PeerAddr)
	require.True(t, ok)
	ans := q(w.DNS64, w.PeerName, dns.TypeAAAA)
	require.Len(t, ans, 1)
	require.Equal(t, syn.String(), ans[0].(*dns.AAAA).AAAA.String(), "DNS64 synthesizes inside the NAT64 prefix")
	require.Empty(t, q(w.PlainDNS, w.PeerName, dns.TypeAAAA), "the plain resolver does not synthesize")
	require.Len(t, q(w.DNS64, "ipv4only.arpa", dns.TypeAAAA), 2)

	// NAT64: the peer sees an address from tayga's pool
	cl := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 20 * time.Second}
	resp, err := cl.Get("http://" + net.JoinHostPort(syn.String(), "80") + "/whoami")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.True(t, strings.HasPrefix(string(body), "198.51.100."), "peer saw %q", body)

	// the client has no IPv4 route
	_, err = d.DialContext(ctx, "tcp4", "198.51.100.10:80")
	require.Error(t, err)

	require.NoError(t, w.AddRecords("added AAAA "+w.ServerAddr.String()))
	require.Len(t, q(w.DNS64, "added."+w.Zone, dns.TypeAAAA), 1)

	out, err := w.Command(ctx, w.Client, "cat", "/etc/resolv.conf").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(out), "nameserver "+w.DNS64.String())
	fmt.Fprintln(io.Discard, out)
}

func synth(p netip.Prefix, v4 netip.Addr) (netip.Addr, bool) {
	b := p.Addr().As16()
	f := v4.As4()
	copy(b[12:], f[:])
	return netip.AddrFrom16(b), p.Bits() == 96
}
