package mastodon

import (
	"net/netip"
	"strings"
)

// ---- Outbound path: proxy and private address check ------------------------------------
//
// Facts from config/initializers/http_client_proxy.rb, app/lib/request.rb and
// app/lib/private_address_check.rb, read at each version named.

// HTTPProxyVar is the variable Mastodon reads its outbound proxy from: lowercase only
// (2.4.0+, PR #7134; HTTP_PROXY and HTTPS_PROXY are not read by Mastodon's Request).
const HTTPProxyVar = "http_proxy"

// HiddenProxyVar is http_hidden_proxy (4.0.0+, PR #18427): a proxy used only for .onion
// and .i2p hosts, never for federation with ordinary instances.
const HiddenProxyVar = "http_hidden_proxy"

// ReadsHTTPProxy reports whether outgoing requests (web and sidekiq) go through
// http_proxy (2.4.0+): scheme http or https, user and password from the URL, an IPv6
// literal host in brackets ("http://[2001:db8::3]:3128").
func (r Release) ReadsHTTPProxy() bool { return r.AtLeast(2, 4, 0) }

// ProxySkipsPrivateCheck reports whether, with http_proxy set, Mastodon leaves the
// private address check to the proxy: requests then use Request::ProxySocket, whose
// check_private_address does nothing ("HTTP proxies will usually be on local
// addresses"; read at 4.7.0, the design since 2.4.0). The proxy resolves the names, so it
// must refuse private destinations itself.
func (r Release) ProxySkipsPrivateCheck() bool { return r.ReadsHTTPProxy() }

// ProxyProcesses names the processes whose outgoing HTTP (federation, link previews,
// media) honours http_proxy: web (puma) and sidekiq. Streaming makes no outgoing HTTP
// requests (only PostgreSQL and Redis; no fetch, http or https client in streaming/ at
// 4.7.0), all versions. It loads .env.production through dotenv as well, so an
// http_proxy line there reaches its environment and is never used.
func (r Release) ProxyProcesses() []string {
	if !r.ReadsHTTPProxy() {
		return nil
	}
	return []string{"web", "sidekiq"}
}

// BlocksLocalUseNAT64 reports whether the private address check also refuses RFC 8215's
// local-use NAT64 prefix 64:ff9b:1::/48, the documentation prefix 3fff::/20 and the
// unspecified address ::/128 (security refactor, commit ec2a99341c: 4.5.10 on the 4.5
// line, 4.6.0 on).
func (r Release) BlocksLocalUseNAT64() bool {
	return r.AtLeast(4, 6, 0) || (r.Version.Line() == V(4, 5, 0).Line() && r.Version.Patch >= 10)
}

// UnmapsIPv4Mapped reports whether the check tests an IPv4-mapped address
// (::ffff:a.b.c.d) as the IPv4 address it carries (4.5.10 / 4.6.0, same refactor).
func (r Release) UnmapsIPv4Mapped() bool { return r.BlocksLocalUseNAT64() }

// UnmapsIPv4Compatible reports whether the check also tests an IPv4-compatible address
// (::a.b.c.d) as IPv4 (4.6.4, GHSA-vwhj-3g83-v276; backports to older lines are not
// modelled).
func (r Release) UnmapsIPv4Compatible() bool { return r.AtLeast(4, 6, 4) }

// BlockedIPv4Prefixes lists the IPv4 prefixes the private address check refuses,
// IPAddr#private?, #loopback? and #link_local? included (2.3.0+: the
// private_address_check gem, in-tree from 4.3.0 with the same list).
func (r Release) BlockedIPv4Prefixes() []string {
	if !r.PrivateAddressCheck() {
		return nil
	}
	return []string{"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32"}
}

// RefusesAddress answers what this release does when a remote name resolves to a and no
// proxy is set: refused is true when the private address check raises
// PrivateNetworkAddressError, with the list entry that matched; an address inside one
// of allowed (ALLOWED_PRIVATE_ADDRESSES, 3.3.0+; ignored before) is accepted. With
// http_proxy set Mastodon makes no such decision (see [Release.ProxySkipsPrivateCheck]).
// Mastodon does not look inside NAT64 addresses: 64:ff9b::10.0.0.1 is refused for being
// in 64:ff9b::/96, and a network-specific prefix in global space passes whatever IPv4
// address it embeds.
func (r Release) RefusesAddress(a netip.Addr, allowed []netip.Prefix) (entry string, refused bool) {
	if !r.PrivateAddressCheck() || !a.IsValid() {
		return "", false
	}
	a = a.WithZone("")
	if r.AllowedPrivateAddresses() {
		for _, p := range allowed {
			if p.Contains(a) || (a.Is4In6() && p.Contains(a.Unmap())) {
				return "", false
			}
		}
	}
	if a.Is4In6() && r.UnmapsIPv4Mapped() {
		a = a.Unmap()
	}
	if a.Is6() && r.UnmapsIPv4Compatible() {
		b := a.As16()
		if [12]byte(b[:12]) == [12]byte{} && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1) {
			a = netip.AddrFrom4([4]byte(b[12:]))
		}
	}
	list := r.BlockedIPv6Prefixes()
	if a.Is4() {
		list = r.BlockedIPv4Prefixes()
	}
	for _, s := range list {
		if netip.MustParsePrefix(s).Contains(a) {
			return s, true
		}
	}
	return "", false
}

// AllowedPrivateAddressesValue formats prefixes the way ALLOWED_PRIVATE_ADDRESSES is
// read: comma separated CIDRs (spaces around commas are accepted only from 4.2.0, so
// none are written).
func AllowedPrivateAddressesValue(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
