// Command allinone renders the site bundle of the origin story's host: an IPv6-only
// machine running all of Mastodon (web, streaming, sidekiq, PostgreSQL, Redis, nginx),
// whose server name (WEB_DOMAIN) differs from the instance name (LOCAL_DOMAIN), sending
// mail through an internal relay on port 25 without auth, reaching IPv4-only peers
// through NAT64, with a Let's Encrypt certificate.
//
//	go run ./examples/allinone --out ./site [--egress nat64|proxy|none]
//
// With --egress nat64 or proxy, the outbound path's dual-stack gateway (TAYGA, unbound
// DNS64 and nftables, or squid) is rendered as a second host tree, ./site/gateway, and
// the host's .env.production (and resolv.conf for nat64) agree with it.
//
// Every artifact is validated by its own package before anything is written; then the
// bundle is written atomically into --out as a tree that mirrors the host's filesystem,
// with NEXT-STEPS.md listing what the admin runs next. Re-running on the same --out
// changes nothing, and the secrets in .env.production survive.
package main

import (
	"io"
	"net/netip"
	"os"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/mastodon"
)

// example is the origin story's host, with today's newest Mastodon. Every value can be
// overridden by a flag.
var example = bundle.Host{
	Family:      bundle.IPv6Only,
	LocalDomain: "example.org",        // the handle: @alice@example.org
	WebDomain:   "social.example.org", // where the site lives
	AdminEmail:  "admin@example.org",
	Owner:       "admin",
	// The internal relay: port 25, no auth, no TLS verification inside the LAN.
	SMTP: envfile.SMTP{
		Server:            "relay.example.org",
		Port:              25,
		AuthMethod:        "none",
		OpenSSLVerifyMode: "none",
		FromAddress:       "Mastodon <notifications@example.org>",
	},
	NAT64: netip.MustParsePrefix(mastodon.NAT64WellKnownPrefix), // DNS64/NAT64 upstream
	// --egress nat64|proxy renders the dual-stack gateway as a second tree, OUT/gateway:
	// it sits at 2001:db8:1::1 on this host's /64, its own LAN is 192.168.1.0/24.
	Egress: bundle.Egress{
		Path:    egress.None,
		Gateway: netip.MustParseAddr("2001:db8:1::1"),
		Clients: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")},
		WAN:     "eth0",
		LAN:     []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")},
	},
	// The nftables ruleset; SSH stays open to all until --ssh-from names the admin prefix.
	Firewall: &firewall.SSH{Any: true},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return bundle.Command("allinone", example, args, stdout, stderr)
}
