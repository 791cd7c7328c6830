package testenv

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWorldAddLAN puts two hosts on a LAN behind the router: they reach each other
// over the bridge, the client and the server reach them (and they the server) across
// the router, over IPv6 only.
func TestWorldAddLAN(t *testing.T) {
	t.Parallel()
	w := NewWorld(t, WorldOptions{})
	prefix := netip.MustParsePrefix(worldULA + ":10::/64")
	a1, a2 := netip.MustParseAddr(worldULA+":10::31"), netip.MustParseAddr(worldULA+":10::32")
	hosts, err := w.AddLAN(prefix, a1, a2)
	require.NoError(t, err)
	require.Len(t, hosts, 2)

	// an echo of the listener's namespace name on each host, and on the server
	listen := func(node string, ap netip.AddrPort) {
		l, err := w.Listen(node, "tcp6", ap.String())
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, node)
				c.Close()
			}
		}()
	}
	srv := netip.AddrPortFrom(w.ServerAddr, 7000)
	listen(hosts[0], netip.AddrPortFrom(a1, 7000))
	listen(hosts[1], netip.AddrPortFrom(a2, 7000))
	listen(w.Server, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	read := func(from string, to netip.AddrPort) string {
		t.Helper()
		c, err := w.Dialer(from).DialContext(ctx, "tcp6", to.String())
		require.NoError(t, err, "%s → %s", from, to)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
		b, err := io.ReadAll(c)
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, hosts[0], read(w.Client, netip.AddrPortFrom(a1, 7000)))
	assert.Equal(t, hosts[1], read(w.Server, netip.AddrPortFrom(a2, 7000)))
	assert.Equal(t, hosts[1], read(hosts[0], netip.AddrPortFrom(a2, 7000)), "over the bridge")
	assert.Equal(t, w.Server, read(hosts[1], srv))
	// IPv6 only: no IPv4 address on the hosts
	_, err = w.Dialer(hosts[0]).DialContext(ctx, "tcp4", net.JoinHostPort(w.PeerAddr.String(), "80"))
	require.Error(t, err)

	_, err = w.AddLAN(prefix, netip.MustParseAddr(worldULA+":10::33"))
	require.Error(t, err, "the LAN exists")
}

func TestWorldAddLANRefuses(t *testing.T) {
	t.Parallel()
	w := &World{} // refused before anything is built
	for name, c := range map[string]struct {
		prefix string
		addrs  []string
	}{
		"outside the world":  {"fd00:1::/64", []string{"fd00:1::5"}},
		"not a /64":          {worldULA + ":10::/56", []string{worldULA + ":10::5"}},
		"not masked":         {worldULA + ":10::5/64", []string{worldULA + ":10::5"}},
		"the client link":    {worldULA + ":1::/64", []string{worldULA + ":1::5"}},
		"the server link":    {worldULA + ":2::/64", []string{worldULA + ":2::5"}},
		"the NAT64 prefix":   {worldULA + ":64::/64", []string{worldULA + ":64::5"}},
		"no hosts":           {worldULA + ":10::/64", nil},
		"host outside":       {worldULA + ":10::/64", []string{worldULA + ":11::5"}},
		"host is the router": {worldULA + ":10::/64", []string{worldULA + ":10::1"}},
		"host is the subnet": {worldULA + ":10::/64", []string{worldULA + ":10::"}},
		"host twice":         {worldULA + ":10::/64", []string{worldULA + ":10::5", worldULA + ":10::5"}},
		"IPv4 prefix":        {"203.0.113.0/24", []string{"203.0.113.5"}},
	} {
		t.Run(name, func(t *testing.T) {
			var addrs []netip.Addr
			for _, a := range c.addrs {
				addrs = append(addrs, netip.MustParseAddr(a))
			}
			_, err := w.AddLAN(netip.MustParsePrefix(c.prefix), addrs...)
			require.Error(t, err)
		})
	}
}
