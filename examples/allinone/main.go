// Command allinone renders the site bundle of the origin story's host: an IPv6-only
// machine running all of Mastodon (web, streaming, sidekiq, PostgreSQL, Redis, nginx),
// whose server name (WEB_DOMAIN) differs from the instance name (LOCAL_DOMAIN), sending
// mail through an internal relay on port 25 without auth, reaching IPv4-only peers
// through NAT64, with a Let's Encrypt certificate.
//
//	go run ./examples/allinone --out ./site
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
	"github.com/v6kit/v6kit/envfile"
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
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return bundle.Command("allinone", example, args, stdout, stderr)
}
