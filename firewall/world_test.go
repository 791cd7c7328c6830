package firewall_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"

	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/testenv"
)

const bigBody = 4 << 20

// fwHost serves on the world's host: HTTP on 80, HTTPS on 443 (/big is 4 MiB), and a
// banner on 5432 and 6379 standing in for PostgreSQL and Redis (what is tested is
// whether a connection gets through the filter).
type fwHost struct {
	w   *testenv.FirewallWorld
	tls *tls.Config
}

func startHost(t *testing.T, w *testenv.FirewallWorld) *fwHost {
	big := bytes.Repeat([]byte("v6kit "), bigBody/6+1)[:bigBody]
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write(big) })
	mux.HandleFunc("/", func(rw http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(rw, "hello\n") })
	listen := func(port int) net.Listener {
		l, err := testenv.NetnsListen(w.Host, "tcp", fmt.Sprintf(":%d", port)) // [::] and 0.0.0.0
		require.NoError(t, err)
		return l
	}
	plain := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	l80 := listen(80)
	go func() { _ = plain.Serve(l80) }()
	t.Cleanup(func() { _ = plain.Close() })
	ts := httptest.NewUnstartedServer(mux)
	ts.Listener = listen(443)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the blackhole case stalls handshakes on purpose
	ts.StartTLS()
	t.Cleanup(ts.Close)
	cfg := ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.ServerName = "example.com" // in httptest's certificate
	for _, port := range []int{5432, 6379} {
		l := listen(port)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, "banner\n")
				_ = c.Close()
			}
		}()
		t.Cleanup(func() { _ = l.Close() })
	}
	return &fwHost{w: w, tls: cfg}
}

// get fetches path from the host's address over HTTPS (or HTTP on port 80) from node,
// returning the body's length.
func (h *fwHost) get(node string, addr netip.Addr, port int, path string, timeout time.Duration) (int, error) {
	d := &testenv.NetnsDialer{Name: node}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: h.tls, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: timeout}
	scheme := "https"
	if port == 80 {
		scheme = "http"
	}
	resp, err := c.Get(fmt.Sprintf("%s://%s%s", scheme, netip.AddrPortFrom(addr, uint16(port)), path))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return int(n), err
}

// banner connects from node to addr:port and reads the banner.
func banner(node string, addr netip.Addr, port int) error {
	d := &testenv.NetnsDialer{Name: node, Dialer: net.Dialer{Timeout: 1500 * time.Millisecond}}
	c, err := d.DialContext(context.Background(), "tcp", netip.AddrPortFrom(addr, uint16(port)).String())
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	if err == nil && string(b) != "banner\n" {
		err = fmt.Errorf("read %q", b)
	}
	return err
}

type probe struct {
	name string
	run  func() error
	open bool
}

// expect runs the probes concurrently (a filtered port costs a dial timeout) and checks
// each is open or closed as expected.
func expect(t *testing.T, ps ...probe) {
	t.Helper()
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.run() })
	}
	wg.Wait()
	for i, p := range ps {
		if p.open {
			assert.NoError(t, errs[i], "%s should get through", p.name)
		} else {
			assert.Error(t, errs[i], "%s should be filtered", p.name)
		}
	}
}

func load(t *testing.T, w *testenv.FirewallWorld, nft string, ruleset []byte) {
	t.Helper()
	require.NoError(t, firewall.CheckRuleset(context.Background(), ruleset, firewall.CheckOptions{Nft: nft}))
	f := filepath.Join(t.TempDir(), "mastodon.nft")
	require.NoError(t, os.WriteFile(f, ruleset, 0o644))
	_, err := w.Run(context.Background(), w.Host, nft, "-f", f)
	require.NoError(t, err)
}

// flushNeighbours makes the host and the router forget each other's link-layer address,
// so the next packet between them needs neighbour discovery through the ruleset.
func flushNeighbours(t *testing.T, w *testenv.FirewallWorld) {
	t.Helper()
	_, err := w.Run(context.Background(), w.Host, "ip", "-6", "neigh", "flush", "dev", "up0")
	require.NoError(t, err)
	_, err = w.Run(context.Background(), w.Router, "ip", "-6", "neigh", "flush", "dev", "fwh")
	require.NoError(t, err)
}

// TestWorld loads the rendered ruleset on the IPv6-only host of a namespace world with
// a 1280-MTU hop and checks that the open ports are open, the internal ones closed to
// the client and open to the app prefix, that path MTU discovery works (and fails when
// a variant drops Packet Too Big), that NDP and the default route survive a reload
// (the route learned from the router's advertisements, as on a SLAAC host; without the
// ND rule it expires and the router cannot resolve the host), that a DHCPv6 server's
// link-local reply gets in (and not without the DHCPv6 rule), and that the dual-stack
// variant filters IPv4 the same way.
func TestWorld(t *testing.T) {
	testenv.RequireRoot(t)
	nft := testenv.Tool(t, "nft", "nftables")
	w := testenv.NewFirewallWorld(t)
	h := startHost(t, w)
	app := []netip.Prefix{w.AppNet}
	c := firewall.Config{Services: firewall.Mastodon(app), SSH: firewall.SSH{From: []netip.Prefix{w.AppNet}}}
	ruleset, err := c.Bytes()
	require.NoError(t, err)

	// Before any filter: a big transfer crosses the 1280 hop (PMTU works without a filter).
	_, err = h.get(w.Client, w.HostAddr, 443, "/", 5*time.Second)
	require.NoError(t, err, "the world routes")

	load(t, w, nft, ruleset)
	get := func(node string, a netip.Addr, port int) func() error {
		return func() error { _, err := h.get(node, a, port, "/", 4*time.Second); return err }
	}
	bn := func(node string, a netip.Addr, port int) func() error {
		return func() error { return banner(node, a, port) }
	}
	t.Run("v6only", func(t *testing.T) {
		expect(t,
			probe{"client→[host]:80", get(w.Client, w.HostAddr, 80), true},
			probe{"client→[host]:443", get(w.Client, w.HostAddr, 443), true},
			probe{"client→[host]:5432", bn(w.Client, w.HostAddr, 5432), false},
			probe{"client→[host]:6379", bn(w.Client, w.HostAddr, 6379), false},
			probe{"app→[host]:5432", bn(w.App, w.HostAddr, 5432), true},
			probe{"app→[host]:6379", bn(w.App, w.HostAddr, 6379), true},
			probe{"client→host:443 over IPv4 (v6only)", get(w.Client, w.HostAddr4, 443), false},
			probe{"app→host:5432 over IPv4 (v6only)", bn(w.App, w.HostAddr4, 5432), false},
		)
	})

	t.Run("pmtu", func(t *testing.T) {
		w.FlushPMTU()
		n, err := h.get(w.Client, w.HostAddr, 443, "/big", 15*time.Second)
		require.NoError(t, err, "large TLS transfer across the 1280 hop with the ruleset loaded")
		assert.Equal(t, bigBody, n)
		out, err := w.Run(context.Background(), w.Host, "ip", "-6", "route", "get", w.ClientAddr.String())
		require.NoError(t, err)
		assert.Contains(t, out, "mtu 1280", "the host learned the path MTU from Packet Too Big")
	})

	t.Run("blackhole", func(t *testing.T) {
		// the variant an over-eager admin writes: Packet Too Big dropped before anything
		variant := bytes.Replace(ruleset, []byte("\t\tiif \"lo\" accept"),
			[]byte("\t\ticmpv6 type packet-too-big drop comment \"the mistake\"\n\t\tiif \"lo\" accept"), 1)
		require.NotEqual(t, ruleset, variant)
		load(t, w, nft, variant)
		t.Cleanup(func() { load(t, w, nft, ruleset) })
		w.FlushPMTU()
		_, err := h.get(w.Client, w.HostAddr, 80, "/", 3*time.Second)
		require.NoError(t, err, "small responses still fit (plain HTTP: even the TLS handshake's certificate is too big)")
		_, err = h.get(w.Client, w.HostAddr, 443, "/big", 3*time.Second)
		require.Error(t, err, "with Packet Too Big dropped the large transfer must stall (PMTU blackhole)")
	})

	t.Run("reload", func(t *testing.T) {
		ctx := context.Background()
		routes := func() string {
			out, err := w.Run(ctx, w.Host, "ip", "-6", "route", "show", "default")
			require.NoError(t, err)
			return out
		}
		before := routes()
		require.Contains(t, before, "default via")
		load(t, w, nft, ruleset) // nft -f again
		load(t, w, nft, ruleset)
		assert.Equal(t, before, routes(), "the default route survives the reload")
		out, err := w.Run(ctx, w.Host, nft, "list", "tables")
		require.NoError(t, err)
		assert.Equal(t, 1, strings.Count(out, "table inet v6kit"), "one table after reloads:\n%s", out)
		// neighbour discovery works under the filter: forget the router, then talk again
		flushNeighbours(t, w)
		w.FlushPMTU()
		n, err := h.get(w.Client, w.HostAddr, 443, "/big", 15*time.Second)
		require.NoError(t, err, "after the reload and a neighbour flush")
		assert.Equal(t, bigBody, n)
		out, err = w.Run(ctx, w.Host, "ip", "-6", "neigh", "show", "dev", "up0")
		require.NoError(t, err)
		assert.Regexp(t, `fd6e:7465:7374:f2::1 .*(REACHABLE|STALE|DELAY|PROBE)`, out, "NDP resolved the router")
	})

	t.Run("ra", func(t *testing.T) {
		// A SLAAC host learns its default route from the router's advertisements, and
		// its router's link-layer address from neighbour discovery: both must get through
		// the ruleset, across reloads, and stop when the ND rule is left out.
		ctx := context.Background()
		const lifetime = 3 // seconds of router lifetime in each advertisement
		require.NoError(t, testenv.NetnsSysctl(w.Host, "net.ipv6.conf.up0.accept_ra=1"))
		_, err := w.Run(ctx, w.Host, "ip", "-6", "route", "del", "default")
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = testenv.NetnsSysctl(w.Host, "net.ipv6.conf.up0.accept_ra=0")
			_, _ = w.Run(ctx, w.Host, "ip", "-6", "route", "replace", "default", "via", "fd6e:7465:7374:f2::1")
		})
		stop := sendRAs(t, w.Router, "fwh", lifetime)
		t.Cleanup(stop)
		// the route the host uses towards the client (an expired route may still be
		// listed until the kernel's garbage collection, but is never used)
		raRoute := func() string {
			out, _ := w.Run(ctx, w.Host, "ip", "-6", "route", "get", w.ClientAddr.String())
			return out
		}
		waitRoute := func(want bool, within time.Duration) bool {
			for end := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
				if got := strings.Contains(raRoute(), " via fe80::"); got == want || time.Now().After(end) {
					return got == want
				}
			}
		}
		require.True(t, waitRoute(true, 5*time.Second), "the host learns its default route from the router's advertisements")

		load(t, w, nft, ruleset)
		load(t, w, nft, ruleset)
		time.Sleep((lifetime + 1) * time.Second) // past the lifetime: only fresh advertisements keep it
		assert.Contains(t, raRoute(), " via fe80::", "the advertised default route survives the ruleset and its reload")
		flushNeighbours(t, w)
		w.FlushPMTU()
		n, err := h.get(w.Client, w.HostAddr, 443, "/big", 15*time.Second)
		require.NoError(t, err, "over the advertised route, after a neighbour flush, with the ruleset loaded")
		assert.Equal(t, bigBody, n)

		// the negative case: the same ruleset without its neighbour discovery rule
		nd := regexp.MustCompile(`(?m)^\t\tip6 hoplimit 255 icmpv6 type .*\n`)
		require.True(t, nd.Match(ruleset), "the ruleset has the ND rule")
		noND := nd.ReplaceAll(ruleset, nil)
		load(t, w, nft, noND)
		t.Cleanup(func() { load(t, w, nft, ruleset) })
		flushNeighbours(t, w)
		_, err = h.get(w.Client, w.HostAddr, 80, "/", 3*time.Second)
		assert.Error(t, err, "without the ND rule the router cannot resolve the host after a neighbour flush")
		assert.True(t, waitRoute(false, (lifetime+3)*time.Second), "without the ND rule the advertisements are dropped and the default route expires:\n%s", raRoute())

		load(t, w, nft, ruleset)
		assert.True(t, waitRoute(true, 5*time.Second), "with the ruleset back the next advertisement restores the route")
	})

	t.Run("dhcpv6", func(t *testing.T) {
		// A DHCPv6 server's reply comes from its link-local address to the client's port
		// 546: conntrack never saw that pair (the request went to ff02::1:2), so only the
		// ruleset's DHCPv6 rule lets it in; without it a DHCPv6 host loses its address.
		ll := func(ns, dev string) (netip.Addr, int) {
			var a netip.Addr
			var idx int
			require.NoError(t, testenv.NetnsDo(ns, func() error {
				ifi, err := net.InterfaceByName(dev)
				if err != nil {
					return err
				}
				idx = ifi.Index
				addrs, err := ifi.Addrs()
				for _, x := range addrs {
					if p, perr := netip.ParsePrefix(x.String()); perr == nil && p.Addr().IsLinkLocalUnicast() {
						a = p.Addr()
					}
				}
				return err
			}))
			require.True(t, a.IsValid(), "%s has a link-local address on %s", ns, dev)
			return a, idx
		}
		hostLL, _ := ll(w.Host, "up0")
		routerLL, ridx := ll(w.Router, "fwh")
		client, err := (&testenv.NetnsDialer{Name: w.Host}).ListenPacket(context.Background(), "udp6", "[::]:546")
		require.NoError(t, err)
		defer client.Close()
		server, err := (&testenv.NetnsDialer{Name: w.Router}).ListenPacket(context.Background(), "udp6",
			net.JoinHostPort(routerLL.String()+"%"+strconv.Itoa(ridx), "547"))
		require.NoError(t, err)
		defer server.Close()
		to := &net.UDPAddr{IP: hostLL.AsSlice(), Port: 546, Zone: strconv.Itoa(ridx)}
		reply := func() error {
			if _, err := server.WriteTo([]byte("\x07dhcpv6 reply"), to); err != nil {
				return err
			}
			_ = client.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 64)
			n, _, err := client.ReadFrom(buf)
			if err == nil && string(buf[:n]) != "\x07dhcpv6 reply" {
				err = fmt.Errorf("read %q", buf[:n])
			}
			return err
		}
		require.NoError(t, reply(), "the ruleset lets the server's link-local reply reach port 546")

		rule := regexp.MustCompile(`(?m)^\t\tip6 saddr fe80::/10 ip6 daddr fe80::/10 udp sport 547 udp dport 546 accept .*\n`)
		require.True(t, rule.Match(ruleset), "the ruleset has the DHCPv6 rule")
		load(t, w, nft, rule.ReplaceAll(ruleset, nil))
		t.Cleanup(func() { load(t, w, nft, ruleset) })
		assert.Error(t, reply(), "without the DHCPv6 rule the reply is dropped")
	})

	t.Run("dual", func(t *testing.T) {
		d := c
		d.Family = firewall.DualStack
		d.Services = firewall.Mastodon([]netip.Prefix{w.AppNet, w.AppNet4})
		dual, err := d.Bytes()
		require.NoError(t, err)
		load(t, w, nft, dual)
		t.Cleanup(func() { load(t, w, nft, ruleset) })
		expect(t,
			probe{"client→host:80", get(w.Client, w.HostAddr4, 80), true},
			probe{"client→host:443", get(w.Client, w.HostAddr4, 443), true},
			probe{"client→host:5432", bn(w.Client, w.HostAddr4, 5432), false},
			probe{"client→host:6379", bn(w.Client, w.HostAddr4, 6379), false},
			probe{"app→host:5432", bn(w.App, w.HostAddr4, 5432), true},
			probe{"app→host:6379", bn(w.App, w.HostAddr4, 6379), true},
			probe{"client→[host]:443", get(w.Client, w.HostAddr, 443), true},
			probe{"client→[host]:5432", bn(w.Client, w.HostAddr, 5432), false},
			probe{"app→[host]:5432", bn(w.App, w.HostAddr, 5432), true},
		)
		w.FlushPMTU()
		n, err := h.get(w.Client, w.HostAddr4, 443, "/big", 15*time.Second)
		require.NoError(t, err, "large IPv4 transfer across the 1280 hop (fragmentation needed accepted)")
		assert.Equal(t, bigBody, n)
	})
}

// sendRAs advertises the router of namespace ns on its interface dev every 500 ms, as
// radvd would: an ICMPv6 Router Advertisement to ff02::1 from the link-local address
// with hop limit 255 and the given router lifetime (no prefix: the host's addresses are
// static, only its default route is learned). The returned func stops it.
func sendRAs(t *testing.T, ns, dev string, lifetime uint16) (stop func()) {
	t.Helper()
	var idx int
	require.NoError(t, testenv.NetnsDo(ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err == nil {
			idx = ifi.Index
		}
		return err
	}))
	d := &testenv.NetnsDialer{Name: ns}
	pc, err := d.ListenPacket(context.Background(), "ip6:ipv6-icmp", "::")
	require.NoError(t, err)
	p := ipv6.NewPacketConn(pc)
	// cur hop limit 64, no flags, router lifetime, reachable time and retrans timer unset
	body := []byte{64, 0, byte(lifetime >> 8), byte(lifetime), 0, 0, 0, 0, 0, 0, 0, 0}
	ra, err := (&icmp.Message{Type: ipv6.ICMPTypeRouterAdvertisement, Body: &icmp.RawBody{Data: body}}).Marshal(nil)
	require.NoError(t, err)
	cm := &ipv6.ControlMessage{HopLimit: 255, IfIndex: idx}
	dst := &net.IPAddr{IP: net.ParseIP("ff02::1")}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := p.WriteTo(ra, cm, dst); err != nil {
				t.Logf("send RA: %v", err)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			_ = pc.Close()
		})
	}
}
