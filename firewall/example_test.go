package firewall_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/v6kit/v6kit/firewall"
)

// The origin story's host behind its Yamaha RTX: nginx open to everyone, SSH from the
// admin's prefix, the router's IPv6 over tunnel 6.
func ExampleConfig_RouterACL() {
	c := firewall.Config{
		Services: firewall.Mastodon(nil),
		SSH:      firewall.SSH{From: []netip.Prefix{netip.MustParsePrefix("2001:db8:a::/48")}},
		Router: &firewall.RTX{
			Host:     netip.MustParseAddr("2001:db8::10"),
			Tunnel:   6,
			Numbers:  firewall.Range{First: 4100, Last: 4199},
			Existing: []firewall.Range{{First: 4000, Last: 4099}},
		},
	}
	acl, err := c.RouterACL()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range acl.Filters {
		if f.Proto == "tcp" {
			fmt.Printf("ipv6 filter %d %s * %s tcp * %s\n", f.Num, f.Action, f.Dst.Addr(), f.DstPort)
		}
	}
	// Output:
	// ipv6 filter 4110 pass * 2001:db8::10 tcp * 80
	// ipv6 filter 4111 pass * 2001:db8::10 tcp * 443
	// ipv6 filter 4112 pass * 2001:db8::10 tcp * 22
}

// An internal service opened to the world is refused, and nothing is written.
func ExampleConfig_Validate() {
	c := firewall.Config{
		Services: []firewall.Service{{Name: "postgresql", Ports: []uint16{5432}, From: []netip.Prefix{netip.MustParsePrefix("::/0")}}},
	}
	for _, p := range c.Validate() {
		fmt.Println(p.Path)
	}
	// Output:
	// services[0].from[0]
	// ssh.from
}

// The ruleset keeps what RFC 4890 says must never be dropped.
func ExampleConfig_Write() {
	c := firewall.Config{Services: firewall.Mastodon(nil), SSH: firewall.SSH{Any: true}}
	var b strings.Builder
	if err := c.Write(&b); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, "packet-too-big") || strings.Contains(l, "dport") {
			fmt.Println(strings.TrimSpace(l))
		}
	}
	// Output:
	// icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept comment "RFC 4890 errors, incl. Packet Too Big"
	// ip6 saddr fe80::/10 ip6 daddr fe80::/10 udp sport 547 udp dport 546 accept comment "DHCPv6 client"
	// meta nfproto ipv6 tcp dport { 80, 443 } accept comment "nginx"
	// meta nfproto ipv6 tcp dport 22 accept comment "ssh"
}
