// Command v6-probe checks a Mastodon site's IPv6 readiness and prints a report grouped by
// layer with a one-line verdict, or the same report as JSON.
//
//	v6-probe --domain social.example.org [--web-domain …] [--family ipv6-only|dual-stack] [--local]
//	         [--outbound [--proxy URL] [--ssrf-target ADDR:PORT]] [--resolver ADDR] [--ca-cert FILE] [--streaming-token-file FILE]
//	         [--json] [--timeout 10s]
//
// The access token comes from a file (mode 0600), never a flag that ps shows.
//
// With --local, --redis-addr and --postgres-addr (repeatable) name the addresses the
// local checks use (default ::1, and 127.0.0.1 on a dual-stack site), --redis-port and
// --postgres-port their ports. The family sets the default binds: ipv6-only [::1]:3000
// and [::1]:4000, dual-stack 127.0.0.1:3000 and 127.0.0.1:4000, as v6-unitgen writes them.
//
// Exit 0 when every required check passes, 1 otherwise, 2 for usage errors (the
// conventions are internal/cli's).
package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/network"
	"github.com/v6kit/v6kit/report"
)

func main() { os.Exit(cli.Main("v6-probe", run)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cmd := cli.New("v6-probe", "v6-probe --domain NAME [--family ipv6-only|dual-stack] [--local] [--outbound] [--json] [flags]", stdout, stderr)
	cmd.Exits = []cli.Exit{{Code: 0, What: "every required check passed"}, {Code: 1, What: "a required check failed, or the report could not be written"}, {Code: 2, What: "usage error: unknown flag or --mastodon, empty flag value; nothing probed"}}
	fs := cmd.Flags
	var o network.Options
	family := cli.IPv6Only
	var resolver, caFile, allowed, webBind, streamingBind, tokenFile string
	var asJSON bool
	var timeout time.Duration
	fs.StringVar(&o.Domain, "domain", "", "LOCAL_DOMAIN of the site (required)")
	fs.StringVar(&o.WebDomain, "web-domain", "", "WEB_DOMAIN, when it differs from --domain")
	cmd.FamilyFlag(&family, false, "what the site serves; sets the default --web-bind and --streaming-bind")
	fs.BoolVar(&o.Local, "local", false, "run on the Mastodon host: host, AAAA-matches-host and local service checks")
	fs.BoolVar(&o.Outbound, "outbound", false, "check outbound reach to IPv4-only peers (NAT64/DNS64, Mastodon's private list)")
	fs.BoolVar(&o.Firewall, "firewall", false, "check the host's packet filter from here: internal ports closed, ICMPv6 Packet Too Big acted on (needs root)")
	fs.StringVar(&resolver, "resolver", "", "DNS server for the DNS checks (default: resolv.conf's first nameserver)")
	fs.StringVar(&o.ResolvConf, "resolv-conf", "", "resolv.conf to read (default /etc/resolv.conf)")
	fs.StringVar(&caFile, "ca-cert", "", "PEM file of an extra trusted CA (private CAs, tests)")
	cmd.Release(&o.Release)
	fs.Func("redis-addr", "with --local: an `ADDR` Redis must answer PING on (repeatable; default ::1, and 127.0.0.1 on a dual-stack site)", addrList(&o.RedisAddrs))
	fs.Func("postgres-addr", "with --local: an `ADDR` PostgreSQL must take a login on (repeatable; default ::1, and 127.0.0.1 on a dual-stack site)", addrList(&o.PostgresAddrs))
	fs.Func("redis-port", "with --local: Redis's `PORT` (default 6379)", port(&o.RedisPort))
	fs.Func("postgres-port", "with --local: PostgreSQL's `PORT` (default 5432)", port(&o.PostgresPort))
	fs.StringVar(&allowed, "allowed-private-addresses", "", "the instance's ALLOWED_PRIVATE_ADDRESSES (comma-separated prefixes)")
	fs.StringVar(&o.OutboundURL, "outbound-url", "", "IPv4-only URL fetched through NAT64 (default "+network.DefaultOutboundURL+")")
	fs.StringVar(&o.Proxy, "proxy", "", "the instance's http_proxy, e.g. http://[2001:db8::3]:3128: --outbound checks go through it")
	fs.Func("ssrf-target", "private IPv4 `ADDR:PORT` that --outbound asks for through the path and must be refused (default 127.0.0.1:80)", func(s string) (err error) {
		o.SSRFTarget, err = netip.ParseAddrPort(s)
		return err
	})
	fs.StringVar(&o.MTUPath, "mtu-path", "", "path fetched over TLS for the path-MTU check (default /)")
	fs.StringVar(&webBind, "web-bind", "", "puma's BIND and PORT (default [::1]:3000 for ipv6-only, 127.0.0.1:3000 for dual-stack)")
	fs.StringVar(&streamingBind, "streaming-bind", "", "streaming's BIND and PORT (default [::1]:4000 for ipv6-only, 127.0.0.1:4000 for dual-stack)")
	fs.StringVar(&tokenFile, "streaming-token-file", "", "`FILE` (mode 0600) holding an access token with the read scope: the websocket check subscribes with it")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "deadline for the whole probe")
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	usage := cmd.Usage
	if !o.Local {
		for _, f := range []string{"redis-addr", "postgres-addr", "redis-port", "postgres-port"} {
			if cmd.Given(f) {
				return usage("--%s goes with --local", f)
			}
		}
	}
	if timeout <= 0 {
		return usage("--timeout: %v (got %s)", network.ErrTimeout, timeout)
	}
	var err error
	if family == cli.DualStack {
		o.Family = network.DualStack
	}
	if resolver != "" {
		if o.Resolver, err = network.ParseResolver(resolver); err != nil {
			return usage("--resolver: %v", err)
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
		for _, p := range cmd.FlagPaths(ps.Errors(), nil) {
			fmt.Fprintf(stderr, "v6-probe: %s\n", p.Error())
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
	code := 0
	if !rep.OK() {
		code = 1
	}
	if asJSON {
		return cmd.JSON(code, rep)
	}
	if err := rep.WriteText(stdout); err != nil {
		if !cli.IsStdoutErr(stdout, err) { // a failed stdout: cli.Main says it
			fmt.Fprintf(stderr, "v6-probe: %v\n", err)
		}
		return 1
	}
	return code
}

// addrList is a repeatable flag of IP addresses.
func addrList(dst *[]netip.Addr) func(string) error {
	return func(s string) error {
		a, err := cli.ParseAddr(s)
		if err != nil {
			return err
		}
		if a.Zone() != "" || a.IsUnspecified() || a.Is4In6() {
			return fmt.Errorf("%q is not an address to connect to: give one such as ::1, 127.0.0.1 or fd00:db::5", s)
		}
		*dst = append(*dst, a)
		return nil
	}
}

// port is a flag of a TCP port.
func port(dst *uint16) func(string) error {
	return func(s string) error {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a port: give 1-65535", s)
		}
		*dst = uint16(n)
		return nil
	}
}
