package egress

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// Proxy is the egress proxy bundle: squid (Debian's squid package) on a dual-stack box
// as the forward proxy Mastodon's http_proxy points at.
//
// Squid, not tinyproxy: with http_proxy set Mastodon skips its own private address
// check and the proxy resolves the names, so the proxy must refuse a destination by the
// address the name resolves to. Squid's dst ACLs do exactly that (for CONNECT too);
// tinyproxy filters only by host name or URL pattern, so a name pointing at 10.0.0.1 or
// ::1 would pass. The zero value of every field but URL and Clients has a default.
type Proxy struct {
	// Release is the Mastodon version behind the proxy (it must read http_proxy, 2.4+).
	// Zero: mastodon.Newest().
	Release mastodon.Release `json:"-"`
	// URL is http_proxy exactly as the Mastodon hosts use it: http://[ADDR]:PORT or
	// http://NAME:PORT, an IPv6 literal in brackets. Required.
	URL string `json:"url"`
	// Listen is where squid listens. Zero: [::]:PORT with URL's port (squid's [::]
	// accepts IPv4 as well).
	Listen netip.AddrPort `json:"listen,omitzero"`
	// Clients are the IPv6 prefixes of the Mastodon hosts, the only sources squid
	// admits. Required.
	Clients []netip.Prefix `json:"clients"`
	// Ports are the destination ports allowed; CONNECT only to 443. Zero: 80 and 443.
	Ports []uint16 `json:"ports,omitempty"`
	// Permit lists destinations allowed although Mastodon's rules refuse them (a lab
	// network, a partner on a private link); each reopens SSRF towards it: a warning.
	Permit []netip.Prefix `json:"permit,omitempty"`
	// NAT64Prefixes are network-specific NAT64 prefixes reachable from the proxy box:
	// their embeddings of every refused IPv4 prefix are refused too. The well-known and
	// local-use prefixes are always refused whole (a dual-stack proxy needs neither).
	NAT64Prefixes []netip.Prefix `json:"nat64_prefixes,omitempty"`
	// Resolvers are squid's dns_nameservers. Empty: the box's resolv.conf.
	Resolvers []netip.Addr `json:"resolvers,omitempty"`
}

// DefaultPorts are the destination ports of a zero [Proxy].
var DefaultPorts = []uint16{80, 443}

// SquidConfPath is where the proxy bundle puts squid's configuration (it replaces
// Debian's; squid -k parse checks it).
const SquidConfPath = "etc/squid/squid.conf"

// ParseProxyURL checks an http_proxy value the way Mastodon's initializer reads it
// (scheme http or https, host, port) and refuses what it would misread: an IPv6
// literal without brackets, a path, credentials (the bundle admits by source prefix),
// a missing port (Mastodon would use 80). It returns the host and port.
func ParseProxyURL(s string) (host string, port uint16, err error) {
	fail := func(format string, a ...any) (string, uint16, error) {
		return "", 0, fmt.Errorf("%w: "+format, append([]any{ErrProxyURL}, a...)...)
	}
	if s == "" {
		return fail("empty")
	}
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "https://"); !ok {
			return fail("%q: the scheme must be http:// (or https:// for a TLS proxy)", s)
		}
	}
	hostport, _, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(hostport, "@"); at >= 0 {
		return fail("%q holds credentials: the proxy admits the Mastodon hosts by address, leave user:password out", s)
	}
	if !strings.HasPrefix(hostport, "[") && strings.Count(hostport, ":") > 1 {
		h := hostport
		if i := strings.LastIndex(h, ":"); i > 0 {
			if a, err := netip.ParseAddr(h[:i]); err == nil {
				return fail("%q: the IPv6 literal needs brackets, e.g. http://[%s]%s", s, a, h[i:])
			}
		}
		if a, err := netip.ParseAddr(h); err == nil {
			return fail("%q: the IPv6 literal needs brackets and a port, e.g. http://[%s]:3128", s, a)
		}
		return fail("%q: an IPv6 literal needs brackets, e.g. http://[2001:db8::3]:3128", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fail("%q: %v", s, err)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return fail("%q: a proxy URL has no path, query or fragment", s)
	}
	h, p := u.Hostname(), u.Port()
	if h == "" {
		return fail("%q has no host", s)
	}
	if p == "" {
		return fail("%q has no port: Mastodon would connect to port 80; write the proxy's port, e.g. :3128", s)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return fail("%q: port %q is not 1-65535", s, p)
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return fail("%q: a zone cannot go into http_proxy; use a global or ULA address", s)
		}
	} else if strings.ContainsAny(h, " \t\"'\\;#{}") {
		return fail("%q: %q is not a host name", s, h)
	}
	return h, uint16(n), nil
}

func (p Proxy) withDefaults() Proxy {
	p.Release = release(p.Release)
	if !p.Listen.IsValid() {
		if _, port, err := ParseProxyURL(p.URL); err == nil {
			p.Listen = netip.AddrPortFrom(netip.IPv6Unspecified(), port)
		}
	}
	if len(p.Ports) == 0 {
		p.Ports = DefaultPorts
	}
	return p
}

// Validate reports every problem at once.
func (p Proxy) Validate() report.Problems {
	var ps report.Problems
	_, port, err := ParseProxyURL(p.URL)
	if err != nil {
		ps.Errorf("url", ErrProxyURL, "%v", err)
	}
	p = p.withDefaults()
	if !p.Release.ReadsHTTPProxy() {
		ps.Errorf("mastodon", ErrRelease, "Mastodon %s does not read http_proxy (2.4.0+): upgrade Mastodon or use the NAT64 path", p.Release)
	}
	if p.Listen.IsValid() && p.Listen.Port() == 0 {
		ps.Errorf("listen", ErrListen, "listen %s has port 0", p.Listen)
	}
	if p.Listen.IsValid() && p.Listen.Addr().Zone() != "" {
		ps.Errorf("listen", ErrListen, "listen %s has a zone; squid listens on an unzoned address", p.Listen)
	}
	if err == nil && p.Listen.IsValid() && p.Listen.Port() != port {
		ps.Errorf("listen", ErrListen, "listen port %d differs from the port %d of url %s: Mastodon would knock on the wrong port", p.Listen.Port(), port, p.URL)
	}
	checkClients(&ps, "clients", p.Clients)
	for i, d := range p.Ports {
		if d == 0 {
			ps.Errorf(idx("ports", i), ErrPorts, "port 0 is not a destination port")
		}
	}
	if !slices.Contains(p.Ports, 443) {
		ps.Warnf("ports", ErrPorts, "ports %v lack 443: federation is HTTPS, Mastodon will reach no peer", p.Ports)
	}
	for i, x := range p.Permit {
		if !x.IsValid() {
			ps.Errorf(idx("permit", i), ErrPermit, "permit %s is not a prefix", x)
			continue
		}
		ps.Warnf(idx("permit", i), ErrPermit, "permit %s: the proxy will fetch from this private destination for Mastodon, so a remote actor can make Mastodon reach it (SSRF); keep it only for a lab or a trusted link", x)
	}
	for i, x := range p.NAT64Prefixes {
		if err := ValidPrefix(x); err != nil {
			ps.Errorf(idx("nat64_prefixes", i), ErrPrefix, "nat64_prefixes %s is not a NAT64 prefix: use an IPv6 prefix of length 32, 40, 48, 56, 64 or 96 (RFC 6052)", x)
		}
	}
	for i, a := range p.Resolvers {
		if !a.IsValid() || a.IsUnspecified() {
			ps.Errorf(idx("resolvers", i), ErrForwarder, "resolver %s is not an address", a)
		}
	}
	return ps
}

// Refused lists the destinations squid refuses: every prefix Mastodon's newest private
// address list refuses (IPv4 and IPv6; squid tests an IPv4-mapped address as the IPv4
// address it carries), and the embedding of every refused IPv4 prefix in each of NAT64Prefixes; prefixes inside
// another are left out.
func (p Proxy) Refused() []netip.Prefix {
	var out []netip.Prefix
	newest := mastodon.Newest()
	for _, s := range append(newest.BlockedIPv4Prefixes(), newest.BlockedIPv6Prefixes()...) {
		out = append(out, netip.MustParsePrefix(s))
	}
	for _, n := range p.NAT64Prefixes {
		for _, v4 := range NonGlobalIPv4() {
			if e, ok := Embed(n, v4); ok {
				out = append(out, e)
			}
		}
	}
	return minimal(out)
}

// minimal drops prefixes contained in an earlier or later one, keeping order.
func minimal(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for i, p := range ps {
		inside := false
		for j, q := range ps {
			if i != j && q.Bits() <= p.Bits() && q.Contains(p.Addr()) && (q.Bits() < p.Bits() || j < i) {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, p)
		}
	}
	return out
}

// Files renders squid.conf. Nothing is rendered when Validate reports an error.
func (p Proxy) Files() ([]File, report.Problems) {
	ps := p.Validate()
	if ps.HasErrors() {
		return nil, ps
	}
	p = p.withDefaults()
	return []File{{Path: SquidConfPath, Data: p.squid(), Mode: 0o644}}, ps
}

func squidList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, x := range ps {
		s[i] = x.Masked().String()
	}
	return strings.Join(s, " ")
}

func (p Proxy) squid() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", Header)
	fmt.Fprintf(&b, "# squid as the egress proxy of the Mastodon hosts %s (http_proxy=%s).\n", prefixList(p.Clients), p.URL)
	b.WriteString("# With http_proxy set Mastodon skips its own private address check: squid refuses, after\n# resolving the name, every destination that check would refuse.\n\n")
	fmt.Fprintf(&b, "http_port %s\n\n", net.JoinHostPort(p.Listen.Addr().String(), strconv.Itoa(int(p.Listen.Port()))))
	fmt.Fprintf(&b, "acl mastodon_hosts src %s\n", squidList(p.Clients))
	ports := make([]string, len(p.Ports))
	for i, x := range p.Ports {
		ports[i] = strconv.Itoa(int(x))
	}
	fmt.Fprintf(&b, "acl federation_ports port %s\n", strings.Join(ports, " "))
	b.WriteString("acl tls_port port 443\nacl CONNECT method CONNECT\n")
	if len(p.Permit) > 0 {
		fmt.Fprintf(&b, "acl permitted dst %s\n", squidList(p.Permit))
	}
	for _, x := range p.Refused() {
		fmt.Fprintf(&b, "acl refused dst %s\n", x)
	}
	b.WriteString("\nhttp_access deny !mastodon_hosts\nhttp_access deny !federation_ports\nhttp_access deny CONNECT !tls_port\n")
	if len(p.Permit) > 0 {
		b.WriteString("http_access allow permitted\n")
	}
	b.WriteString("http_access deny refused\nhttp_access allow mastodon_hosts\nhttp_access deny all\n")
	b.WriteString("http_reply_access allow all\nicp_access deny all\nhtcp_access deny all\n\n")
	b.WriteString("# a relay, not a cache; no headers naming the Mastodon host\ncache deny all\nforwarded_for delete\nhttpd_suppress_version_string on\n")
	if len(p.Resolvers) > 0 {
		s := make([]string, len(p.Resolvers))
		for i, a := range p.Resolvers {
			s[i] = a.String()
		}
		fmt.Fprintf(&b, "dns_nameservers %s\n", strings.Join(s, " "))
	}
	b.WriteString("\npid_filename /run/squid.pid\ncache_log /var/log/squid/cache.log\naccess_log daemon:/var/log/squid/access.log squid\ncoredump_dir /var/spool/squid\n")
	return b.Bytes()
}

// Env returns the .env.production setting the Mastodon hosts need: http_proxy.
func (p Proxy) Env() []EnvVar {
	p = p.withDefaults()
	return []EnvVar{{
		Key:   mastodon.HTTPProxyVar,
		Value: p.URL,
		Comment: []string{
			fmt.Sprintf("Egress proxy for outgoing HTTP, read by %s (lowercase only, Mastodon 2.4+).", strings.Join(p.Release.ProxyProcesses(), " and ")),
			"Streaming loads this file too but makes no HTTP requests (only PostgreSQL and Redis), so the line changes nothing there.",
			"With it set Mastodon skips its own private address check: the proxy refuses private destinations instead.",
		},
	}}
}
