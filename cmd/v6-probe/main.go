// Command v6-probe checks a Mastodon site's IPv6 readiness and prints a report grouped by
// layer with a one-line verdict, or the same report as JSON.
//
//	v6-probe --domain social.example.org [--web-domain …] [--family v6only|dual] [--local]
//	         [--outbound [--proxy URL] [--ssrf-target ADDR:PORT]] [--resolver ADDR] [--ca-cert FILE] [--streaming-token-file FILE]
//	         [--json] [--timeout 10s]
//
// The access token comes from a file (mode 0600), never a flag that ps shows.
//
// Exit 0 when every required check passes, 1 otherwise, 2 for usage errors.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
	"github.com/v6kit/v6kit/report"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("v6-probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o network.Options
	var family, resolver, caFile, version, allowed, webBind, streamingBind, tokenFile string
	var asJSON bool
	var timeout time.Duration
	fs.StringVar(&o.Domain, "domain", "", "LOCAL_DOMAIN of the site (required)")
	fs.StringVar(&o.WebDomain, "web-domain", "", "WEB_DOMAIN, when it differs from --domain")
	fs.StringVar(&family, "family", "v6only", "what the site serves: v6only or dual")
	fs.BoolVar(&o.Local, "local", false, "run on the Mastodon host: host, AAAA-matches-host and local service checks")
	fs.BoolVar(&o.Outbound, "outbound", false, "check outbound reach to IPv4-only peers (NAT64/DNS64, Mastodon's private list)")
	fs.BoolVar(&o.Firewall, "firewall", false, "check the host's packet filter from here: internal ports closed, ICMPv6 Packet Too Big acted on (needs root)")
	fs.StringVar(&resolver, "resolver", "", "DNS server for the DNS checks (default: resolv.conf's first nameserver)")
	fs.StringVar(&o.ResolvConf, "resolv-conf", "", "resolv.conf to read (default /etc/resolv.conf)")
	fs.StringVar(&caFile, "ca-cert", "", "PEM file of an extra trusted CA (private CAs, tests)")
	fs.StringVar(&version, "mastodon", "", "Mastodon version whose rules apply (default: newest)")
	fs.StringVar(&allowed, "allowed-private-addresses", "", "the instance's ALLOWED_PRIVATE_ADDRESSES (comma-separated prefixes)")
	fs.StringVar(&o.OutboundURL, "outbound-url", "", "IPv4-only URL fetched through NAT64 (default "+network.DefaultOutboundURL+")")
	fs.StringVar(&o.Proxy, "proxy", "", "the instance's http_proxy, e.g. http://[2001:db8::3]:3128: --outbound checks go through it")
	fs.Func("ssrf-target", "private IPv4 `ADDR:PORT` that --outbound asks for through the path and must be refused (default 127.0.0.1:80)", func(s string) (err error) {
		o.SSRFTarget, err = netip.ParseAddrPort(s)
		return err
	})
	fs.StringVar(&o.MTUPath, "mtu-path", "", "path fetched over TLS for the path-MTU check (default /)")
	fs.StringVar(&webBind, "web-bind", "", "puma's BIND and PORT (default [::]:3000)")
	fs.StringVar(&streamingBind, "streaming-bind", "", "streaming's BIND and PORT (default [::]:4000)")
	fs.StringVar(&tokenFile, "streaming-token-file", "", "`FILE` (mode 0600) holding an access token with the read scope: the websocket check subscribes with it")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "deadline for the whole probe")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "v6-probe: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if timeout <= 0 {
		return usage("--timeout: %v (got %s)", network.ErrTimeout, timeout)
	}
	var err error
	if o.Family, err = network.ParseFamily(family); err != nil {
		return usage("--family: %v", err)
	}
	if resolver != "" {
		if o.Resolver, err = network.ParseResolver(resolver); err != nil {
			return usage("--resolver: %v", err)
		}
	}
	if version != "" {
		if o.Release, err = mastodon.Lookup(version); err != nil {
			return usage("--mastodon: %v", err)
		}
	}
	for _, s := range strings.FieldsFunc(allowed, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return usage("--allowed-private-addresses: %q is not a prefix such as 64:ff9b::/96", s)
		}
		o.AllowedPrivateAddresses = append(o.AllowedPrivateAddresses, p)
	}
	for _, b := range []struct {
		flag, v string
		dst     *netip.AddrPort
	}{{"--web-bind", webBind, &o.WebBind}, {"--streaming-bind", streamingBind, &o.StreamingBind}} {
		if b.v != "" {
			if *b.dst, err = netip.ParseAddrPort(b.v); err != nil {
				return usage("%s: %q is not ADDR:PORT such as [::]:3000", b.flag, b.v)
			}
		}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return usage("--ca-cert: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return usage("--ca-cert: %s holds no PEM certificate", caFile)
		}
		o.RootCAs = pool
	}
	if tokenFile != "" {
		if o.StreamingToken, err = network.ReadStreamingToken(tokenFile); err != nil {
			return usage("--streaming-token-file: %v", err)
		}
	}
	if ps := o.Validate(); ps.HasErrors() {
		for _, p := range ps.Errors() {
			fmt.Fprintf(stderr, "v6-probe: --%s\n", strings.ReplaceAll(p.Error(), "_", "-"))
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := network.Probe(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "v6-probe: %v\n", err)
		if report.AsProblems(err) != nil {
			return 2 // options Validate refused
		}
		return 1
	}
	if asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "v6-probe: %v\n", err)
		return 1
	}
	if !rep.OK() {
		return 1
	}
	return 0
}
