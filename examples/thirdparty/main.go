// Command myinstaller is an installer as a third party writes it: its own Go module
// (example.com/myinstaller), importing only v6kit's public packages. It renders the
// origin story's IPv6-only host for the Mastodon release given by --mastodon, prints
// every problem with its path, and writes the bundle only when there is no error.
//
//	go run . --out ./site --mastodon 4.3
//
// v6kit's own test suite builds this module and runs it for 1.6, 4.2, 4.3 and the
// newest line, and checks that v6kit's in-module example (examples/allinone) finds
// every file it wrote byte for byte as it would have written it.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

func main() { os.Exit(bundle.Main("myinstaller", run)) }

// origin is the host this installer knows how to build: IPv6-only, everything on one
// machine, mail through an internal relay, IPv4-only peers through NAT64.
func origin(rel mastodon.Release, domain, webDomain string) bundle.Host {
	return bundle.Host{
		Release:     rel,
		Family:      bundle.IPv6Only,
		LocalDomain: domain,
		WebDomain:   webDomain,
		AdminEmail:  "admin@" + domain,
		Owner:       "admin",
		SMTP: envfile.SMTP{
			Server:            "relay." + domain,
			Port:              25,
			AuthMethod:        "none",
			OpenSSLVerifyMode: "none",
			FromAddress:       "Mastodon <notifications@" + domain + ">",
		},
		NAT64: netip.MustParsePrefix(mastodon.NAT64WellKnownPrefix),
		// the host's nftables ruleset, SSH open to all (as allinone renders it by default)
		Firewall: &firewall.SSH{Any: true},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("myinstaller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write the bundle into (required)")
	var rel mastodon.Release // zero: the newest line v6kit knows
	fs.TextVar(&rel, "mastodon", rel, "Mastodon release, one of "+fmt.Sprint(mastodon.Lines()))
	domain := fs.String("domain", "example.org", "LOCAL_DOMAIN")
	webDomain := fs.String("web-domain", "social.example.org", "WEB_DOMAIN")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: myinstaller --out DIR [--mastodon VERSION] [--domain D] [--web-domain W]")
		return 2
	}

	host := origin(rel, *domain, *webDomain)
	tree := bundle.New("", *out)
	info := host.Compose(tree) // every artifact rendered and validated; nothing written yet
	for _, p := range tree.Problems {
		if p.Severity <= report.Warning { // errors and warnings; notes stay quiet
			fmt.Fprintf(stderr, "%s\n", p)
		}
	}
	if err := bundle.Check(tree); err != nil {
		fmt.Fprintln(stderr, "nothing written:", err)
		return 1
	}
	results, err := bundle.Write(tree)
	if err != nil {
		fmt.Fprintln(stderr, "write:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Mastodon %s for %s: %d files in %s\n", info.Release, host.WebDomain, len(tree.Files()), *out)
	for _, r := range results {
		fmt.Fprintf(stdout, "changed: %d, unchanged: %d\n", len(r.Changed), len(r.Unchanged))
	}
	fmt.Fprintf(stdout, "certificate: %s\n", bundle.ShellJoin(info.CertCommand))
	return 0
}
