package network

import (
	"net/netip"
	"strings"
)

// checkFor returns the implementation of a plan step.
func checkFor(id string) checkFunc {
	// local.redis@ADDR and local.postgres@ADDR: the addresses Options name (or loopback).
	if a, ok := strings.CutPrefix(id, "local.redis@"); ok {
		if addr, err := netip.ParseAddr(a); err == nil {
			return checkRedis(addr)
		}
	}
	if a, ok := strings.CutPrefix(id, "local.postgres@"); ok {
		if addr, err := netip.ParseAddr(a); err == nil {
			return checkPostgres(addr)
		}
	}
	switch id {
	case "host.ipv6-address":
		return checkHostAddrs
	case "host.default-route":
		return checkDefaultRoute
	case "host.resolv-conf":
		return checkResolvConf
	case "dns.aaaa.local":
		return func(ctx ctxT, r *run, c *Check) { checkAAAA(r.o.Domain)(ctx, r, c) }
	case "dns.aaaa.web":
		return func(ctx ctxT, r *run, c *Check) { checkAAAA(r.o.WebDomain)(ctx, r, c) }
	case "dns.a.web":
		return checkA
	case "dns.aaaa.host":
		return checkAAAAHost
	case "inbound.tcp80":
		return checkTCP(func(o Options) uint16 { return o.HTTPPort })
	case "inbound.tcp443":
		return checkTCP(func(o Options) uint16 { return o.HTTPSPort })
	case "inbound.tls":
		return checkTLS
	case "inbound.redirect":
		return checkRedirect
	case "inbound.hsts":
		return checkHSTS
	case "inbound.http2":
		return checkHTTP2
	case "inbound.health":
		return checkHealth
	case "inbound.websocket":
		return checkWebsocket
	case "inbound.instance":
		return checkInstance
	case "inbound.webfinger":
		return checkWellKnown("webfinger")
	case "inbound.host-meta":
		return checkWellKnown("host-meta")
	case "inbound.nodeinfo":
		return checkWellKnown("nodeinfo")
	case "inbound.ipv4-refused":
		return checkIPv4Refused
	case "inbound.parity":
		return checkParity
	case "local.puma":
		return checkListen("mastodon-web", "puma needs BIND=[::] (or ::1) and PORT in its unit", "/health",
			func(o Options) bool { return o.Release.HasHealth() }, func(o Options) netip.AddrPort { return o.WebBind })
	case "local.streaming":
		return checkListen("mastodon-streaming", "streaming needs BIND=:: (or ::1) and PORT in its unit", "/api/v1/streaming/health",
			func(o Options) bool { return o.Release.AtLeast(2, 9, 0) }, func(o Options) netip.AddrPort { return o.StreamingBind })
	case "outbound.dns64":
		return checkDNS64
	case "outbound.reach":
		return checkReach
	case "outbound.private":
		return checkPrivate
	case "outbound.path", "outbound.proxy", "outbound.ssrf":
		return egressCheck(id)
	case "mtu.transfer":
		return checkTransfer
	case "mtu.icmp":
		return checkICMP
	}
	return firewallCheckFor(id) // network/firewall.go
}
