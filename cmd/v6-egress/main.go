// Command v6-egress renders the outbound path of an IPv6-only Mastodon host: a NAT64
// gateway (TAYGA, unbound DNS64, nftables refusing non-global IPv4) or an egress proxy
// (squid refusing private destinations) for a dual-stack Debian box, plus the Mastodon
// host's side (resolv.conf, ALLOWED_PRIVATE_ADDRESSES or http_proxy).
//
//	v6-egress nat64 --dns64 ADDR --clients PREFIX[,…] [--prefix 64:ff9b::/96] [--wan IF]
//	          [--lan PREFIX,…] [--pool 192.168.255.0/24] [--forwarder ADDR:PORT,…] [--permit PREFIX,…]
//	          [--mastodon VERSION] [--out DIR] [--check] [--json] [--strict] [--no-wait]
//	v6-egress proxy --url http://[ADDR]:PORT --clients PREFIX[,…] [--ports 80,443]
//	          [--nat64-prefix PREFIX,…] [--resolver ADDR,…] [--permit PREFIX,…]
//	          [--mastodon VERSION] [--out DIR] [--check] [--json] [--strict] [--no-wait]
//
// The command line follows internal/cli's conventions (v6-egress PATH -h).
// The gateway's files go to DIR/gateway/…, the Mastodon host's to DIR/mastodon/…
// (etc/resolv.conf and env.production.fragment, lines to add to .env.production).
// Exit 0 when written (or valid with --check), 1 on errors (nothing written) or, with
// --no-wait, another run holding the lock; 2 for usage (--out's parent must exist).
package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

func main() {
	os.Exit(cli.Main("v6-egress", func(args []string, _ io.Reader, stdout, stderr io.Writer) int { return run(args, stdout, stderr) }))
}

// list binds a comma-separated, repeatable flag to a slice, parsing each item.
func list[T any](fl *flag.FlagSet, name, usage string, dst *[]T, parse func(string) (T, error)) {
	fl.Func(name, usage, func(s string) error {
		for _, item := range strings.Split(s, ",") {
			v, err := parse(strings.TrimSpace(item))
			if err != nil {
				return err
			}
			*dst = append(*dst, v)
		}
		return nil
	})
}

func port(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err
}

type result struct {
	Path     string          `json:"path"`
	Mastodon string          `json:"mastodon"`
	Out      string          `json:"out,omitempty"`
	Files    []string        `json:"files,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
	Env      []egress.EnvVar `json:"env,omitempty"`
	Problems report.Problems `json:"problems,omitempty"`
}

// help is the top-level -h: the synopsis of both paths, where their flags are listed,
// the exit codes.
const help = `usage: v6-egress nat64|proxy [flags]   (v6-egress PATH -h lists every flag of PATH)

flags:
  nat64  --dns64 ADDR --clients PREFIX[,…] [--prefix 64:ff9b::/96] [--wan IF] [--lan PREFIX,…]
         [--pool 192.168.255.0/24] [--forwarder ADDR:PORT,…] [--permit PREFIX,…]
         [--mastodon VERSION] [--out DIR] [--check] [--json] [--strict] [--no-wait]
  proxy  --url http://[ADDR]:PORT --clients PREFIX[,…] [--ports 80,443] [--nat64-prefix PREFIX,…]
         [--resolver ADDR,…] [--permit PREFIX,…] [--mastodon VERSION] [--out DIR] [--check]
         [--json] [--strict] [--no-wait]

exit codes:
`

// exits are v6-egress's exit codes.
var exits = []cli.Exit{
	{Code: cli.ExitOK, What: "written (or valid, with --check)"},
	{Code: cli.ExitFail, What: "invalid input or a failed write (nothing written), another run holding the lock under --no-wait"},
	{Code: cli.ExitUsage, What: "usage error: unknown path, flag or --mastodon, empty flag value, missing --out parent; nothing done"},
}

func run(args []string, stdout, stderr io.Writer) int {
	top := cli.New("v6-egress", "v6-egress nat64|proxy [flags]", stdout, stderr)
	if len(args) == 0 {
		return top.Usage("which path: nat64 or proxy")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, help)
		for _, e := range exits {
			fmt.Fprintf(stdout, "  %d  %s\n", e.Code, e.What)
		}
		return cli.ExitOK
	}
	path, err := egress.ParsePath(args[0])
	if err != nil || path == egress.None {
		return top.Usage("unknown path %q: nat64 or proxy", args[0])
	}
	synopsis := "v6-egress nat64 --dns64 ADDR --clients PREFIX[,…] [--out DIR] [flags]"
	if path == egress.ViaProxy {
		synopsis = "v6-egress proxy --url http://[ADDR]:PORT --clients PREFIX[,…] [--out DIR] [flags]"
	}
	cmd := cli.New("v6-egress "+args[0], synopsis, stdout, stderr)
	cmd.Exits = exits
	fl := cmd.Flags
	var n egress.NAT64
	var p egress.Proxy
	var rel mastodon.Release
	var out string
	var check, asJSON, strict bool
	clients := &n.Clients
	if path == egress.ViaProxy {
		clients = &p.Clients
	}
	list(fl, "clients", "IPv6 prefixes of the Mastodon hosts allowed through (required)", clients, netip.ParsePrefix)
	list(fl, "permit", "non-global destinations allowed all the same (reopens SSRF towards them)", map[egress.Path]*[]netip.Prefix{egress.ViaNAT64: &n.Permit, egress.ViaProxy: &p.Permit}[path], netip.ParsePrefix)
	if path == egress.ViaNAT64 {
		fl.Func("prefix", "NAT64 prefix, RFC 6052 length (default 64:ff9b::/96)", func(s string) (err error) { n.Prefix, err = netip.ParsePrefix(s); return })
		list(fl, "dns64", "the gateway's IPv6 address(es) on the Mastodon hosts' link (required)", &n.DNS64, cli.ParseAddr)
		fl.StringVar(&n.WAN, "wan", "", "uplink interface to masquerade on (default: any)")
		list(fl, "lan", "the gateway's own IPv4 networks (refused)", &n.LAN, netip.ParsePrefix)
		fl.Func("pool", "TAYGA's dynamic IPv4 pool (default 192.168.255.0/24)", func(s string) (err error) { n.Pool, err = netip.ParsePrefix(s); return })
		list(fl, "forwarder", "upstream resolvers for unbound, ADDR:PORT (default: recurse)", &n.Forwarders, netip.ParseAddrPort)
	} else {
		fl.StringVar(&p.URL, "url", "", "http_proxy as the Mastodon hosts use it, e.g. http://[2001:db8::3]:3128 (required)")
		list(fl, "ports", "destination ports allowed (default 80,443)", &p.Ports, port)
		list(fl, "nat64-prefix", "network-specific NAT64 prefixes whose private embeddings are refused", &p.NAT64Prefixes, netip.ParsePrefix)
		list(fl, "resolver", "squid's dns_nameservers (default: resolv.conf)", &p.Resolvers, netip.ParseAddr)
	}
	cmd.Release(&rel)
	fl.StringVar(&out, "out", "egress", "`DIR` for gateway/… and mastodon/… (its parent must exist; DIR is created)")
	fl.BoolVar(&check, "check", false, "validate only, write nothing")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fl.BoolVar(&strict, "strict", false, "treat warnings as errors")
	lock := cmd.NoWait()
	if code, ok := cmd.Parse(args[1:]); !ok {
		return code
	}
	if code, ok := cmd.Out("--out", out); !ok {
		return code
	}
	rel = rel.OrNewest()
	n.Release, p.Release = rel, rel
	res := result{Path: path.String(), Mastodon: rel.String()}
	var files, host []egress.File
	if path == egress.ViaNAT64 {
		files, res.Problems = n.Files()
		res.Env = n.Env()
		host = []egress.File{{Path: egress.ResolvConfPath, Data: n.ResolvConf(), Mode: 0o644}}
	} else {
		files, res.Problems = p.Files()
		res.Env = p.Env()
	}
	res.Problems = cmd.FlagPaths(res.Problems, nil) // problem paths name the flags ("--permit[0]")
	host = append(host, egress.File{Path: "env.production.fragment", Data: egress.EnvFragment(res.Env), Mode: 0o644})
	code := 0
	if res.Problems.HasErrors() || (strict && len(res.Problems.Warnings()) > 0) {
		code = 1
	} else if !check {
		res.Out = out
		for _, f := range files {
			res.Files = append(res.Files, filepath.Join("gateway", f.Path))
		}
		for _, f := range host {
			res.Files = append(res.Files, filepath.Join("mastodon", f.Path))
		}
		// One set for both trees: two runs at once never leave one's gateway beside the
		// other's host files.
		var all []egress.File
		for _, f := range files {
			f.Path = "gateway/" + f.Path
			all = append(all, f)
		}
		for _, f := range host {
			f.Path = "mastodon/" + f.Path
			all = append(all, f)
		}
		wr, err := egress.WriteDirOpts(out, all, egress.WriteOptions{NoWait: lock.NoWait(), Waiting: lock.Waiting})
		for _, r := range wr {
			res.Notes = append(res.Notes, r.Notes...)
		}
		if err != nil {
			return cmd.Fail(err)
		}
	}
	if asJSON {
		return cmd.JSON(code, res)
	}
	for _, pr := range res.Problems {
		fmt.Fprintln(stderr, pr.Error())
	}
	if code != 0 {
		fmt.Fprintf(stderr, "%s: nothing written\n", cmd.Name)
		return code
	}
	for _, f := range res.Files {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(out, f))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if check {
		fmt.Fprintf(stdout, "%s bundle valid for Mastodon %s\n", path, rel)
	}
	return 0
}
