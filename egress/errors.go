package egress

import "errors"

// Sentinels, one per rule; every [report.Problem] of this package wraps one.
var (
	// ErrPrefix: the NAT64 prefix is not an RFC 6052 prefix.
	ErrPrefix = errors.New("NAT64 prefix must be an IPv6 prefix of length 32, 40, 48, 56, 64 or 96 (RFC 6052 section 2.2), with no bits set after the length, e.g. 64:ff9b::/96")
	// ErrClients: the allow-list of Mastodon hosts is empty or not IPv6.
	ErrClients = errors.New("list the IPv6 prefixes of the Mastodon hosts allowed to use the gateway, e.g. 2001:db8:1::/64")
	// ErrDNS64: no or an unusable DNS64 listen address.
	ErrDNS64 = errors.New("give the gateway's IPv6 address on the Mastodon hosts' link for DNS64, e.g. 2001:db8:1::1")
	// ErrPool: TAYGA's IPv4 pool is unusable.
	ErrPool = errors.New("TAYGA's dynamic pool must be a private IPv4 prefix of at most /30 that overlaps neither the LAN nor a permitted destination, e.g. 192.168.255.0/24")
	// ErrLAN: a LAN prefix is not IPv4.
	ErrLAN = errors.New("LAN prefixes are the gateway's own IPv4 networks, e.g. 192.168.1.0/24")
	// ErrPermit: a permitted destination is not an IPv4 prefix.
	ErrPermit = errors.New("a permitted destination must be an IPv4 prefix")
	// ErrInterface: an interface name the kernel would refuse.
	ErrInterface = errors.New("interface names are 1 to 15 characters without '/', ':', spaces or quotes")
	// ErrForwarder: an unusable upstream resolver.
	ErrForwarder = errors.New("an upstream resolver needs an address and a port, e.g. [2001:db8::53]:53")
	// ErrProxyURL: the http_proxy URL Mastodon would not parse as meant.
	ErrProxyURL = errors.New("the proxy URL must be http://HOST:PORT with an IPv6 literal in brackets, e.g. http://[2001:db8::3]:3128")
	// ErrListen: the proxy's listen address is unusable.
	ErrListen = errors.New("the proxy listens on an address and a non-zero port, e.g. [::]:3128")
	// ErrPorts: an unusable destination port.
	ErrPorts = errors.New("destination ports are 1 to 65535; Mastodon needs 443 (and 80 for plain-HTTP peers)")
	// ErrRelease: the Mastodon release cannot use this path.
	ErrRelease = errors.New("this Mastodon release cannot use the outbound path as configured")
	// ErrPath: an unknown egress path name.
	ErrPath = errors.New("the egress path is nat64, proxy or none")
)
