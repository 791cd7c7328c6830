package network

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/report"
)

// The outbound path checks (--outbound): which way the host reaches IPv4-only peers
// (outbound.path), reach through the proxy (outbound.proxy; NAT64 reach is
// outbound.reach), and the SSRF side (outbound.ssrf): a private destination asked for
// through the same path must be refused by the gateway, since Mastodon leaves that
// decision to it once the NAT64 prefix is in ALLOWED_PRIVATE_ADDRESSES or http_proxy
// is set. The report tells a working path (all three pass), a missing one
// (outbound.path fails) and an SSRF-open one (outbound.ssrf fails) apart, each with
// the v6-egress command that fixes it.

// DefaultSSRFTarget is the private destination outbound.ssrf asks for when
// Options.SSRFTarget is zero.
var DefaultSSRFTarget = netip.MustParseAddrPort("127.0.0.1:80")

const (
	fixMissing = "an IPv6-only host needs an outbound path to IPv4-only peers: render a NAT64 gateway for a dual-stack box " +
		"(v6-egress nat64 --dns64 GATEWAY-ADDR --clients THIS-PREFIX --lan GATEWAY-LAN) and point resolv.conf at its DNS64, " +
		"or an egress proxy (v6-egress proxy --url http://[PROXY]:3128 --clients THIS-PREFIX) and set http_proxy in .env.production"
	fixNAT64Open = "SSRF-open: the NAT64 translates towards private IPv4, and Mastodon (with the prefix in ALLOWED_PRIVATE_ADDRESSES) will fetch from it " +
		"for any remote actor: refuse non-global IPv4 destinations on the gateway (RFC 6052 section 3.1; v6-egress nat64 renders the nftables rules) " +
		"or remove the prefix from ALLOWED_PRIVATE_ADDRESSES"
	fixProxyOpen = "SSRF-open: the proxy fetched a private destination, and with http_proxy Mastodon checks nothing itself: " +
		"refuse private, loopback, link-local, ULA and NAT64-of-private destinations after resolution (v6-egress proxy renders squid's dst ACLs)"
)

func validateEgress(o Options, ps *report.Problems) {
	if o.Proxy != "" {
		if _, _, err := egress.ParseProxyURL(o.Proxy); err != nil {
			ps.Errorf("proxy", ErrURL, "proxy: %v", err)
		}
	}
	if o.SSRFTarget.IsValid() && (!o.SSRFTarget.Addr().Is4() || o.SSRFTarget.Port() == 0) {
		ps.Errorf("ssrf_target", ErrValue, "ssrf_target %s must be a private IPv4 address and a port, e.g. 192.168.1.1:80", o.SSRFTarget)
	}
}

// egressSteps are the path checks added to the outbound group.
func egressSteps(o Options) []Step {
	v6only := o.Family == V6Only
	if o.Proxy != "" {
		return []Step{
			{ID: "outbound.path", Group: GroupOutbound, Title: "outbound path: egress proxy " + o.Proxy, Required: true},
			{ID: "outbound.proxy", Group: GroupOutbound, Title: "IPv4-only destination " + o.OutboundURL + " through the proxy", Required: true, After: []string{"outbound.path"}},
			{ID: "outbound.ssrf", Group: GroupOutbound, Title: "private destination " + o.ssrfTarget().String() + " refused by the proxy", Required: true, After: []string{"outbound.path"}},
		}
	}
	return []Step{
		{ID: "outbound.path", Group: GroupOutbound, Title: "outbound path to IPv4-only peers (NAT64/DNS64 or http_proxy)", Required: v6only},
		{ID: "outbound.ssrf", Group: GroupOutbound, Title: "private destination " + o.ssrfTarget().String() + " refused by the NAT64", Required: v6only, After: []string{"outbound.dns64"}},
	}
}

func (o Options) ssrfTarget() netip.AddrPort {
	if o.SSRFTarget.IsValid() {
		return o.SSRFTarget
	}
	return DefaultSSRFTarget
}

func egressCheck(id string) func(context.Context, *run, *Check) {
	switch id {
	case "outbound.path":
		return checkPath
	case "outbound.proxy":
		return checkProxyReach
	case "outbound.ssrf":
		return checkSSRF
	}
	return nil
}

// checkPath is outbound.path: which way out this host has.
func checkPath(ctx context.Context, r *run, c *Check) {
	if r.o.Proxy != "" {
		set(c, "path", "proxy")
		c.ok("egress proxy %s (http_proxy): Mastodon %s leaves the private address check to it", r.o.Proxy, r.o.Release)
		return
	}
	rc, err := r.readResolvConf()
	var pfx []netip.Prefix
	if err == nil && len(rc.Nameservers) > 0 {
		pfx = r.dns64Prefixes(ctx, netip.AddrPortFrom(rc.Nameservers[0], 53))
	}
	switch {
	case len(pfx) > 0:
		set(c, "path", "nat64")
		set(c, "prefix", prefixList(pfx))
		c.ok("NAT64/DNS64 through %s", prefixList(pfx))
	case r.o.Family == DualStack:
		set(c, "path", "direct")
		c.ok("direct IPv4 (dual-stack host)")
	default:
		set(c, "path", "none")
		c.fail(fixMissing, "no outbound path: no DNS64 in %s and no http_proxy", r.o.ResolvConf)
	}
}

func (r *run) proxyClient() *http.Client {
	pu, _ := url.Parse(r.o.Proxy)
	tr := &http.Transport{
		Proxy:             http.ProxyURL(pu),
		DialContext:       r.o.Dialer.DialContext,
		TLSClientConfig:   r.tlsConfig(""),
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// checkProxyReach is outbound.proxy: fetch the IPv4-only URL through http_proxy.
func checkProxyReach(ctx context.Context, r *run, c *Check) {
	resp, _, err := r.get(ctx, r.proxyClient(), r.o.OutboundURL, nil)
	if err != nil {
		c.fail("IPv4-only peers unreachable through the proxy: check that it runs, listens on the address in http_proxy and admits this host's prefix",
			"could not fetch %s through %s: %v", r.o.OutboundURL, r.o.Proxy, err)
		return
	}
	set(c, "status", strconv.Itoa(resp.StatusCode))
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusProxyAuthRequired {
		c.fail("the proxy refuses this host or this destination: admit this host's IPv6 prefix (v6-egress proxy --clients) and global destinations on 80/443",
			"%s answered %d for %s", r.o.Proxy, resp.StatusCode, r.o.OutboundURL)
		return
	}
	c.ok("%s answered %d through %s", r.o.OutboundURL, resp.StatusCode, r.o.Proxy)
}

// checkSSRF is outbound.ssrf: the private destination must be refused by the path.
func checkSSRF(ctx context.Context, r *run, c *Check) {
	target := r.o.ssrfTarget()
	set(c, "target", target.String())
	if r.o.Proxy != "" {
		u := "http://" + target.String() + "/"
		resp, _, err := r.get(ctx, r.proxyClient(), u, nil)
		switch {
		case err != nil:
			c.fail("the proxy did not answer: check that it runs and admits this host", "asking %s for %s: %v", r.o.Proxy, u, err)
		case resp.StatusCode == http.StatusForbidden:
			set(c, "status", "403")
			c.ok("%s refused %s (403)", r.o.Proxy, target)
		default:
			// 200 means it fetched; 502/503/504 mean it tried to connect
			set(c, "status", strconv.Itoa(resp.StatusCode))
			c.fail(fixProxyOpen, "%s did not refuse %s: it answered %d (it fetched or tried to)", r.o.Proxy, target, resp.StatusCode)
		}
		return
	}
	r.mu.Lock()
	pfx := append([]netip.Prefix(nil), r.nat64...)
	r.mu.Unlock()
	if len(pfx) == 0 && r.o.Family == DualStack {
		c.ok("no NAT64 on a dual-stack host: IPv4 goes out directly, where Mastodon's own private address check applies")
		return
	}
	if len(pfx) == 0 {
		c.State = NotChecked
		c.Detail = "no NAT64 prefix discovered"
		return
	}
	addr, ok := egress.Synthesize(pfx[0], target.Addr())
	if !ok {
		c.State = NotChecked
		c.Detail = "NAT64 prefix " + pfx[0].String() + " is not an RFC 6052 prefix"
		return
	}
	set(c, "address", addr.String())
	_, mastodonRefuses := r.o.Release.RefusesAddress(addr, r.o.AllowedPrivateAddresses)
	dctx, cancel := context.WithTimeout(ctx, r.o.CheckTimeout/2)
	defer cancel()
	conn, err := r.o.Dialer.DialContext(dctx, "tcp6", netip.AddrPortFrom(addr, target.Port()).String())
	if err == nil {
		conn.Close()
		if mastodonRefuses {
			c.warn("the NAT64 translates towards private IPv4; Mastodon refuses the prefix itself today, but allowing it (ALLOWED_PRIVATE_ADDRESSES) would open SSRF: refuse non-global IPv4 on the gateway first (v6-egress nat64)",
				"connected to %s (%s) through the NAT64", target, addr)
			return
		}
		c.fail(fixNAT64Open, "connected to %s through the NAT64 (%s)", target, addr)
		return
	}
	how := "no answer"
	var op *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		how = "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EACCES):
		how = "unreachable (refused by the gateway)"
	case errors.As(err, &op):
		how = op.Err.Error()
	}
	set(c, "result", how)
	c.ok("%s via %s: %s (to make this conclusive, aim --ssrf-target at a LAN address that answers)", target, addr, how)
}
