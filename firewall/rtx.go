package firewall

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/report"
)

// RTX describes the Yamaha RTX router in front of the host, for [Config.RouterACL].
type RTX struct {
	// Host is the host's global IPv6 address, the destination of the pass rules.
	Host netip.Addr `json:"host"`
	// Interface is the WAN interface the filters apply to ("lan2", "bridge1"), when
	// Tunnel is zero. Zero: "lan2".
	Interface string `json:"interface,omitempty"`
	// Tunnel, when set, applies the filters to that tunnel (`tunnel select N`, then
	// `ipv6 tunnel secure filter …`), as the origin story's IPv6 over IPoE tunnel did.
	Tunnel int `json:"tunnel,omitempty"`
	// Numbers is the range the ACL's filter numbers are taken from. Zero: 40000-40099.
	Numbers Range `json:"numbers"`
	// Existing are the filter numbers already configured on the router; Numbers must not
	// overlap any of them.
	Existing []Range `json:"existing,omitempty"`
	// KeepIn and KeepOut are the filter numbers already on the interface's
	// `secure filter in` and `out` lines. A secure filter line replaces the whole list,
	// so they are written after the ACL's own numbers. Each must lie outside Numbers.
	KeepIn  []int `json:"keep_in,omitempty"`
	KeepOut []int `json:"keep_out,omitempty"`
}

// Range is an inclusive range of RTX filter numbers.
type Range struct {
	First int `json:"first"`
	Last  int `json:"last"`
}

// DefaultNumbers is the range a zero [RTX.Numbers] means.
var defaultNumbers = Range{First: 40000, Last: 40099}

// MaxFilter is the largest RTX filter number v6kit accepts. RTX configurations use
// numbers far above 65535 (Yamaha's IPv6 IPoE sample has filters 101000-101099), so
// the limit is the signed 32-bit one; a router whose firmware takes fewer refuses the
// line when it is entered.
const MaxFilter = 2147483647

// String writes "FIRST-LAST".
func (r Range) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// Overlaps reports whether the ranges share a number.
func (r Range) Overlaps(o Range) bool { return r.First <= o.Last && o.First <= r.Last }

// Contains reports whether n lies in the range.
func (r Range) Contains(n int) bool { return r.First <= n && n <= r.Last }

// ParseRange reads "FIRST-LAST" or a single number "N" (N-N).
func ParseRange(s string) (Range, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		b = a
	}
	first, err1 := strconv.Atoi(a)
	last, err2 := strconv.Atoi(b)
	r := Range{First: first, Last: last}
	if err1 != nil || err2 != nil || !r.valid() {
		return Range{}, fmt.Errorf("%w: %q: write FIRST-LAST inside 1-%d, e.g. 40000-40099", ErrRange, s, MaxFilter)
	}
	return r, nil
}

func (r Range) valid() bool { return r.First >= 1 && r.First <= r.Last && r.Last <= MaxFilter }

func (x RTX) numbers() Range {
	if x.Numbers == (Range{}) {
		return defaultNumbers
	}
	return x.Numbers
}

func (x RTX) iface() string {
	if x.Interface == "" {
		return "lan2"
	}
	return x.Interface
}

var ifaceRE = regexp.MustCompile(`^(lan|bridge)[0-9]{1,2}$`)

func (x RTX) validate(c Config) report.Problems {
	var ps report.Problems
	h := x.Host
	if !h.IsValid() || !h.Is6() || h.Is4In6() || h.Zone() != "" || h.IsUnspecified() || h.IsLoopback() || h.IsLinkLocalUnicast() || h.IsMulticast() {
		ps.Errorf("host", ErrHost, "host address %q: give the host's global (or ULA) IPv6 address, e.g. 2001:db8::10", h.String())
	}
	if x.Tunnel != 0 && x.Interface != "" {
		ps.Errorf("interface", ErrInterface, "both interface %q and tunnel %d are set: the filters apply to one of them", x.Interface, x.Tunnel)
	}
	if x.Tunnel < 0 || x.Tunnel > 3000 {
		ps.Errorf("tunnel", ErrInterface, "tunnel %d: use the tunnel's number (1-3000) from `tunnel select N`", x.Tunnel)
	}
	if x.Interface != "" && !ifaceRE.MatchString(x.Interface) {
		ps.Errorf("interface", ErrInterface, "interface %q: use an RTX interface name such as lan2 or bridge1 (or set tunnel)", x.Interface)
	}
	ours := x.numbers()
	if !ours.valid() {
		ps.Errorf("numbers", ErrRange, "range %s: give FIRST-LAST with 1 <= FIRST <= LAST <= %d", ours, MaxFilter)
		return ps
	}
	for i, e := range x.Existing {
		p := fmt.Sprintf("existing[%d]", i)
		switch {
		case !e.valid():
			ps.Errorf(p, ErrRange, "range %s: give FIRST-LAST with 1 <= FIRST <= LAST <= %d", e, MaxFilter)
		case e.Overlaps(ours):
			ps.Errorf("numbers", ErrRange, "range %s overlaps the existing filters %s: pick numbers the router does not use yet", ours, e)
		}
	}
	for name, keep := range map[string][]int{"keep_in": x.KeepIn, "keep_out": x.KeepOut} {
		for i, n := range keep {
			if n < 1 || n > MaxFilter || ours.Contains(n) {
				ps.Errorf(fmt.Sprintf("%s[%d]", name, i), ErrRange, "filter %d: keep only numbers of existing filters (1-%d), outside %s", n, MaxFilter, ours)
			}
		}
	}
	if need := c.routerRules(); need > ours.Last-ours.First+1 {
		ps.Errorf("numbers", ErrRange, "range %s holds %d filters but the ACL needs %d: widen it", ours, ours.Last-ours.First+1, need)
	}
	return ps
}

// ACL is a Yamaha RTX IPv6 filter configuration: numbered static filters, dynamic
// (stateful) filters and the secure filter lines that apply them. [ACL.Write] prints it
// and [ParseACL] reads the same syntax back.
type ACL struct {
	Filters []Filter  `json:"filters"`
	Dynamic []Dynamic `json:"dynamic,omitempty"`
	Apply   []Apply   `json:"apply"`
}

// Filter is `ipv6 filter NUM ACTION SRC DST PROTO SRCPORT DSTPORT`. For ICMPv6
// (Proto "icmp6") SrcPort holds the ICMP type and DstPort the code, as RTX reads them.
type Filter struct {
	Num    int    `json:"num"`
	Action string `json:"action"`
	// Src and Dst are prefixes; the zero Prefix is `*` and a /128 prints as an address.
	Src, Dst netip.Prefix
	// Proto is "*", tcp, udp, icmp6, a protocol number, or a comma list of them.
	Proto string `json:"proto"`
	// SrcPort and DstPort are "*", a port, a service name (www, https), a range
	// ("1024-65535") or a comma list.
	SrcPort string `json:"src_port"`
	DstPort string `json:"dst_port"`
}

// Dynamic is `ipv6 filter dynamic NUM SRC DST PROTO`: RTX tracks the connections it
// matches and lets their replies through.
type Dynamic struct {
	Num      int `json:"num"`
	Src, Dst netip.Prefix
	// Proto is tcp, udp or one of RTX's application names (domain, www, ftp, …).
	Proto string `json:"proto"`
	// Syslog is the line's syslog=on|off option as read, or "" (not written).
	Syslog string `json:"syslog,omitempty"`
}

// Apply is `ipv6 IFACE secure filter DIR STATIC… [dynamic DYNAMIC…]`, or with Tunnel
// set `tunnel select N` then `ipv6 tunnel secure filter DIR …`.
type Apply struct {
	Interface string `json:"interface,omitempty"`
	Tunnel    int    `json:"tunnel,omitempty"`
	// Dir is "in" or "out".
	Dir     string `json:"dir"`
	Static  []int  `json:"static"`
	Dynamic []int  `json:"dynamic,omitempty"`
}

// routerRules counts the filter numbers RouterACL takes.
func (c Config) routerRules() int {
	a := c.buildACL(Range{First: 1, Last: MaxFilter})
	return len(a.Filters) + len(a.Dynamic)
}

// ICMPv6 types the router passes: errors 1-4 and neighbour discovery 133-136 to anyone
// (ND is link-scoped), echo 128/129 to the host.
var rtxICMPAny = []string{"1", "2", "3", "4", "133", "134", "135", "136"}

// RouterACL validates the config and returns the router ACL for [Config.Router]: the
// ICMPv6 RFC 4890 needs, one pass filter per service port and source prefix to the
// host (IPv4 prefixes are left to the router's `ip filter`s), a reject of everything
// else to the host, a static pass out from the host with dynamic tcp and udp filters
// for the host's own connections, and the secure filter lines.
func (c Config) RouterACL() (ACL, error) {
	if c.Router == nil {
		return ACL{}, fmt.Errorf("%w: set Config.Router", ErrHost)
	}
	if err := c.Validate().Err(); err != nil {
		return ACL{}, err
	}
	return c.buildACL(c.Router.numbers()), nil
}

func (c Config) buildACL(r Range) ACL {
	var x RTX
	if c.Router != nil {
		x = *c.Router
	}
	host := netip.Prefix{}
	if x.Host.IsValid() {
		host = netip.PrefixFrom(x.Host, x.Host.BitLen())
	}
	var a ACL
	n := r.First
	var in []int
	add := func(f Filter) {
		f.Num = n
		n++
		a.Filters = append(a.Filters, f)
		in = append(in, f.Num)
	}
	for _, t := range rtxICMPAny[:4] {
		add(Filter{Action: "pass", Proto: "icmp6", SrcPort: t, DstPort: "*"})
	}
	for _, t := range []string{"128", "129"} {
		add(Filter{Action: "pass", Dst: host, Proto: "icmp6", SrcPort: t, DstPort: "*"})
	}
	for _, t := range rtxICMPAny[4:] {
		add(Filter{Action: "pass", Proto: "icmp6", SrcPort: t, DstPort: "*"})
	}
	svc := func(proto Proto, ports []uint16, from []netip.Prefix, public bool) {
		srcs := []netip.Prefix{{}}
		if !public {
			srcs = nil
			for _, p := range from {
				if p.Addr().Is6() {
					srcs = append(srcs, p)
				}
			}
		}
		for _, port := range ports {
			for _, s := range srcs {
				add(Filter{Action: "pass", Src: s, Dst: host, Proto: proto.String(), SrcPort: "*", DstPort: strconv.Itoa(int(port))})
			}
		}
	}
	for _, s := range c.Services {
		svc(s.Proto, s.Ports, s.From, s.Public)
	}
	if !c.SSH.Off {
		svc(TCP, []uint16{c.SSH.port()}, c.SSH.From, c.SSH.Any)
	}
	add(Filter{Action: "reject", Dst: host, Proto: "*", SrcPort: "*", DstPort: "*"})
	outPass := Filter{Num: n, Action: "pass", Src: host, Proto: "*", SrcPort: "*", DstPort: "*"}
	a.Filters = append(a.Filters, outPass)
	n++
	var dyn []int
	for _, p := range []string{"tcp", "udp"} {
		a.Dynamic = append(a.Dynamic, Dynamic{Num: n, Src: host, Proto: p})
		dyn = append(dyn, n)
		n++
	}
	iface, tun := x.iface(), x.Tunnel
	if tun != 0 {
		iface = ""
	}
	a.Apply = []Apply{
		{Interface: iface, Tunnel: tun, Dir: "in", Static: append(in, x.KeepIn...)},
		{Interface: iface, Tunnel: tun, Dir: "out", Static: append([]int{outPass.Num}, x.KeepOut...), Dynamic: dyn},
	}
	return a
}
