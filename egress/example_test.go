package egress_test

import (
	"fmt"
	"net/netip"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/mastodon"
)

// A NAT64 gateway on the well-known prefix: the Mastodon host must allow the prefix,
// and the gateway is what refuses private IPv4 behind it.
func ExampleNAT64() {
	n := egress.NAT64{
		DNS64:   []netip.Addr{netip.MustParseAddr("2001:db8:1::1")},
		Clients: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")},
		LAN:     []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")},
	}
	files, ps := n.Files()
	if err := ps.Err(); err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		fmt.Println(f.Path)
	}
	for _, v := range n.Env() {
		fmt.Printf("%s=%s\n", v.Key, v.Value)
	}
	// Output:
	// etc/tayga/v6kit-nat64.conf
	// etc/nftables.d/v6kit-nat64.nft
	// etc/systemd/system/v6kit-nat64.service
	// etc/unbound/unbound.conf.d/v6kit-dns64.conf
	// ALLOWED_PRIVATE_ADDRESSES=64:ff9b::/96
}

// An egress proxy: http_proxy on the Mastodon host, squid on the dual-stack box.
func ExampleProxy() {
	p := egress.Proxy{
		Release: mastodon.MustLookup("4.5"),
		URL:     "http://[2001:db8:1::3]:3128",
		Clients: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")},
	}
	files, ps := p.Files()
	if err := ps.Err(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(files[0].Path)
	fmt.Println(p.Env()[0].Key + "=" + p.Env()[0].Value)

	p.URL = "http://2001:db8:1::3:3128"
	_, ps = p.Files()
	fmt.Println(ps.Err())
	// Output:
	// etc/squid/squid.conf
	// http_proxy=http://[2001:db8:1::3]:3128
	// url: the proxy URL must be http://HOST:PORT with an IPv6 literal in brackets, e.g. http://[2001:db8::3]:3128: "http://2001:db8:1::3:3128": the IPv6 literal needs brackets, e.g. http://[2001:db8:1::3]:3128
}
