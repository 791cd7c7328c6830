package network

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// checkDNS64 is outbound.dns64: RFC 7050 discovery through resolv.conf's resolver, the
// one Mastodon's own HTTP client uses.
func checkDNS64(ctx context.Context, r *run, c *Check) {
	rc, err := r.readResolvConf()
	if err != nil || len(rc.Nameservers) == 0 {
		c.fail("list a DNS64 resolver in "+r.o.ResolvConf, "no nameserver in %s (%v)", r.o.ResolvConf, err)
		return
	}
	r.mu.Lock()
	r.resolvers = nil
	for _, a := range rc.Nameservers {
		r.resolvers = append(r.resolvers, netip.AddrPortFrom(a, 53))
	}
	r.mu.Unlock()
	srv := netip.AddrPortFrom(rc.Nameservers[0], 53)
	set(c, "resolv_conf", srv.Addr().String())
	pfx := r.dns64Prefixes(ctx, srv)
	var other []netip.Prefix
	if r.o.Resolver.IsValid() && r.o.Resolver != srv {
		other = r.dns64Prefixes(ctx, r.o.Resolver)
		if len(other) > 0 {
			set(c, "prefix_via_resolver", prefixList(other))
		}
	}
	if len(pfx) > 0 {
		r.mu.Lock()
		r.nat64 = pfx
		r.mu.Unlock()
		set(c, "prefix", prefixList(pfx))
		c.ok("NAT64 prefix %s (ipv4only.arpa synthesized by %s)", prefixList(pfx), srv.Addr())
		return
	}
	switch {
	case r.o.Family == DualStack:
		c.State = OK
		c.Detail = "no DNS64 on " + srv.Addr().String() + ": not needed on a dual-stack host (IPv4-only peers are reached over IPv4)"
	case len(other) > 0:
		c.fail("DNS64 not in resolv.conf: point "+r.o.ResolvConf+" at the DNS64 resolver "+r.o.Resolver.Addr().String()+
			" (Mastodon reads resolv.conf directly; /etc/hosts, nscd and systemd-resolved per-link DNS do not apply)",
			"%s (from %s) gives no NAT64 prefix, but %s synthesizes %s", srv.Addr(), r.o.ResolvConf, r.o.Resolver.Addr(), prefixList(other))
	default:
		c.fail("no NAT64/DNS64: an IPv6-only host cannot reach IPv4-only peers without them; use a DNS64 resolver in "+r.o.ResolvConf+
			" and a NAT64 gateway (your provider's, a public NAT64/DNS64 service, or tayga/jool on a dual-stack router)",
			"%s does not synthesize AAAA for ipv4only.arpa: no DNS64 on the path", srv.Addr())
	}
}

// checkReach is outbound.reach: fetch an IPv4-only URL as Mastodon would.
func checkReach(ctx context.Context, r *run, c *Check) {
	u, _ := url.Parse(r.o.OutboundURL)
	host := u.Hostname()
	r.mu.Lock()
	servers := append([]netip.AddrPort(nil), r.resolvers...)
	pfx := append([]netip.Prefix(nil), r.nat64...)
	r.mu.Unlock()
	if len(servers) == 0 {
		rc, err := r.readResolvConf()
		if err != nil || len(rc.Nameservers) == 0 {
			c.fail("list a resolver in "+r.o.ResolvConf, "no nameserver in %s", r.o.ResolvConf)
			return
		}
		servers = []netip.AddrPort{netip.AddrPortFrom(rc.Nameservers[0], 53)}
	}
	var targets []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		targets = []netip.Addr{a}
	} else {
		qtypes := []uint16{dns.TypeAAAA}
		if r.o.Family == DualStack {
			qtypes = []uint16{dns.TypeA, dns.TypeAAAA}
		}
		for _, qt := range qtypes {
			ans, err := r.query(ctx, servers[0], host, qt)
			if err == nil {
				targets = append(targets, ans.addrs...)
			}
		}
	}
	if len(targets) == 0 {
		c.fail("IPv4-only peers unreachable: "+host+" has no address this host can use; fix DNS64 (see outbound.dns64)",
			"no usable address for %s from %s", host, servers[0].Addr())
		return
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	var errs []string
	for _, a := range targets {
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return r.o.Dialer.DialContext(ctx, tcpFamily(a), netip.AddrPortFrom(a, mustPort(port)).String())
			},
			TLSClientConfig:   r.tlsConfig(host),
			DisableKeepAlives: true,
		}
		cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, _, err := r.get(ctx, cl, r.o.OutboundURL, nil)
		if err != nil {
			errs = append(errs, a.String()+": "+err.Error())
			continue
		}
		set(c, "address", a.String())
		set(c, "status", strconv.Itoa(resp.StatusCode))
		via := "directly"
		if inAny(pfx, a) {
			via = "through NAT64 prefix " + prefixList(pfx)
		}
		c.ok("%s answered %d via %s (%s)", host, resp.StatusCode, a, via)
		return
	}
	set(c, "tried", addrList(targets))
	hint := "IPv4-only peers unreachable: "
	switch {
	case len(pfx) > 0 && inAny(pfx, targets[0]):
		hint += "DNS64 gives " + targets[0].String() + " but nothing translates it: the NAT64 gateway for " + prefixList(pfx) + " is down, not routed, or refuses this destination"
	default:
		hint += "no NAT64 path to " + host
	}
	c.fail(hint, "could not fetch %s: %s", r.o.OutboundURL, strings.Join(errs, "; "))
}

func mustPort(s string) uint16 {
	n, _ := strconv.Atoi(s)
	return uint16(n)
}

// Blocked reports whether Mastodon rel's private address check refuses addresses in
// prefix p, given ALLOWED_PRIVATE_ADDRESSES allowed; it returns the blocking list entry.
func Blocked(blocked []string, allowed []netip.Prefix, p netip.Prefix) (string, bool) {
	for _, a := range allowed {
		if a.Bits() <= p.Bits() && a.Contains(p.Addr()) {
			return "", false
		}
	}
	for _, s := range blocked {
		b, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if b.Overlaps(p) {
			return s, true
		}
	}
	return "", false
}

// checkPrivate is outbound.private: Mastodon's SSRF guard against the NAT64 prefix.
func checkPrivate(ctx context.Context, r *run, c *Check) {
	r.mu.Lock()
	pfx := append([]netip.Prefix(nil), r.nat64...)
	r.mu.Unlock()
	if len(pfx) == 0 {
		c.State = NotChecked
		c.Detail = "no NAT64 prefix discovered"
		return
	}
	rel := r.o.Release
	if !rel.PrivateAddressCheck() {
		c.ok("Mastodon %s has no private address check", rel)
		return
	}
	var blocked []string
	for _, p := range pfx {
		if entry, ok := Blocked(rel.BlockedIPv6Prefixes(), r.o.AllowedPrivateAddresses, p); ok {
			blocked = append(blocked, p.String()+" (inside "+entry+")")
		}
	}
	if len(blocked) == 0 {
		set(c, "allowed", prefixList(r.o.AllowedPrivateAddresses))
		c.ok("Mastodon %s will connect to %s", rel, prefixList(pfx))
		return
	}
	set(c, "blocked", strings.Join(blocked, " "))
	if !rel.AllowedPrivateAddresses() {
		c.fail("upgrade Mastodon to ≥3.3 (ALLOWED_PRIVATE_ADDRESSES), or use a NAT64 prefix in global unicast space",
			"Mastodon %s refuses %s as private and cannot be told otherwise", rel, strings.Join(blocked, ", "))
		return
	}
	c.fail("prefix blocked by Mastodon: set ALLOWED_PRIVATE_ADDRESSES="+prefixList(pfx)+" in .env.production (read by web and sidekiq) and restart both. "+
		"Trade-off: Mastodon will then also fetch "+pfx[0].String()+" addresses that embed private IPv4 (SSRF towards your IPv4 LAN) unless the NAT64 refuses non-global IPv4 (RFC 6052 section 3.1)",
		"Mastodon %s's private address check refuses %s: IPv4-only peers will fail with PrivateNetworkAddressError", rel, strings.Join(blocked, ", "))
}
