// Command dualstack renders the site bundle of an all-in-one Mastodon host that speaks
// IPv6 and IPv4 (dual-stack), for the newest Mastodon release v6kit knows: nginx on
// [::] and 0.0.0.0, Redis on ::1 and 127.0.0.1, PostgreSQL over the socket and both
// loopbacks, and one name for both the handles and the site.
//
//	go run ./examples/dualstack --out ./site-dual
//
// Like allinone, it validates every artifact before writing anything, writes the
// bundle atomically as a tree that mirrors the host's filesystem, and changes nothing
// when re-run on its own output (secrets survive).
package main

import (
	"io"
	"os"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/firewall"
)

// example is a dual-stack host serving mastodon.example.net under its own name. Every
// value can be overridden by a flag.
var example = bundle.Host{
	Family:      bundle.DualStack,
	LocalDomain: "mastodon.example.net", // handles and site share one name
	AdminEmail:  "hostmaster@example.net",
	Owner:       "owner",
	SMTP: envfile.SMTP{
		Server:         "smtp.example.net",
		Port:           587,
		EnableStartTLS: "always",
		FromAddress:    "Mastodon <notifications@mastodon.example.net>",
	},
	// No NAT64: a dual-stack host reaches IPv4-only peers directly.
	// The nftables ruleset; SSH stays open to all until --ssh-from names the admin prefix.
	Firewall: &firewall.SSH{Any: true},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return bundle.Command("dualstack", example, args, stdout, stderr)
}
