package testenv

import (
	"fmt"
	"net/netip"
	"strconv"
)

// AddLAN attaches one new IPv6-only namespace per address to a new link behind the
// world's router, for topologies with more hosts than client and server (a front
// proxy and its app hosts, say):
//
//	router --lanX (bridge, PREFIX::1)--+-- ID-lanX-1 (addrs[0])
//	                                   +-- ID-lanX-2 (addrs[1]) …
//
// X is the prefix's fourth group in hex. prefix must be a /64 inside the world's ULA
// /48 other than the client and server links (so the resolvers admit the hosts), and
// each address must lie in it and differ from the router's PREFIX::1. Each host routes
// through the router and uses its DNS64 resolver. It returns the namespace names in
// the order of addrs; they are removed with the world.
func (w *World) AddLAN(prefix netip.Prefix, addrs ...netip.Addr) ([]string, error) {
	ula := netip.MustParsePrefix(worldULA + "::/48")
	if !prefix.Addr().Is6() || prefix.Bits() != 64 || prefix != prefix.Masked() || !ula.Contains(prefix.Addr()) {
		return nil, fmt.Errorf("LAN prefix %s: want a /64 inside %s", prefix, ula)
	}
	for _, used := range []string{worldULA + ":1::/64", worldULA + ":2::/64", worldULA + ":64::/64"} {
		if prefix.Overlaps(netip.MustParsePrefix(used)) {
			return nil, fmt.Errorf("LAN prefix %s: the world already uses %s", prefix, used)
		}
	}
	gw := prefix.Addr().Next()
	if len(addrs) == 0 {
		return nil, fmt.Errorf("LAN %s: no host addresses", prefix)
	}
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		if !prefix.Contains(a) || a == gw || a == prefix.Addr() || seen[a] {
			return nil, fmt.Errorf("LAN %s: host address %s must be in the prefix, unique, and not %s or %s", prefix, a, prefix.Addr(), gw)
		}
		seen[a] = true
	}
	b := prefix.Addr().As16()
	lan := "lan" + strconv.FormatUint(uint64(b[6])<<8|uint64(b[7]), 16)
	if err := NetnsIP(w.Router, "link add "+lan+" type bridge", "link set "+lan+" up",
		"addr add "+gw.String()+"/64 dev "+lan+" nodad"); err != nil {
		return nil, err
	}
	names := make([]string, len(addrs))
	for i, a := range addrs {
		n := fmt.Sprintf("%s-%s-%d", w.ID, lan, i+1)
		NetnsAdd(w.t, n)
		if err := NetnsSysctl(n, "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0",
			"net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.all.accept_ra=0"); err != nil {
			return nil, err
		}
		// veth names are at most 15 bytes: "lanffff" + "h" + index
		port := lan + "h" + strconv.Itoa(i+1)
		if err := NetnsIP(w.Router, "link add "+port+" type veth peer name up0 netns "+n,
			"link set "+port+" master "+lan, "link set "+port+" up"); err != nil {
			return nil, err
		}
		if err := NetnsIP(n, "link set lo up", "link set up0 up",
			"addr add "+a.String()+"/64 dev up0 nodad", "route add default via "+gw.String()); err != nil {
			return nil, err
		}
		w.SetResolvConf(n, "nameserver "+w.DNS64.String()+"\nsearch "+w.Zone+"\noptions timeout:1 attempts:2\n")
		names[i] = n
	}
	return names, nil
}
