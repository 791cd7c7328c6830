package network

import (
	"fmt"
	"net/netip"
	"strings"
)

// AddrSource says which DNS answers a per-address step runs against.
type AddrSource int

const (
	// NoAddr steps run once.
	NoAddr AddrSource = iota
	// EachAAAA steps run once per AAAA address of WEB_DOMAIN, over IPv6.
	EachAAAA
	// EachA steps run once per A address of WEB_DOMAIN, over IPv4.
	EachA
)

// Step is one check of a plan, before it runs.
type Step struct {
	// ID names the check; per-address steps get "@ADDR" appended when they run.
	ID string
	// Group is the layer.
	Group Group
	// Title says what the step checks.
	Title string
	// Required steps must pass for the report to pass.
	Required bool
	// After lists the steps that must pass first; when one does not, this step is
	// Skipped. A per-address step waits for the same address's instance.
	After []string
	// PerAddr says whether the step runs once or once per address.
	PerAddr AddrSource
}

// Plan lists the checks opts calls for, in ladder order, without any I/O. The options are
// validated first; an invalid option is an error listing every problem.
func Plan(opts Options) ([]Step, error) {
	if err := opts.Validate().Err(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	return plan(o), nil
}

func plan(o Options) []Step {
	var s []Step
	add := func(st Step) { s = append(s, st) }
	v6only := o.Family == V6Only
	twoNames := o.WebDomain != o.Domain

	if o.Local {
		add(Step{ID: "host.ipv6-address", Group: GroupHost, Title: "global IPv6 address on an interface", Required: true})
		add(Step{ID: "host.default-route", Group: GroupHost, Title: "IPv6 default route", Required: true})
		add(Step{ID: "host.resolv-conf", Group: GroupHost, Title: "resolver in resolv.conf (read directly by Mastodon)", Required: true})
	}

	add(Step{ID: "dns.aaaa.local", Group: GroupDNS, Title: "AAAA for LOCAL_DOMAIN " + o.Domain, Required: true})
	webAAAA := "dns.aaaa.local"
	if twoNames {
		webAAAA = "dns.aaaa.web"
		add(Step{ID: "dns.aaaa.web", Group: GroupDNS, Title: "AAAA for WEB_DOMAIN " + o.WebDomain, Required: true})
	}
	if v6only {
		add(Step{ID: "dns.a.web", Group: GroupDNS, Title: "no A for " + o.WebDomain + " (IPv6-only site)", Required: true})
	} else {
		add(Step{ID: "dns.a.web", Group: GroupDNS, Title: "A for " + o.WebDomain + " (dual-stack site)", Required: true})
	}
	if o.Local {
		add(Step{ID: "dns.aaaa.host", Group: GroupDNS, Title: "AAAA of " + o.WebDomain + " is this host's address", Required: true,
			After: []string{"host.ipv6-address", webAAAA}})
	}

	wsTitle := "websocket handshake on /api/v1/streaming (HTTP/1.1)"
	if o.StreamingToken != "" {
		wsTitle += " and a subscription round trip with the access token"
	}
	perAddr := func(src AddrSource, dnsStep string) {
		add(Step{ID: "inbound.tcp80", Group: GroupInbound, Title: "TCP port 80 open", Required: true, PerAddr: src, After: []string{dnsStep}})
		add(Step{ID: "inbound.tcp443", Group: GroupInbound, Title: "TCP port 443 open", Required: true, PerAddr: src, After: []string{dnsStep}})
		add(Step{ID: "inbound.tls", Group: GroupInbound, Title: "TLS certificate chain and name verified", Required: true, PerAddr: src, After: []string{"inbound.tcp443"}})
		add(Step{ID: "inbound.redirect", Group: GroupInbound, Title: "http:// answers 301 to https://", Required: true, PerAddr: src, After: []string{"inbound.tcp80"}})
		add(Step{ID: "inbound.hsts", Group: GroupInbound, Title: "Strict-Transport-Security header", PerAddr: src, After: []string{"inbound.tls"}})
		add(Step{ID: "inbound.http2", Group: GroupInbound, Title: "HTTP/2 offered (ALPN h2)", PerAddr: src, After: []string{"inbound.tls"}})
		add(Step{ID: "inbound.health", Group: GroupInbound, Title: "GET /health answers 200", Required: o.Release.HasHealth(), PerAddr: src, After: []string{"inbound.tls"}})
		add(Step{ID: "inbound.websocket", Group: GroupInbound, Title: wsTitle, Required: true, PerAddr: src, After: []string{"inbound.tls"}})
		add(Step{ID: "inbound.instance", Group: GroupInbound, Title: "GET /api/v2/instance (or v1) answers JSON", Required: true, PerAddr: src, After: []string{"inbound.tls"}})
		add(Step{ID: "inbound.webfinger", Group: GroupInbound, Title: "webfinger via LOCAL_DOMAIN " + o.Domain, Required: true, PerAddr: src, After: []string{"inbound.tls"}})
		add(Step{ID: "inbound.host-meta", Group: GroupInbound, Title: "/.well-known/host-meta via LOCAL_DOMAIN", PerAddr: src, After: []string{"inbound.tls"}})
		add(Step{ID: "inbound.nodeinfo", Group: GroupInbound, Title: "/.well-known/nodeinfo via LOCAL_DOMAIN", Required: true, PerAddr: src, After: []string{"inbound.tls"}})
	}
	perAddr(EachAAAA, webAAAA)
	s = append(s, firewallSteps(o)...) // network/firewall.go
	if v6only {
		add(Step{ID: "inbound.ipv4-refused", Group: GroupInbound, Title: "IPv4 clients find no way in (IPv6-only)"})
	} else {
		perAddr(EachA, "dns.a.web")
		add(Step{ID: "inbound.parity", Group: GroupInbound, Title: "IPv4 and IPv6 give the same answers", Required: true, After: []string{webAAAA, "dns.a.web"}})
	}

	if o.Local {
		add(Step{ID: "local.puma", Group: GroupLocal, Title: "puma listens on " + o.WebBind.String(), Required: true})
		add(Step{ID: "local.streaming", Group: GroupLocal, Title: "streaming listens on " + o.StreamingBind.String(), Required: true})
		local := func(kind, title string, addrs []netip.Addr) {
			if len(addrs) == 0 { // the loopbacks: 127.0.0.1 is required on a dual-stack host only
				add(Step{ID: "local." + kind + "@::1", Group: GroupLocal, Title: title + " on [::1]", Required: true})
				add(Step{ID: "local." + kind + "@127.0.0.1", Group: GroupLocal, Title: title + " on 127.0.0.1", Required: !v6only})
				return
			}
			for _, a := range addrs { // the addresses the user named: each one required
				at := a.String()
				if a.Is6() {
					at = "[" + at + "]"
				}
				add(Step{ID: "local." + kind + "@" + a.String(), Group: GroupLocal, Title: title + " on " + at, Required: true})
			}
		}
		local("redis", "Redis PING", o.RedisAddrs)
		local("postgres", "PostgreSQL login", o.PostgresAddrs)
	}

	if o.Outbound && o.Proxy != "" {
		s = append(s, egressSteps(o)...)
	} else if o.Outbound {
		add(Step{ID: "outbound.dns64", Group: GroupOutbound, Title: "NAT64 prefix from resolv.conf's resolver (RFC 7050, ipv4only.arpa)", Required: v6only})
		reachAfter := []string(nil)
		if v6only {
			reachAfter = []string{"outbound.dns64"}
		}
		add(Step{ID: "outbound.reach", Group: GroupOutbound, Title: "IPv4-only destination " + o.OutboundURL, Required: true, After: reachAfter})
		add(Step{ID: "outbound.private", Group: GroupOutbound, Title: "NAT64 prefix allowed by Mastodon " + o.Release.String() + "'s private address check", Required: v6only, After: []string{"outbound.dns64"}})
		s = append(s, egressSteps(o)...)
	}

	add(Step{ID: "mtu.transfer", Group: GroupMTU, Title: "large TLS transfer over IPv6 (path MTU blackhole)", Required: true, PerAddr: EachAAAA, After: []string{"inbound.tcp443"}})
	add(Step{ID: "mtu.icmp", Group: GroupMTU, Title: "ICMPv6 echo of 1500 bytes, don't fragment", PerAddr: EachAAAA, After: []string{webAAAA}})
	return s
}

// String formats a step as one line: "inbound.tls [required] per AAAA after inbound.tcp443".
func (s Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-25s", s.Group, s.ID)
	if s.Required {
		b.WriteString(" required")
	} else {
		b.WriteString(" optional")
	}
	switch s.PerAddr {
	case EachAAAA:
		b.WriteString(" per-AAAA")
	case EachA:
		b.WriteString(" per-A")
	}
	if len(s.After) > 0 {
		b.WriteString(" after ")
		b.WriteString(strings.Join(s.After, ","))
	}
	return b.String()
}
