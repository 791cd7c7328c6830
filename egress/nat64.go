package egress

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// NAT64 is the NAT64/DNS64 gateway bundle for a dual-stack Debian box (the router or a
// gateway VM, never the IPv6-only Mastodon host: a translator cannot translate the
// traffic its own host originates towards an IPv4 it does not have).
//
// The translator is TAYGA (Debian's tayga package) with a dynamic pool masqueraded by
// nftables, which together make a stateful NAT64. Jool would do it in the kernel, but it
// needs a DKMS module built for the running kernel (jool-dkms and matching headers),
// which containers, many VMs and locked-down kernels cannot load; TAYGA only needs
// /dev/net/tun. The zero value of every field but DNS64 and Clients has a default.
type NAT64 struct {
	// Release is the Mastodon version on the hosts behind the gateway: whether the prefix
	// must go into ALLOWED_PRIVATE_ADDRESSES. Zero: mastodon.Newest().
	Release mastodon.Release `json:"-"`
	// Prefix is the NAT64 prefix, of an RFC 6052 length (32, 40, 48, 56, 64 or 96).
	// Zero: 64:ff9b::/96. A network-specific prefix from the site's own global space
	// needs no ALLOWED_PRIVATE_ADDRESSES.
	Prefix netip.Prefix `json:"prefix,omitzero"`
	// DNS64 are the gateway's IPv6 addresses on the Mastodon hosts' link: unbound listens
	// there and the hosts' resolv.conf lists them. Required.
	DNS64 []netip.Addr `json:"dns64"`
	// Clients are the IPv6 prefixes of the Mastodon hosts: the only sources DNS64
	// answers and the only sources translated. Required.
	Clients []netip.Prefix `json:"clients"`
	// WAN is the interface towards the IPv4 internet: translated traffic is masqueraded
	// to its address. Empty: masquerade on every interface but the translator's.
	WAN string `json:"wan,omitempty"`
	// LAN lists the gateway's own IPv4 networks: refused like every non-global
	// destination (a LAN in global space is refused only because it is listed here).
	LAN []netip.Prefix `json:"lan,omitempty"`
	// Pool is TAYGA's dynamic IPv4 pool, one address per IPv6 client. Zero:
	// 192.168.255.0/24.
	Pool netip.Prefix `json:"pool,omitzero"`
	// Tun is the translator's TUN device. Empty: "nat64".
	Tun string `json:"tun,omitempty"`
	// Forwarders are the upstream resolvers unbound forwards to. Empty: unbound recurses
	// from the root itself.
	Forwarders []netip.AddrPort `json:"forwarders,omitempty"`
	// Permit lists non-global IPv4 destinations translated all the same (a lab network,
	// a partner reached over a private link). Each one reopens SSRF towards it: a
	// warning. Empty: none.
	Permit []netip.Prefix `json:"permit,omitempty"`
}

// Defaults for a zero NAT64.
var (
	DefaultPool = netip.MustParsePrefix("192.168.255.0/24")
)

// DefaultTun is the TUN device of a zero [NAT64].
const DefaultTun = "nat64"

func (n NAT64) withDefaults() NAT64 {
	n.Release = release(n.Release)
	if !n.Prefix.IsValid() {
		n.Prefix = WellKnownPrefix
	}
	if !n.Pool.IsValid() {
		n.Pool = DefaultPool
	}
	if n.Tun == "" {
		n.Tun = DefaultTun
	}
	return n
}

// Validate reports every problem at once.
func (n NAT64) Validate() report.Problems {
	var ps report.Problems
	if n.Prefix.IsValid() || n.Prefix != (netip.Prefix{}) {
		if err := ValidPrefix(n.Prefix); err != nil {
			ps.Errorf("prefix", ErrPrefix, "prefix %s is not a NAT64 prefix: use an IPv6 prefix of length 32, 40, 48, 56, 64 or 96 (RFC 6052), e.g. 64:ff9b::/96", n.Prefix)
		}
	}
	n = n.withDefaults()
	if len(n.DNS64) == 0 {
		ps.Errorf("dns64", ErrDNS64, "dns64 is empty: give the gateway's IPv6 address on the Mastodon hosts' link, e.g. 2001:db8:1::1")
	}
	for i, a := range n.DNS64 {
		if !a.Is6() || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			ps.Errorf(idx("dns64", i), ErrDNS64, "dns64 %s must be a unicast IPv6 address without a zone", a)
		}
	}
	checkClients(&ps, "clients", n.Clients)
	if n.WAN != "" && !validIfname(n.WAN) {
		ps.Errorf("wan", ErrInterface, "wan %q: interface names are 1 to 15 characters without '/', ':', spaces or quotes", n.WAN)
	}
	if !validIfname(n.Tun) {
		ps.Errorf("tun", ErrInterface, "tun %q: interface names are 1 to 15 characters without '/', ':', spaces or quotes", n.Tun)
	}
	for i, p := range n.LAN {
		if !p.IsValid() || !p.Addr().Is4() {
			ps.Errorf(idx("lan", i), ErrLAN, "lan %s is not an IPv4 prefix: give the gateway's own IPv4 networks, e.g. 192.168.1.0/24", p)
		}
	}
	checkPermit(&ps, n.Permit)
	switch {
	case !n.Pool.Addr().Is4() || n.Pool.Bits() > 30 || !n.Pool.Addr().IsPrivate() || n.Pool != n.Pool.Masked():
		ps.Errorf("pool", ErrPool, "pool %s must be a private IPv4 prefix (RFC 1918) of at most /30 with no host bits, e.g. 192.168.255.0/24", n.Pool)
	default:
		for _, l := range append(slices.Clone(n.LAN), n.Permit...) {
			if l.IsValid() && l.Addr().Is4() && l.Overlaps(n.Pool) {
				ps.Errorf("pool", ErrPool, "pool %s overlaps %s: translated clients would get LAN addresses; pick another private prefix", n.Pool, l)
			}
		}
	}
	for i, f := range n.Forwarders {
		if !f.IsValid() || f.Port() == 0 || f.Addr().Zone() != "" {
			ps.Errorf(idx("forwarders", i), ErrForwarder, "forwarder %s needs an address and a port, e.g. [2001:db8::53]:53", f)
		}
	}
	if ValidPrefix(n.Prefix) == nil {
		rel := n.Release
		probe, _ := Synthesize(n.Prefix, netip.MustParseAddr("192.0.2.2")) // Mastodon looks at the prefix, not the embedded IPv4
		if entry, refused := rel.RefusesAddress(probe, nil); refused && !rel.AllowedPrivateAddresses() {
			ps.Errorf("prefix", ErrRelease, "Mastodon %s refuses %s as private (inside %s) and has no ALLOWED_PRIVATE_ADDRESSES (3.3+): upgrade Mastodon, use a NAT64 prefix from your own global space, or use the proxy path", rel, n.Prefix, entry)
		}
		if n.Prefix == WellKnownPrefix {
			// TAYGA's wkpf-strict refuses non-global IPv4 with the WKP (RFC 6052 section 3.1)
			for i, p := range n.Permit {
				ps.Warnf(idx("permit", i), ErrPermit, "permit %s has no effect with the well-known prefix: TAYGA's wkpf-strict refuses every non-global IPv4 (RFC 6052 section 3.1); use a network-specific prefix", p)
			}
		}
	}
	return ps
}

func idx(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func checkClients(ps *report.Problems, path string, cs []netip.Prefix) {
	if len(cs) == 0 {
		ps.Errorf(path, ErrClients, "%s is empty: list the IPv6 prefixes of the Mastodon hosts allowed to use the gateway, e.g. 2001:db8:1::/64 (an empty allow-list would refuse everyone, or with a careless edit admit everyone)", path)
	}
	for i, p := range cs {
		switch {
		case !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6():
			ps.Errorf(idx(path, i), ErrClients, "%s is not an IPv6 prefix: the Mastodon hosts are IPv6-only, e.g. 2001:db8:1::/64", p)
		case p != p.Masked():
			ps.Errorf(idx(path, i), ErrClients, "%s has host bits set: write %s", p, p.Masked())
		case p.Bits() == 0:
			ps.Errorf(idx(path, i), ErrClients, "%s admits the whole internet: list the Mastodon hosts' own prefix", p)
		}
	}
}

func checkPermit(ps *report.Problems, permit []netip.Prefix) {
	for i, p := range permit {
		if !p.IsValid() || !p.Addr().Is4() {
			ps.Errorf(idx("permit", i), ErrPermit, "permit %s is not an IPv4 prefix", p)
			continue
		}
		ps.Warnf(idx("permit", i), ErrPermit, "permit %s: the gateway will reach this non-global destination for Mastodon, so a remote actor can make Mastodon fetch from it (SSRF); keep it only for a lab or a trusted link", p)
	}
}

// Refused lists the IPv4 destinations the gateway refuses: every non-global prefix and
// the LAN, in that order, without duplicates.
func (n NAT64) Refused() []netip.Prefix { return refused(n.LAN) }

func refused(lan []netip.Prefix) []netip.Prefix {
	out := NonGlobalIPv4()
	for _, l := range lan {
		l = l.Masked()
		if !slices.ContainsFunc(out, func(p netip.Prefix) bool { return p.Bits() <= l.Bits() && p.Contains(l.Addr()) }) {
			out = append(out, l)
		}
	}
	return minimal(out)
}

// Paths of the gateway's files.
const (
	TaygaConfPath   = "etc/tayga/v6kit-nat64.conf"
	NAT64NftPath    = "etc/nftables.d/v6kit-nat64.nft"
	NAT64UnitPath   = "etc/systemd/system/v6kit-nat64.service"
	UnboundConfPath = "etc/unbound/unbound.conf.d/v6kit-dns64.conf"
	ResolvConfPath  = "etc/resolv.conf"
	TaygaDataDir    = "/var/lib/tayga/v6kit-nat64"
)

// Files renders the gateway's files: TAYGA's configuration, the nftables ruleset, the
// systemd unit that brings both up, and unbound's DNS64 drop-in. Nothing is rendered
// when Validate reports an error.
func (n NAT64) Files() ([]File, report.Problems) {
	ps := n.Validate()
	if ps.HasErrors() {
		return nil, ps
	}
	n = n.withDefaults()
	return []File{
		{Path: TaygaConfPath, Data: n.tayga(), Mode: 0o644},
		{Path: NAT64NftPath, Data: n.nft(), Mode: 0o644},
		{Path: NAT64UnitPath, Data: n.unit(), Mode: 0o644},
		{Path: UnboundConfPath, Data: n.unbound(), Mode: 0o644},
	}, ps
}

// TaygaAddr is TAYGA's own IPv4 address: the pool's first address (the rest is the
// dynamic pool).
func (n NAT64) TaygaAddr() netip.Addr { return n.withDefaults().Pool.Addr().Next() }

func (n NAT64) tayga() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n# TAYGA: stateless NAT64 over %s; the nftables masquerade in %s makes it stateful.\n", Header, n.Tun, "/"+NAT64NftPath)
	fmt.Fprintf(&b, "tun-device %s\n", n.Tun)
	fmt.Fprintf(&b, "ipv4-addr %s\n", n.TaygaAddr())
	fmt.Fprintf(&b, "ipv6-addr %s\n", n.DNS64[0])
	fmt.Fprintf(&b, "prefix %s\n", n.Prefix)
	if n.Prefix == WellKnownPrefix {
		// Debian's TAYGA 0.9.2 has no wkpf-strict directive: it always behaves so.
		b.WriteString("# RFC 6052 section 3.1: with the well-known prefix TAYGA itself refuses non-global IPv4.\n")
	}
	fmt.Fprintf(&b, "dynamic-pool %s\n", n.Pool)
	fmt.Fprintf(&b, "data-dir %s\n", TaygaDataDir)
	return b.Bytes()
}

func prefixSet(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Masked().String()
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

func (n NAT64) nft() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/usr/sbin/nft -f\n# %s\n", Header)
	fmt.Fprintf(&b, "# NAT64 for the Mastodon hosts %s through %s.\n", prefixList(n.Clients), n.Prefix)
	b.WriteString("# Refuses translation towards every non-global IPv4 destination (RFC 6052 section 3.1)\n# and the gateway's own LAN: Mastodon allows the NAT64 prefix, so this is its SSRF guard.\n")
	for _, fam := range []string{"ip", "ip6"} {
		fmt.Fprintf(&b, "table %s v6kit_nat64\ndelete table %s v6kit_nat64\n", fam, fam)
	}
	b.WriteString("\ntable ip6 v6kit_nat64 {\n")
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	fmt.Fprintf(&b, "\t\t# only the Mastodon hosts are translated\n\t\toifname %q ip6 saddr != %s reject with icmpv6 admin-prohibited\n", n.Tun, prefixSet(n.Clients))
	b.WriteString("\t}\n}\n\ntable ip v6kit_nat64 {\n")
	if len(n.Permit) > 0 {
		fmt.Fprintf(&b, "\tset permitted {\n\t\ttype ipv4_addr; flags interval;\n\t\telements = %s\n\t}\n", prefixSet(n.Permit))
	}
	fmt.Fprintf(&b, "\tset refused {\n\t\ttype ipv4_addr; flags interval;\n\t\telements = %s\n\t}\n", prefixSet(n.Refused()))
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	if len(n.Permit) > 0 {
		fmt.Fprintf(&b, "\t\tiifname %q ip daddr @permitted accept\n", n.Tun)
	}
	fmt.Fprintf(&b, "\t\tiifname %q ip daddr @refused meta l4proto tcp reject with tcp reset\n", n.Tun)
	fmt.Fprintf(&b, "\t\tiifname %q ip daddr @refused reject with icmp admin-prohibited\n", n.Tun)
	b.WriteString("\t}\n")
	b.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n")
	fmt.Fprintf(&b, "\t\t# translated packets never reach the gateway's own services\n\t\tiifname %q meta l4proto tcp reject with tcp reset\n\t\tiifname %q reject with icmp admin-prohibited\n", n.Tun, n.Tun)
	b.WriteString("\t}\n")
	b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	if n.WAN != "" {
		fmt.Fprintf(&b, "\t\tip saddr %s oifname %q masquerade\n", n.Pool, n.WAN)
	} else {
		fmt.Fprintf(&b, "\t\tip saddr %s oifname != %q masquerade\n", n.Pool, n.Tun)
	}
	b.WriteString("\t}\n}\n")
	return b.Bytes()
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// UnitCommands are the unit's commands, in order: the ExecStartPre lines, then
// ExecStart. Tests run them in a namespace; the unit file holds the same lines.
func (n NAT64) UnitCommands() (pre [][]string, start []string) {
	n = n.withDefaults()
	conf := "/" + TaygaConfPath
	pre = [][]string{
		{"/usr/sbin/sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"},
		{"/usr/bin/mkdir", "-p", TaygaDataDir},
		{"/usr/sbin/tayga", "--config", conf, "--mktun"},
		{"/usr/sbin/ip", "link", "set", n.Tun, "up"},
		{"/usr/sbin/ip", "-4", "route", "replace", n.Pool.String(), "dev", n.Tun},
		{"/usr/sbin/ip", "-6", "route", "replace", n.Prefix.String(), "dev", n.Tun},
		{"/usr/sbin/nft", "-f", "/" + NAT64NftPath},
	}
	return pre, []string{"/usr/sbin/tayga", "--config", conf, "--nodetach"}
}

func (n NAT64) unit() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n[Unit]\nDescription=v6kit NAT64 (TAYGA) for %s, refusing non-global IPv4\n", Header, n.Prefix)
	b.WriteString("Documentation=man:tayga(8) man:tayga.conf(5) man:nft(8)\nAfter=network-online.target nftables.service\nWants=network-online.target\n\n[Service]\nType=simple\n")
	pre, start := n.UnitCommands()
	for _, c := range pre {
		fmt.Fprintf(&b, "ExecStartPre=%s\n", strings.Join(c, " "))
	}
	fmt.Fprintf(&b, "ExecStart=%s\n", strings.Join(start, " "))
	fmt.Fprintf(&b, "ExecStopPost=-/usr/sbin/nft delete table ip v6kit_nat64\nExecStopPost=-/usr/sbin/nft delete table ip6 v6kit_nat64\nExecStopPost=-/usr/sbin/tayga --config /%s --rmtun\n", TaygaConfPath)
	b.WriteString("Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n")
	return b.Bytes()
}

func (n NAT64) unbound() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n# DNS64 for the Mastodon hosts; the Debian unbound.conf includes this directory.\nserver:\n", Header)
	for _, a := range n.DNS64 {
		fmt.Fprintf(&b, "\tinterface: %s\n", a)
	}
	b.WriteString("\tinterface: ::1\n\taccess-control: ::1/128 allow\n")
	for _, c := range n.Clients {
		fmt.Fprintf(&b, "\taccess-control: %s allow\n", c.Masked())
	}
	b.WriteString("\tmodule-config: \"dns64 validator iterator\"\n")
	fmt.Fprintf(&b, "\tdns64-prefix: %s\n", n.Prefix)
	b.WriteString("\t# synthesize only for names without an AAAA, as RFC 6147 says\n\tdns64-synthall: no\n")
	if len(n.Forwarders) > 0 {
		b.WriteString("forward-zone:\n\tname: \".\"\n")
		for _, f := range n.Forwarders {
			fmt.Fprintf(&b, "\tforward-addr: %s@%d\n", f.Addr(), f.Port())
		}
	}
	return b.Bytes()
}

// ResolvConf is /etc/resolv.conf for the Mastodon host: the DNS64 addresses, read
// directly by Mastodon's resolver (Ruby's Resolv reads resolv.conf, not nsswitch).
func (n NAT64) ResolvConf() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n# DNS64 on the NAT64 gateway; Mastodon reads this file itself.\n", Header)
	for _, a := range n.DNS64 {
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	b.WriteString("options timeout:2 attempts:2\n")
	return b.Bytes()
}

// Env returns the .env.production settings the Mastodon host needs for this gateway:
// ALLOWED_PRIVATE_ADDRESSES for the prefix, only when the release refuses it.
func (n NAT64) Env() []EnvVar {
	n = n.withDefaults()
	if ValidPrefix(n.Prefix) != nil {
		return nil
	}
	probe, _ := Synthesize(n.Prefix, netip.MustParseAddr("192.0.2.2"))
	entry, refused := n.Release.RefusesAddress(probe, nil)
	if !refused || !n.Release.AllowedPrivateAddresses() {
		return nil
	}
	return []EnvVar{{
		Key:   "ALLOWED_PRIVATE_ADDRESSES",
		Value: mastodon.AllowedPrivateAddressesValue([]netip.Prefix{n.Prefix}),
		Comment: []string{
			fmt.Sprintf("NAT64 prefix: Mastodon %s refuses it as private (inside %s), so IPv4-only peers would fail with PrivateNetworkAddressError.", n.Release, entry),
			"Trade-off: Mastodon now fetches any address in it, also those embedding private IPv4 (SSRF towards the gateway's LAN);",
			"the gateway refuses translation to every non-global IPv4 (RFC 6052 section 3.1), so list only the prefix, never more.",
		},
	}}
}
