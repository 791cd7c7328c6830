package egress_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
)

// installTree writes files under root with every absolute path in them that names a
// file of the host (/etc/…, /var/…, /run/…) moved under root, so a daemon in a
// namespace runs the rendered configuration without touching the real host.
func installTree(t *testing.T, root string, files []egress.File) {
	t.Helper()
	moved := make([]egress.File, len(files))
	for i, f := range files {
		moved[i] = f
		moved[i].Data = []byte(rootPaths(root, string(f.Data)))
	}
	_, err := egress.WriteDir(root, moved)
	require.NoError(t, err)
}

func rootPaths(root, s string) string {
	for _, d := range []string{"/etc/", "/var/", "/run/"} {
		s = strings.ReplaceAll(s, " "+d, " "+root+d)
	}
	return s
}

// mastodonClient fetches the way Mastodon's Request does without a proxy: it resolves
// the name with the resolv.conf's first nameserver (AAAA and A), applies the release's
// private address check with ALLOWED_PRIVATE_ADDRESSES, then connects, all from node.
// A refused address gives a PrivateNetworkAddressError.
type mastodonClient struct {
	w       *testenv.EgressWorld
	rel     mastodon.Release
	allowed []netip.Prefix
	proxy   *url.URL
}

type privateNetworkAddressError struct {
	addr  netip.Addr
	entry string
}

func (e privateNetworkAddressError) Error() string {
	return fmt.Sprintf("Mastodon::PrivateNetworkAddressError: %s (inside %s)", e.addr, e.entry)
}

func (m mastodonClient) resolver() *net.Resolver {
	d := m.w.Dialer(m.w.Host)
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		b, err := os.ReadFile(m.w.ResolvConfPath(m.w.Host))
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "nameserver" {
				return d.DialContext(ctx, network, net.JoinHostPort(f[1], "53"))
			}
		}
		return nil, errors.New("no nameserver in the Mastodon host's resolv.conf")
	}}
}

func (m mastodonClient) get(ctx context.Context, rawURL string) (*http.Response, []byte, error) {
	d := m.w.Dialer(m.w.Host)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: m.w.RootCAs},
		DisableKeepAlives: true,
	}
	if m.proxy != nil && m.rel.ReadsHTTPProxy() {
		// with http_proxy Mastodon connects to the proxy and checks nothing itself
		tr.Proxy = http.ProxyURL(m.proxy)
		tr.DialContext = d.DialContext
	} else {
		tr.DialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			ips, err := m.resolver().LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, err
			}
			var last error = errors.New("no address")
			for _, ip := range ips {
				ip = ip.Unmap()
				if entry, refused := m.rel.RefusesAddress(ip, m.allowed); refused {
					last = privateNetworkAddressError{ip, entry}
					continue
				}
				c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		}
	}
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/jrd+json, application/activity+json")
	resp, err := cl.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// follow is the federation "follow" lookup: webfinger, then the actor it links.
func follow(ctx context.Context, t *testing.T, m mastodonClient) {
	t.Helper()
	resp, body, err := m.get(ctx, m.w.WebfingerURL())
	require.NoError(t, err, "webfinger of the IPv4-only peer")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var jrd struct {
		Subject string
		Links   []struct{ Rel, Type, Href string }
	}
	require.NoError(t, json.Unmarshal(body, &jrd))
	require.Equal(t, "acct:"+m.w.Account, jrd.Subject)
	require.Len(t, jrd.Links, 1)
	resp, body, err = m.get(ctx, jrd.Links[0].Href)
	require.NoError(t, err, "actor of the IPv4-only peer")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"type":"Person"`)
}

func parseAllowed(t *testing.T, vars []egress.EnvVar) []netip.Prefix {
	t.Helper()
	for _, v := range vars {
		if v.Key == "ALLOWED_PRIVATE_ADDRESSES" {
			ps, err := envfile.ParsePrefixes(v.Value)
			require.NoError(t, err)
			return ps
		}
	}
	return nil
}

func run(t *testing.T, ns string, argv ...string) {
	t.Helper()
	out, err := testenv.NetnsCommand(context.Background(), ns, argv[0], argv[1:]...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(argv, " "), out)
}

// TestWorldNAT64 renders the NAT64 bundle, runs it on the gateway (the unit's own
// commands, TAYGA, nftables, unbound with the DNS64 drop-in) and fetches from the
// IPv6-only host as Mastodon would.
func TestWorldNAT64(t *testing.T) {
	testenv.WorldTools(t)
	testenv.Tool(t, "nft", "nftables")
	w := testenv.NewEgressWorld(t)
	rel := mastodon.Newest()
	n := egress.NAT64{
		Release: rel,
		Prefix:  netip.MustParsePrefix("fd65:6772:6573:64::/96"), // a network-specific prefix (ULA: Mastodon refuses it)
		DNS64:   []netip.Addr{w.GatewayAddr},
		Clients: []netip.Prefix{w.HostPrefix},
		WAN:     w.WANDev,
		LAN:     []netip.Prefix{w.LANPrefix},
		// the world's "internet" is TEST-NET-3, non-global itself: the peer is permitted
		Permit:     []netip.Prefix{netip.PrefixFrom(w.PeerAddr, 32), netip.PrefixFrom(w.DNS.Addr(), 32)},
		Forwarders: []netip.AddrPort{w.DNS},
	}
	files, ps := n.Files()
	require.NoError(t, ps.Err())
	root := filepath.Join(w.Dir, "gateway")
	installTree(t, root, files)

	pre, start := n.UnitCommands()
	for _, c := range pre {
		for i := range c {
			c[i] = rootPaths(root, " "+c[i])[1:]
		}
		run(t, w.Gateway, c...)
	}
	for i := range start {
		start[i] = rootPaths(root, " "+start[i])[1:]
	}
	testenv.Start(t, testenv.NetnsCommand(context.Background(), w.Gateway, start[0], start[1:]...), 0)
	t.Cleanup(func() {
		_ = testenv.NetnsCommand(context.Background(), w.Gateway, "tayga", "--config", filepath.Join(root, egress.TaygaConfPath), "--rmtun").Run()
	})

	wrapper := filepath.Join(root, "unbound-test.conf")
	require.NoError(t, os.WriteFile(wrapper, []byte(fmt.Sprintf("server:\n\tusername: \"\"\n\tchroot: \"\"\n\tdirectory: %q\n\tpidfile: %q\n\tdo-daemonize: no\n\tuse-syslog: no\n\tlogfile: \"\"\n\tnum-threads: 1\n\tcache-max-ttl: 0\ninclude: %q\n",
		root, filepath.Join(root, "unbound.pid"), filepath.Join(root, egress.UnboundConfPath))), 0o644))
	out, err := exec.Command("unbound-checkconf", wrapper).CombinedOutput()
	require.NoError(t, err, "unbound-checkconf: %s", out)
	testenv.Start(t, testenv.NetnsCommand(context.Background(), w.Gateway, "unbound", "-d", "-c", wrapper), 0)
	w.SetResolvConf(w.Host, string(n.ResolvConf()))

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	allowed := parseAllowed(t, n.Env())
	require.Equal(t, []netip.Prefix{n.Prefix}, allowed, "the bundle allows exactly the prefix")
	m := mastodonClient{w: w, rel: rel, allowed: allowed}
	waitResolver(ctx, t, m)

	t.Run("follow", func(t *testing.T) { follow(ctx, t, m) })
	t.Run("lan-refused-by-gateway", func(t *testing.T) {
		for _, u := range []string{"http://" + w.LANName + "/", "https://" + w.LANName + "/"} {
			_, _, err := m.get(ctx, u)
			require.Error(t, err, u)
			assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "%s: want the gateway's TCP reset, got %v", u, err)
		}
		// and by literal: the NAT64 address of the gateway's own LAN address
		own, _ := egress.Synthesize(n.Prefix, w.GatewayLAN)
		_, _, err := m.get(ctx, "http://["+own.String()+"]/")
		assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "gateway's own LAN address: %v", err)
		assert.Zero(t, w.LANHits(), "a request reached the LAN host")
	})
	t.Run("mastodon-rules", func(t *testing.T) {
		// without ALLOWED_PRIVATE_ADDRESSES, Mastodon refuses the peer's NAT64 address itself
		bare := mastodonClient{w: w, rel: rel}
		_, _, err := bare.get(ctx, w.WebfingerURL())
		var pe privateNetworkAddressError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "fc00::/7", pe.entry)
		assert.True(t, n.Prefix.Contains(pe.addr))
		// with it, Mastodon lets the LAN host's NAT64 address through: the gateway refuses it
		ips, err := m.resolver().LookupNetIP(ctx, "ip6", w.LANName)
		require.NoError(t, err)
		require.Len(t, ips, 1)
		_, refused := rel.RefusesAddress(ips[0], allowed)
		assert.False(t, refused, "Mastodon does not look inside the NAT64 prefix")
		assert.Zero(t, w.LANHits())
	})
	t.Run("mastodon-rules-per-release", func(t *testing.T) {
		// each release's answer through the running gateway, with what the bundle renders
		// for it: no check before 2.3 (nothing to allow), no ALLOWED_PRIVATE_ADDRESSES
		// before 3.3 (the bundle refuses to render), then the prefix and only the prefix
		followed := 0
		for _, c := range []struct {
			version string
			render  bool // the bundle renders for this release
			allow   bool // and writes ALLOWED_PRIVATE_ADDRESSES
		}{{"2.2", true, false}, {"3.2", false, false}, {"3.3", true, true}, {"4.2", true, true}, {"4.3", true, true},
			{"4.5.9", true, true}, {"4.5.10", true, true}, {"4.6", true, true}, {rel.Version.String(), true, true}} {
			r := mastodon.MustLookup(c.version)
			nr := n
			nr.Release = r
			_, ps := nr.Files()
			if !c.render {
				require.Error(t, ps.Err(), c.version)
				assert.ErrorIs(t, ps.Err(), egress.ErrRelease, c.version)
				continue
			}
			require.NoError(t, ps.Err(), c.version)
			allow := parseAllowed(t, nr.Env())
			if c.allow {
				assert.Equal(t, []netip.Prefix{n.Prefix}, allow, c.version)
			} else {
				assert.Empty(t, allow, c.version)
			}
			t.Run(c.version, func(t *testing.T) {
				m := mastodonClient{w: w, rel: r, allowed: allow}
				follow(ctx, t, m)
				followed++
				if c.allow {
					_, _, err := mastodonClient{w: w, rel: r}.get(ctx, w.WebfingerURL())
					var pe privateNetworkAddressError
					require.ErrorAs(t, err, &pe, "without the line the release refuses the peer itself")
					assert.Equal(t, "fc00::/7", pe.entry)
				}
				_, _, err := m.get(ctx, "http://"+w.LANName+"/")
				assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "the gateway refuses the LAN for Mastodon %s: %v", r, err)
			})
		}
		assert.Equal(t, 8, followed)
		assert.Zero(t, w.LANHits())
	})
	t.Run("probe-working-path", func(t *testing.T) {
		rep := probe(ctx, t, w, network.Options{Release: rel, AllowedPrivateAddresses: allowed})
		c := requireCheck(t, rep, "outbound.path", network.OK, "")
		assert.Equal(t, "nat64", c.Values["path"])
		requireCheck(t, rep, "outbound.reach", network.OK, "")
		requireCheck(t, rep, "outbound.private", network.OK, "")
		c = requireCheck(t, rep, "outbound.ssrf", network.OK, "")
		assert.Equal(t, "connection refused", c.Values["result"])
		assert.Zero(t, w.LANHits())
	})
	t.Run("probe-prefix-not-allowed", func(t *testing.T) {
		rep := probe(ctx, t, w, network.Options{Release: rel})
		requireCheck(t, rep, "outbound.private", network.Fail, "ALLOWED_PRIVATE_ADDRESSES="+n.Prefix.String())
	})
	t.Run("control-without-the-filter", func(t *testing.T) {
		// the rendered forward chain is what refused the LAN: without it the LAN answers
		run(t, w.Gateway, "nft", "delete", "chain", "ip", "v6kit_nat64", "forward")
		resp, body, err := m.get(ctx, "http://"+w.LANName+"/")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, string(body), "intranet secret")
		assert.EqualValues(t, 1, w.LANHits())

		// and the probe calls that SSRF-open, with its fix
		rep := probe(ctx, t, w, network.Options{Release: rel, AllowedPrivateAddresses: allowed})
		requireCheck(t, rep, "outbound.path", network.OK, "")
		requireCheck(t, rep, "outbound.ssrf", network.Fail, "SSRF-open")
	})
}

// probe runs v6-probe's outbound group from the Mastodon host's namespace.
func probe(ctx context.Context, t *testing.T, w *testenv.EgressWorld, o network.Options) *network.Report {
	t.Helper()
	o.Domain = "social." + w.Zone
	o.Outbound = true
	o.OutboundURL = w.WebfingerURL()
	o.ResolvConf = w.ResolvConfPath(w.Host)
	o.RootCAs = w.RootCAs
	o.Dialer = w.Dialer(w.Host)
	o.CheckTimeout = 3 * time.Second
	if !o.SSRFTarget.IsValid() {
		o.SSRFTarget = netip.AddrPortFrom(w.LANAddr, 80)
	}
	rep, err := network.Probe(ctx, o)
	require.NoError(t, err)
	return rep
}

func requireCheck(t *testing.T, rep *network.Report, id string, state network.State, hint string) network.Check {
	t.Helper()
	c, ok := rep.Find(id)
	require.True(t, ok, "no check %s", id)
	require.Equal(t, state, c.State, "%s: %s (hint: %s)", id, c.Detail, c.Hint)
	if hint != "" {
		assert.Contains(t, c.Hint, hint, id)
	}
	return c
}

func waitResolver(ctx context.Context, t *testing.T, m mastodonClient) {
	t.Helper()
	var err error
	for ctx.Err() == nil {
		if _, err = m.resolver().LookupNetIP(ctx, "ip6", m.w.PeerName); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("DNS64 on the gateway does not answer: %v", err)
}

// TestWorldProxy renders the proxy bundle, runs squid with it on the gateway and
// fetches from the IPv6-only host through http_proxy as Mastodon would.
func TestWorldProxy(t *testing.T) {
	testenv.RequireRoot(t)
	squid := testenv.Tool(t, "squid", "squid")
	w := testenv.NewEgressWorld(t)
	rel := mastodon.Newest()
	p := egress.Proxy{
		Release:   rel,
		URL:       "http://[" + w.GatewayAddr.String() + "]:3128",
		Clients:   []netip.Prefix{w.HostPrefix},
		Resolvers: []netip.Addr{w.DNS.Addr()},
		// the world's "internet" is TEST-NET-3, which Mastodon's list refuses: the peer is permitted
		Permit: []netip.Prefix{netip.PrefixFrom(w.PeerAddr, 32)},
	}
	files, ps := p.Files()
	require.NoError(t, ps.Err())
	root := filepath.Join(w.Dir, "gateway")
	installTree(t, root, files)
	for _, d := range []string{"var/log/squid", "var/spool/squid", "run"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		require.NoError(t, exec.Command("chown", "proxy:proxy", filepath.Join(root, d)).Run())
	}
	conf := filepath.Join(root, egress.SquidConfPath)
	out, err := exec.Command(squid, "-k", "parse", "-f", conf).CombinedOutput()
	require.NoError(t, err, "squid -k parse: %s", out)
	proc := testenv.Start(t, testenv.NetnsCommand(context.Background(), w.Gateway, squid, "-N", "-f", conf), syscall.SIGINT)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	pu, err := url.Parse(p.URL)
	require.NoError(t, err)
	require.NoError(t, testenv.WaitTCPWith(ctx, w.Dialer(w.Host).DialContext, proc, pu.Host))
	vars := p.Env()
	require.Len(t, vars, 1)
	require.Equal(t, "http_proxy", vars[0].Key)
	m := mastodonClient{w: w, rel: rel, proxy: pu}

	t.Run("follow", func(t *testing.T) { follow(ctx, t, m) })
	t.Run("lan-refused-by-gateway", func(t *testing.T) {
		resp, _, err := m.get(ctx, "http://"+w.LANName+"/")
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "squid refuses the LAN host by its resolved address")
		_, _, err = m.get(ctx, "https://"+w.LANName+"/")
		require.Error(t, err, "CONNECT to the LAN host")
		assert.Contains(t, err.Error(), "Forbidden")
		resp, _, err = m.get(ctx, "http://["+w.GatewayAddr.String()+"]:3128/")
		if err == nil {
			assert.NotEqual(t, http.StatusOK, resp.StatusCode)
		}
		resp, _, err = m.get(ctx, "http://127.0.0.1/")
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "loopback")
		assert.Zero(t, w.LANHits(), "a request reached the LAN host")
	})
	t.Run("mastodon-rules", func(t *testing.T) {
		// with http_proxy Mastodon does not check: the answer is the proxy's
		assert.True(t, rel.ProxySkipsPrivateCheck())
		// without a proxy (and no NAT64) the IPv6-only host cannot reach the peer at all
		direct := mastodonClient{w: w, rel: rel}
		w.SetResolvConf(w.Host, "nameserver "+w.GatewayAddr.String()+"\n")
		_, _, err := direct.get(ctx, w.WebfingerURL())
		assert.Error(t, err)
	})
	t.Run("mastodon-rules-per-release", func(t *testing.T) {
		// 2.3 reads no http_proxy: the bundle refuses to render; from 2.4 every release
		// goes through squid and leaves the refusal to it
		followed := 0
		for _, v := range []string{"2.3", "2.4", "3.3", "4.2", "4.5.9", "4.6", rel.Version.String()} {
			r := mastodon.MustLookup(v)
			pr := p
			pr.Release = r
			_, ps := pr.Files()
			if !r.ReadsHTTPProxy() {
				assert.ErrorIs(t, ps.Err(), egress.ErrRelease, v)
				continue
			}
			require.NoError(t, ps.Err(), v)
			vars := pr.Env()
			require.Len(t, vars, 1, v)
			require.Equal(t, mastodon.HTTPProxyVar, vars[0].Key, v)
			vu, err := url.Parse(vars[0].Value)
			require.NoError(t, err)
			t.Run(v, func(t *testing.T) {
				m := mastodonClient{w: w, rel: r, proxy: vu}
				follow(ctx, t, m)
				followed++
				resp, _, err := m.get(ctx, "http://"+w.LANName+"/")
				require.NoError(t, err)
				assert.Equal(t, http.StatusForbidden, resp.StatusCode, "squid refuses the LAN for Mastodon %s", r)
			})
		}
		assert.Equal(t, 6, followed)
		assert.Zero(t, w.LANHits())
	})
	t.Run("probe-working-path", func(t *testing.T) {
		rep := probe(ctx, t, w, network.Options{Release: rel, Proxy: p.URL})
		c := requireCheck(t, rep, "outbound.path", network.OK, "")
		assert.Equal(t, "proxy", c.Values["path"])
		requireCheck(t, rep, "outbound.proxy", network.OK, "")
		requireCheck(t, rep, "outbound.ssrf", network.OK, "")
		_, hasNAT64 := rep.Find("outbound.dns64")
		assert.False(t, hasNAT64, "with a proxy the NAT64 checks do not apply")
		assert.Zero(t, w.LANHits())
	})
	t.Run("probe-missing-path", func(t *testing.T) {
		w.SetResolvConf(w.Host, "nameserver "+w.GatewayAddr.String()+"\n") // no DNS64 there
		rep := probe(ctx, t, w, network.Options{Release: rel})
		c := requireCheck(t, rep, "outbound.path", network.Fail, "v6-egress nat64")
		assert.Contains(t, c.Hint, "v6-egress proxy")
		assert.Equal(t, "none", c.Values["path"])
	})
	t.Run("probe-ssrf-open", func(t *testing.T) {
		// a proxy told to permit the LAN (a careless Permit): the probe calls it SSRF-open
		open := p
		open.URL = "http://[" + w.GatewayAddr.String() + "]:3129"
		open.Permit = append(open.Permit, w.LANPrefix)
		files, ps := open.Files()
		require.NoError(t, ps.Err())
		root2 := filepath.Join(w.Dir, "gateway-open")
		installTree(t, root2, files)
		for _, d := range []string{"var/log/squid", "var/spool/squid", "run"} {
			require.NoError(t, os.MkdirAll(filepath.Join(root2, d), 0o755))
			require.NoError(t, exec.Command("chown", "proxy:proxy", filepath.Join(root2, d)).Run())
		}
		proc := testenv.Start(t, testenv.NetnsCommand(context.Background(), w.Gateway, squid, "-N", "-f", filepath.Join(root2, egress.SquidConfPath)), syscall.SIGINT)
		ou, _ := url.Parse(open.URL)
		require.NoError(t, testenv.WaitTCPWith(ctx, w.Dialer(w.Host).DialContext, proc, ou.Host))
		rep := probe(ctx, t, w, network.Options{Release: rel, Proxy: open.URL})
		requireCheck(t, rep, "outbound.proxy", network.OK, "")
		c := requireCheck(t, rep, "outbound.ssrf", network.Fail, "SSRF-open")
		assert.Equal(t, "200", c.Values["status"])
		assert.EqualValues(t, 1, w.LANHits(), "the open proxy fetched the LAN host")
	})
}
