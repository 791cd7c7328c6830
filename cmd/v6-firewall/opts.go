package main

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/report"
)

type opts struct {
	config                 firewall.Config
	out, routerOut         string
	check, diff, json      bool
	strict                 bool
	app                    []netip.Prefix
	extra                  []firewall.Service
	noMastodon, routerUsed bool
	router                 firewall.RTX
	cmd                    *cli.Command
	lock                   *cli.Lock
}

// fields maps firewall.Config's problem paths to the flags that set them.
var fields = map[string]string{
	"ssh.from": "--ssh-from", "ssh.port": "--ssh-port", "table": "--table",
	"router.host": "--router-host", "router.interface": "--router-interface", "router.tunnel": "--router-tunnel",
	"router.numbers": "--router-numbers", "router.existing": "--router-existing",
	"router.keep_in": "--router-keep-in", "router.keep_out": "--router-keep-out",
}

// exits are v6-firewall's exit codes.
var exits = []cli.Exit{
	{Code: cli.ExitOK, What: "done; with --diff: nothing would change; with --check: nft -c passed"},
	{Code: cli.ExitFail, What: "invalid input, a failed check or write (nothing half-written), another run holding the lock under --no-wait; with --diff: something would change"},
	{Code: cli.ExitUsage, What: "usage error: unknown flag, bad value, empty flag value, missing --out/--router-out directory; nothing done"},
}

// parseFlags binds and parses the flags. When ok is false the caller returns code at
// once (-h printed the help, or a usage error was printed).
func parseFlags(args []string, stdout, stderr io.Writer) (o opts, code int, ok bool) {
	c := &o.config
	r := &o.router
	o.cmd = cli.New("v6-firewall", "v6-firewall --ssh-from PREFIX|any|off [--app PREFIX]... [--family ipv6-only|dual-stack] [--out FILE] [--router-host ADDR [--router-out FILE]] [flags]", stdout, stderr)
	o.cmd.Exits = exits
	fs := o.cmd.Flags
	family := cli.IPv6Only
	o.cmd.FamilyFlag(&family, false, "what the host serves: an IPv6-only host takes IPv6 prefixes only")
	fs.Func("app", "`PREFIX`(es, comma-separated) of the app hosts allowed to PostgreSQL, PgBouncer, Redis and Sentinel (repeatable; none: an all-in-one host)", func(v string) error {
		ps, _, err := parseSources(v)
		o.app = append(o.app, ps...)
		return err
	})
	fs.BoolVar(&o.noMastodon, "no-mastodon", false, "leave out the Mastodon services (nginx 80/443, and the internal ones with --app)")
	fs.Func("service", "another open port: `NAME:PORTS[/udp]:FROM` with FROM any or comma-separated prefixes (repeatable)", func(v string) error {
		s, err := parseService(v)
		o.extra = append(o.extra, s)
		return err
	})
	fs.Func("ssh-from", "admin `PREFIX`(es) allowed to SSH, comma-separated; any (everyone) or off (no SSH rule) must be said explicitly (required)", func(v string) error {
		switch v {
		case "any":
			c.SSH.Any = true
			return nil
		case "off":
			c.SSH.Off = true
			return nil
		}
		ps, _, err := parseSources(v)
		c.SSH.From = append(c.SSH.From, ps...)
		return err
	})
	fs.Func("ssh-port", "sshd's `PORT` (default 22)", func(v string) error { return portVar(v, &c.SSH.Port) })
	fs.StringVar(&c.Table, "table", "", "nftables table name (default "+firewall.DefaultTable+")")
	fs.Func("router-host", "the host's IPv6 `ADDR` as the router sees it; renders the Yamaha RTX ACL", func(v string) error {
		a, err := cli.ParseAddr(v)
		r.Host, o.routerUsed = a, true
		return err
	})
	fs.StringVar(&r.Interface, "router-interface", "", "RTX interface the filters apply to (default lan2)")
	fs.IntVar(&r.Tunnel, "router-tunnel", 0, "apply the filters to tunnel `N` instead of an interface")
	fs.Func("router-numbers", "`FIRST-LAST` filter numbers the ACL may use (default 40000-40099)", func(v string) error {
		var err error
		r.Numbers, err = firewall.ParseRange(v)
		return err
	})
	fs.Func("router-existing", "`FIRST-LAST` filter numbers already used on the router (repeatable)", func(v string) error {
		x, err := firewall.ParseRange(v)
		r.Existing = append(r.Existing, x)
		return err
	})
	fs.Func("router-keep-in", "existing filter `NUMS` (comma-separated) to keep on the secure filter in line", func(v string) error { return numsVar(v, &r.KeepIn) })
	fs.Func("router-keep-out", "existing filter `NUMS` to keep on the secure filter out line", func(v string) error { return numsVar(v, &r.KeepOut) })
	fs.StringVar(&o.out, "out", "", "write the nftables ruleset to `FILE` atomically; its directory must exist (default: stdout)")
	fs.StringVar(&o.routerOut, "router-out", "", "write the RTX ACL to `FILE` atomically; its directory must exist (default: stdout)")
	fs.BoolVar(&o.check, "check", false, "run nft -c -f on the ruleset; write nothing")
	fs.BoolVar(&o.diff, "diff", false, "show what would change in --out and --router-out (unified diff); write nothing; exit 1 when something would")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
	fs.BoolVar(&o.strict, "strict", false, "fail on warnings")
	o.lock = o.cmd.NoWait()
	if code, ok := o.cmd.Parse(args); !ok {
		return o, code, false
	}
	switch {
	case o.diff && o.out == "" && o.routerOut == "":
		return o, o.cmd.Usage("--diff needs --out or --router-out"), false
	case o.routerOut != "" && !o.routerUsed:
		return o, o.cmd.Usage("--router-out needs --router-host"), false
	}
	for _, f := range []struct{ name, path string }{{"--out", o.out}, {"--router-out", o.routerOut}} {
		if code, ok := o.cmd.Out(f.name, f.path); !ok {
			return o, code, false
		}
	}
	c.Family = firewall.IPv6Only
	if family == cli.DualStack {
		c.Family = firewall.DualStack
	}
	if !o.noMastodon {
		c.Services = firewall.Mastodon(o.app)
	}
	c.Services = append(c.Services, o.extra...)
	if o.routerUsed {
		c.Router = r
	}
	return o, 0, true
}

// parseSources reads "any" (any is true) or comma-separated prefixes; a bare address
// is its /128 (or /32).
func parseSources(v string) (ps []netip.Prefix, any bool, err error) {
	if v == "any" {
		return nil, true, nil
	}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, false, fmt.Errorf("%q is not a prefix such as 2001:db8:1::/48 (or any)", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p)
	}
	return ps, false, nil
}

// parseService reads NAME:PORTS[/udp]:FROM, e.g. http3:443/udp:any or
// metrics:9100:fd00:1::/64 (FROM may hold colons; it is everything after the second).
func parseService(v string) (firewall.Service, error) {
	name, rest, ok1 := strings.Cut(v, ":")
	ports, from, ok2 := strings.Cut(rest, ":")
	s := firewall.Service{Name: name}
	if !ok1 || !ok2 {
		return s, fmt.Errorf("%q: want NAME:PORTS[/udp]:FROM, e.g. http3:443/udp:any", v)
	}
	if p, proto, ok := strings.Cut(ports, "/"); ok {
		ports = p
		if err := s.Proto.UnmarshalText([]byte(proto)); err != nil {
			return s, err
		}
	}
	for _, p := range strings.Split(ports, ",") {
		var port uint16
		if err := portVar(p, &port); err != nil {
			return s, err
		}
		s.Ports = append(s.Ports, port)
	}
	var err error
	s.From, s.Public, err = parseSources(from)
	return s, err
}

func portVar(v string, p *uint16) error {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%q is not a port (1-65535)", v)
	}
	*p = uint16(n)
	return nil
}

func numsVar(v string, out *[]int) error {
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a filter number", s)
		}
		*out = append(*out, n)
	}
	return nil
}

// result is what --json prints.
type result struct {
	Problems  report.Problems `json:"problems"`
	Written   []written       `json:"written,omitempty"`
	Changed   bool            `json:"changed"`
	Diff      string          `json:"diff,omitempty"`
	Ruleset   string          `json:"ruleset,omitempty"`
	RouterACL string          `json:"router_acl,omitempty"`
	Checked   bool            `json:"checked,omitempty"`
	Error     string          `json:"error,omitempty"`
}

type written struct {
	File    string   `json:"file"`
	Changed bool     `json:"changed"`
	Notes   []string `json:"notes,omitempty"`
}

// finish prints the result (JSON on stdout, or the problems on stderr) and returns code.
func (res *result) finish(cmd *cli.Command, code int, err error, asJSON bool, stdout, stderr io.Writer) int {
	if err != nil {
		res.Error = err.Error()
	}
	for _, w := range res.Written {
		res.Changed = res.Changed || w.Changed
	}
	if asJSON {
		return cmd.JSON(code, res)
	}
	for _, p := range res.Problems.Sorted() {
		fmt.Fprintln(stderr, "v6-firewall:", p.Error())
	}
	if err != nil && report.AsProblems(err) == nil && !cli.IsStdoutErr(stdout, err) { // a failed stdout: cli.Main says it
		fmt.Fprintln(stderr, "v6-firewall:", err)
	}
	return code
}
