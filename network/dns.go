package network

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ResolvConf is what v6kit reads from a resolv.conf.
type ResolvConf struct {
	// Nameservers in file order (zones kept for link-local addresses).
	Nameservers []netip.Addr
	// Search lists the search domains.
	Search []string
}

// ParseResolvConf reads nameserver and search lines the way glibc and Ruby's Resolv do;
// unknown lines and malformed addresses are ignored (as the resolvers ignore them).
func ParseResolvConf(data []byte) ResolvConf {
	var rc ResolvConf
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil {
				rc.Nameservers = append(rc.Nameservers, a)
			}
		case "search", "domain":
			rc.Search = slices.Clone(f[1:])
		}
	}
	return rc
}

// isWellKnownIPv4 reports whether v4 is an address of ipv4only.arpa (RFC 7050 section
// 2.2): 192.0.0.170 or 192.0.0.171.
func isWellKnownIPv4(v4 [4]byte) bool {
	return v4 == [4]byte{192, 0, 0, 170} || v4 == [4]byte{192, 0, 0, 171}
}

// NAT64Prefixes extracts the NAT64 prefixes from the AAAA answers for ipv4only.arpa
// (RFC 7050 section 3): each answer that embeds 192.0.0.170 or .171 at one of RFC 6052's
// positions (/32, /40, /48, /56, /64, /96) yields a prefix. Duplicates are dropped.
func NAT64Prefixes(answers []netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range answers {
		if !a.Is6() || a.Is4In6() {
			continue
		}
		b := a.As16()
		for _, plen := range []int{96, 64, 56, 48, 40, 32} {
			if v4, ok := ExtractIPv4(b, plen); ok && isWellKnownIPv4(v4) {
				p, err := a.Prefix(plen)
				if err == nil && !slices.Contains(out, p) {
					out = append(out, p)
				}
				break
			}
		}
	}
	return out
}

// ExtractIPv4 returns the IPv4 address embedded in an IPv6 address under an RFC 6052
// prefix of length plen (32, 40, 48, 56, 64 or 96), skipping the "u" octet (bits 64–71).
func ExtractIPv4(b [16]byte, plen int) ([4]byte, bool) {
	var v4 [4]byte
	if plen == 96 {
		copy(v4[:], b[12:16])
		return v4, true
	}
	switch plen {
	case 32, 40, 48, 56, 64:
	default:
		return v4, false
	}
	noU := append(slices.Clone(b[:8]), b[9:]...) // 15 bytes
	copy(v4[:], noU[plen/8:plen/8+4])
	return v4, true
}

// Synthesize embeds v4 into prefix as RFC 6052 does (the u octet stays zero).
func Synthesize(prefix netip.Prefix, v4 netip.Addr) (netip.Addr, bool) {
	plen := prefix.Bits()
	if !prefix.Addr().Is6() || !v4.Is4() {
		return netip.Addr{}, false
	}
	switch plen {
	case 32, 40, 48, 56, 64, 96:
	default:
		return netip.Addr{}, false
	}
	b := prefix.Masked().Addr().As16()
	four := v4.As4()
	if plen == 96 {
		copy(b[12:], four[:])
		return netip.AddrFrom16(b), true
	}
	noU := append(slices.Clone(b[:8]), b[9:]...)
	copy(noU[plen/8:], four[:])
	var out [16]byte
	copy(out[:8], noU[:8])
	copy(out[9:], noU[8:])
	return netip.AddrFrom16(out), true
}

// answer is the result of one DNS query.
type answer struct {
	rcode  int
	addrs  []netip.Addr
	cnames []string
	rtt    time.Duration
}

func (a answer) status() string {
	switch {
	case a.rcode == dns.RcodeNameError:
		return "NXDOMAIN"
	case a.rcode == dns.RcodeSuccess && len(a.addrs) == 0:
		return "NODATA"
	case a.rcode == dns.RcodeSuccess:
		return "NOERROR"
	}
	return dns.RcodeToString[a.rcode]
}

// query asks server for name/qtype over UDP (TCP when truncated), through the Dialer.
func (r *run) query(ctx context.Context, server netip.AddrPort, name string, qtype uint16) (answer, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	var ans answer
	for _, netw := range []string{"udp", "tcp"} {
		conn, err := r.o.Dialer.DialContext(ctx, netw, server.String())
		if err != nil {
			return ans, err
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		c := &dns.Client{Net: netw, UDPSize: 1232, Timeout: time.Until(deadlineOr(ctx, 5*time.Second))}
		resp, rtt, err := c.ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: conn, UDPSize: 1232})
		conn.Close()
		if err != nil {
			return ans, err
		}
		if resp.Truncated && netw == "udp" {
			continue
		}
		ans.rcode = resp.Rcode
		ans.rtt = rtt
		for _, rr := range resp.Answer {
			switch v := rr.(type) {
			case *dns.AAAA:
				if qtype == dns.TypeAAAA {
					if a, ok := netip.AddrFromSlice(v.AAAA); ok {
						ans.addrs = append(ans.addrs, a)
					}
				}
			case *dns.A:
				if qtype == dns.TypeA {
					if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
						ans.addrs = append(ans.addrs, a)
					}
				}
			case *dns.CNAME:
				ans.cnames = append(ans.cnames, strings.TrimSuffix(v.Target, "."))
			}
		}
		return ans, nil
	}
	return ans, fmt.Errorf("truncated answer over TCP")
}

func deadlineOr(ctx context.Context, d time.Duration) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(d)
}

// readResolvConf reads Options.ResolvConf.
func (r *run) readResolvConf() (ResolvConf, error) {
	data, err := os.ReadFile(r.o.ResolvConf)
	if err != nil {
		return ResolvConf{}, err
	}
	return ParseResolvConf(data), nil
}

// dnsServer is the resolver the DNS checks ask: Options.Resolver, or resolv.conf's first.
func (r *run) dnsServer() (netip.AddrPort, string, error) {
	if r.o.Resolver.IsValid() {
		return r.o.Resolver, "--resolver", nil
	}
	rc, err := r.readResolvConf()
	if err != nil {
		return netip.AddrPort{}, "", fmt.Errorf("read %s: %w", r.o.ResolvConf, err)
	}
	if len(rc.Nameservers) == 0 {
		return netip.AddrPort{}, "", fmt.Errorf("%s lists no nameserver", r.o.ResolvConf)
	}
	return netip.AddrPortFrom(rc.Nameservers[0], 53), r.o.ResolvConf, nil
}

// noResolver fails a DNS check that had no resolver to ask (resolv.conf unreadable or
// without a nameserver line): the query failed, which says nothing about the records,
// so the checks that need its answers are skipped and no diagnosis reads "no record".
func (r *run) noResolver(c *Check, err error) {
	set(c, "query", "failed")
	c.fail("list a nameserver in "+r.o.ResolvConf+" (Mastodon reads it directly) or give --resolver ADDR",
		"no resolver to ask, so nothing is known about the records: %v", err)
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

// checkAAAA is dns.aaaa.local and dns.aaaa.web.
func checkAAAA(name string) checkFunc {
	return func(ctx context.Context, r *run, c *Check) {
		srv, from, err := r.dnsServer()
		if err != nil {
			r.noResolver(c, err)
			return
		}
		set(c, "resolver", srv.String())
		// ask for ipv4only.arpa at the same time: a DNS64 resolver's prefix tells a
		// synthesized AAAA from the site's own
		pfxc := make(chan []netip.Prefix, 1)
		go func() { pfxc <- r.dns64Prefixes(ctx, srv) }()
		ans, err := r.query(ctx, srv, name, dns.TypeAAAA)
		if err != nil {
			set(c, "query", "failed")
			hint := "check that the resolver " + srv.String() + " (" + from + ") answers over the network"
			c.fail(hint, "AAAA query for %s to %s failed: %v", name, srv, err)
			return
		}
		set(c, "rcode", ans.status())
		set(c, "rtt_ms", fmt.Sprint(ans.rtt.Milliseconds()))
		if len(ans.cnames) > 0 {
			set(c, "cname", strings.Join(ans.cnames, " "))
		}
		var real, mapped []netip.Addr
		for _, a := range ans.addrs {
			if a.Is4In6() {
				mapped = append(mapped, a)
				continue
			}
			real = append(real, a)
		}
		switch {
		case ans.rcode == dns.RcodeNameError:
			c.fail("create the name "+name+" with an AAAA record pointing at the server's IPv6 address",
				"NXDOMAIN: %s does not exist in DNS", name)
			return
		case ans.rcode != dns.RcodeSuccess:
			c.fail("check the zone's name servers: they answer "+ans.status(), "AAAA query answered %s", ans.status())
			return
		case len(real) == 0 && len(mapped) > 0:
			c.fail("replace the IPv4-mapped AAAA ("+addrList(mapped)+") with the server's real IPv6 address",
				"only IPv4-mapped AAAA records (::ffff:a.b.c.d), which no client can use")
			return
		case len(real) == 0:
			c.fail("add an AAAA record for "+name+" with the server's IPv6 address",
				"NODATA: %s exists but has no AAAA record", name)
			return
		}
		// A DNS64 resolver synthesizes an AAAA for a name that has only an A record: such
		// answers are not the site's own IPv6 address.
		if pfx := <-pfxc; len(pfx) > 0 {
			var own []netip.Addr
			for _, a := range real {
				if !inAny(pfx, a) {
					own = append(own, a)
				}
			}
			if len(own) == 0 {
				set(c, "synthesized", addrList(real))
				c.fail("add an AAAA record for "+name+": the resolver "+srv.String()+" runs DNS64 and invented "+addrList(real)+" from the A record",
					"no AAAA of its own: %s is synthesized by DNS64 inside %s", addrList(real), prefixList(pfx))
				return
			}
			real = own
		}
		set(c, "aaaa", addrList(real))
		r.setAddrs(c.ID, real)
		if len(mapped) > 0 {
			c.warn("remove the IPv4-mapped AAAA records "+addrList(mapped), "AAAA %s (and IPv4-mapped %s)", addrList(real), addrList(mapped))
			return
		}
		c.ok("AAAA %s", addrList(real))
	}
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// dns64Prefixes asks srv for ipv4only.arpa; errors mean "no DNS64 seen".
func (r *run) dns64Prefixes(ctx context.Context, srv netip.AddrPort) []netip.Prefix {
	ans, err := r.query(ctx, srv, "ipv4only.arpa", dns.TypeAAAA)
	if err != nil {
		return nil
	}
	return NAT64Prefixes(ans.addrs)
}

// checkA is dns.a.web: deliberately absent for IPv6-only sites, present for dual-stack.
func checkA(ctx context.Context, r *run, c *Check) {
	name := r.o.WebDomain
	srv, _, err := r.dnsServer()
	if err != nil {
		r.noResolver(c, err)
		return
	}
	ans, err := r.query(ctx, srv, name, dns.TypeA)
	if err != nil {
		set(c, "query", "failed")
		c.fail("check that the resolver "+srv.String()+" answers", "A query for %s to %s failed: %v", name, srv, err)
		return
	}
	set(c, "rcode", ans.status())
	if len(ans.addrs) > 0 {
		set(c, "a", addrList(ans.addrs))
	}
	r.setAddrs(c.ID, ans.addrs)
	v6only := r.o.Family == V6Only
	switch {
	case ans.rcode != dns.RcodeSuccess && ans.rcode != dns.RcodeNameError:
		c.fail("check the zone's name servers", "A query answered %s", ans.status())
	case v6only && len(ans.addrs) == 0:
		c.ok("no A record (%s): deliberately absent, as an IPv6-only site should be", ans.status())
	case v6only:
		c.fail("remove the A record "+addrList(ans.addrs)+" of "+name+" (IPv4 clients would be sent to whatever answers there), or probe with --family dual-stack",
			"A %s present on an IPv6-only site", addrList(ans.addrs))
	case len(ans.addrs) == 0:
		c.fail("add an A record for "+name+" with the server's IPv4 address, or probe with --family ipv6-only",
			"%s: no A record on a dual-stack site", ans.status())
	default:
		c.ok("A %s", addrList(ans.addrs))
	}
}

// checkAAAAHost is dns.aaaa.host: the web AAAA points at this host.
func checkAAAAHost(ctx context.Context, r *run, c *Check) {
	src := "dns.aaaa.local"
	if r.o.WebDomain != r.o.Domain {
		src = "dns.aaaa.web"
	}
	if _, ok := r.result(src); !ok {
		c.State = NotChecked
		return
	}
	if _, ok := r.result("host.ipv6-address"); !ok {
		c.State = NotChecked
		return
	}
	aaaa := r.getAddrs(src)
	r.mu.Lock()
	host := slices.Clone(r.hostAddrs)
	r.mu.Unlock()
	var mine, elsewhere []netip.Addr
	for _, a := range aaaa {
		if slices.Contains(host, a) {
			mine = append(mine, a)
		} else {
			elsewhere = append(elsewhere, a)
		}
	}
	set(c, "host", addrList(host))
	switch {
	case len(elsewhere) == 0:
		c.ok("AAAA %s is this host's", addrList(mine))
	case len(mine) == 0:
		c.fail("point the AAAA of "+r.o.WebDomain+" at this host ("+addrList(host)+") or run the probe on the host that owns "+addrList(elsewhere),
			"AAAA points elsewhere: %s is not on this host (%s)", addrList(elsewhere), addrList(host))
	default:
		c.warn("remove the AAAA records that point elsewhere ("+addrList(elsewhere)+"), or check they reach the same site",
			"AAAA %s is here, %s is not", addrList(mine), addrList(elsewhere))
	}
}

// tcpFamily is the network name for dialing a over TCP with an explicit family.
func tcpFamily(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "tcp4"
	}
	return "tcp6"
}
