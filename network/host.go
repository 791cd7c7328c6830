package network

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Route is one line of /proc/net/ipv6_route.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr
	Metric  uint32
	Flags   uint32
	Dev     string
}

// rtfReject marks an unreachable/blackhole/prohibit route.
const rtfReject = 0x0200

// ParseIPv6Routes parses the kernel's /proc/net/ipv6_route; malformed lines are skipped.
func ParseIPv6Routes(data []byte) []Route {
	var out []Route
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 10 {
			continue
		}
		dst, ok1 := hexAddr(f[0])
		plen, err1 := strconv.ParseUint(f[1], 16, 8)
		gw, ok2 := hexAddr(f[4])
		metric, err2 := strconv.ParseUint(f[5], 16, 32)
		flags, err3 := strconv.ParseUint(f[8], 16, 32)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil || plen > 128 {
			continue
		}
		p, err := dst.Prefix(int(plen))
		if err != nil {
			continue
		}
		out = append(out, Route{Dst: p, Gateway: gw, Metric: uint32(metric), Flags: uint32(flags), Dev: f[9]})
	}
	return out
}

func hexAddr(s string) (netip.Addr, bool) {
	if len(s) != 32 {
		return netip.Addr{}, false
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(b)), true
}

// DefaultRoutes returns the usable IPv6 default routes (::/0, not reject, not on lo).
func DefaultRoutes(rs []Route) []Route {
	var out []Route
	for _, r := range rs {
		if r.Dst.Bits() == 0 && r.Flags&rtfReject == 0 && r.Dev != "lo" {
			out = append(out, r)
		}
	}
	return out
}

// checkHostAddrs is host.ipv6-address.
func checkHostAddrs(ctx context.Context, r *run, c *Check) {
	ifs, err := net.Interfaces()
	if err != nil {
		c.fail("", "cannot list interfaces: %v", err)
		return
	}
	var global, ula []netip.Addr
	var all []netip.Addr
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok || !ip.Is6() || ip.Is4In6() || !ip.IsGlobalUnicast() {
				continue
			}
			all = append(all, ip)
			if ip.IsPrivate() {
				ula = append(ula, ip)
			} else {
				global = append(global, ip)
			}
		}
	}
	r.mu.Lock()
	r.hostAddrs = all
	r.mu.Unlock()
	set(c, "addresses", addrList(all))
	switch {
	case len(global) > 0:
		c.ok("global IPv6 %s", addrList(global))
	case len(ula) > 0:
		c.warn("unique local addresses (fc00::/7) are not reachable from the Internet: give the server a global IPv6 address",
			"only unique local IPv6 %s", addrList(ula))
	default:
		c.fail("configure a global IPv6 address (SLAAC, DHCPv6 or a static address from your provider's /64)",
			"no global IPv6 address on any interface")
	}
}

// checkDefaultRoute is host.default-route.
func checkDefaultRoute(ctx context.Context, r *run, c *Check) {
	data, err := os.ReadFile("/proc/net/ipv6_route")
	if err != nil {
		c.fail("IPv6 is disabled in the kernel (ipv6.disable=1?); enable it", "cannot read /proc/net/ipv6_route: %v", err)
		return
	}
	def := DefaultRoutes(ParseIPv6Routes(data))
	if len(def) == 0 {
		c.fail("add an IPv6 default route (ip -6 route add default via GATEWAY dev IFACE), or accept router advertisements",
			"no IPv6 default route")
		return
	}
	var s []string
	for _, d := range def {
		if d.Gateway.IsUnspecified() {
			s = append(s, "dev "+d.Dev)
		} else {
			s = append(s, "via "+d.Gateway.String()+" dev "+d.Dev)
		}
	}
	set(c, "routes", strings.Join(s, "; "))
	c.ok("default %s", strings.Join(s, "; "))
}

// checkResolvConf is host.resolv-conf: the resolver Mastodon's HTTP client reads directly.
func checkResolvConf(ctx context.Context, r *run, c *Check) {
	rc, err := r.readResolvConf()
	if err != nil {
		c.fail("create "+r.o.ResolvConf+" with a nameserver line", "cannot read %s: %v", r.o.ResolvConf, err)
		return
	}
	set(c, "nameservers", addrList(rc.Nameservers))
	if r.o.Release.ReadsEtcHosts() {
		set(c, "etc_hosts", "honoured by Mastodon "+r.o.Release.String())
	} else {
		set(c, "etc_hosts", "ignored by Mastodon "+r.o.Release.String()+" (from 2.7 to 4.5 its resolver reads resolv.conf only)")
	}
	if len(rc.Nameservers) == 0 {
		c.fail("add a nameserver line to "+r.o.ResolvConf+": Mastodon reads it directly (NSS, nscd and /etc/hosts do not apply from 2.7 to 4.5)",
			"%s lists no nameserver", r.o.ResolvConf)
		return
	}
	var usable []netip.Addr
	for _, a := range rc.Nameservers {
		if r.o.Family == V6Only && a.Is4() && !a.IsLoopback() {
			continue
		}
		usable = append(usable, a)
	}
	if len(usable) == 0 {
		c.fail("an IPv6-only host cannot reach the IPv4 nameservers "+addrList(rc.Nameservers)+": list an IPv6 (ideally DNS64) resolver in "+r.o.ResolvConf,
			"only IPv4 nameservers: %s", addrList(rc.Nameservers))
		return
	}
	srv := netip.AddrPortFrom(usable[0], 53)
	ans, err := r.query(ctx, srv, r.o.Domain, dns.TypeAAAA)
	if err != nil {
		c.fail("start the resolver "+srv.String()+" or list a working one first in "+r.o.ResolvConf,
			"nameserver %s does not answer: %v", srv, err)
		return
	}
	set(c, "answer", ans.status())
	c.ok("nameserver %s answers (%s for %s)", usable[0], ans.status(), r.o.Domain)
}
