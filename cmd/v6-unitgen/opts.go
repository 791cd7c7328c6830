package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/units"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// options are the parsed flags: the deployment to render and what to do with it.
type options struct {
	d                                  units.Deployment
	out, bus                           string
	check, diff, apply, asJSON, strict bool
}

// parseArgs binds the flags into a units.Deployment and checks their combinations. On a
// usage error it has printed the reason and returns nil and exit status 2.
func parseArgs(args []string, stderr io.Writer) (*options, int) {
	var o options
	d := &o.d
	var sidekiq, rw list
	var bind string
	var exporter, renew bool
	fs := flag.NewFlagSet("v6-unitgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.TextVar(&d.Release, "mastodon", mastodon.Release{}, "Mastodon `version` (default: the newest line, 4.7)")
	fs.Func("processes", "`LIST` of processes this host runs: web,sidekiq,streaming (default all), or none", parseProcesses(d))
	fs.StringVar((*string)(&d.Layout), "layout", "debian", "distribution layout: debian or rhel")
	fs.StringVar(&d.User, "user", "mastodon", "Unix user that runs Mastodon")
	fs.StringVar(&d.Paths.Home, "home", "", "the user's home (default /home/USER)")
	fs.StringVar(&d.Paths.App, "app", "", "Mastodon checkout, the WorkingDirectory (default HOME/live)")
	fs.StringVar(&d.Paths.Bundle, "bundle", "", "Ruby launcher (default HOME/.rbenv/shims/bundle)")
	fs.StringVar(&d.Paths.Node, "node", "", "node (default /usr/bin/node)")
	fs.StringVar(&d.Paths.NPM, "npm", "", "npm, for streaming up to 2.7 (default /usr/bin/npm)")
	fs.StringVar(&d.Paths.Certs, "certs", "", "v6-certs binary (default /usr/local/bin/v6-certs)")
	fs.StringVar(&d.Paths.Jemalloc, "jemalloc", "", "LD_PRELOAD for 3.5+ (default libjemalloc.so.2; - disables)")
	fs.StringVar(&bind, "bind", "127.0.0.1", "`ADDR` web and streaming listen on (:: for IPv6), written in each process's form")
	fs.IntVar(&d.Web.Port, "web-port", 3000, "puma's PORT")
	fs.IntVar(&d.Web.Workers, "web-workers", 2, "puma's WEB_CONCURRENCY")
	fs.IntVar(&d.Web.Threads, "web-threads", 5, "puma's MAX_THREADS")
	fs.Var(&sidekiq, "sidekiq", "one sidekiq process, `QUEUES@CONCURRENCY` with QUEUES = name[:weight],… (repeat; none: one process for all queues)")
	fs.IntVar(&d.Streaming.Instances, "streaming", 1, "streaming processes (instances from 4.2, cluster workers before)")
	fs.IntVar(&d.Streaming.Pool, "streaming-pool", 10, "each streaming process's DB_POOL")
	fs.IntVar(&d.MaxConnections, "max-connections", 100, "PostgreSQL's max_connections, for the connection budget")
	fs.Var(&rw, "read-write-path", "a `PATH` outside the app dir the processes write to (repeat)")
	fs.BoolVar(&d.LocalServices, "local-services", false, "order the units after the local PostgreSQL and Redis units")
	fs.BoolVar(&exporter, "exporter", false, "add the prometheus exporter unit (4.6+)")
	fs.BoolVar(&renew, "cert-renew", false, "add the v6-certs renewal service and daily timer")
	onFailure := fs.String("cert-renew-on-failure", "", "`UNIT` started when renewal fails")
	fs.StringVar(&o.out, "out", "", "write the units into `DIR` (e.g. /etc/systemd/system), atomically, mode 0644")
	fs.BoolVar(&o.check, "check", false, "run systemd-analyze verify on the rendered units; write nothing")
	fs.BoolVar(&o.diff, "diff", false, "show what would change in --out; write nothing")
	fs.BoolVar(&o.apply, "apply", false, "after --out: daemon-reload, enable and (re)start through systemd's D-Bus API")
	fs.StringVar(&o.bus, "dbus-address", "", "with --apply: the systemd manager's D-Bus `ADDRESS` (default: the system's systemd)")
	fs.BoolVar(&o.asJSON, "json", false, "print the result as JSON: the plan (units, enable/start lists, budget, problems) and what was written, diffed, checked or applied")
	fs.BoolVar(&o.strict, "strict", false, "treat warnings as errors")
	usage := func(format string, a ...any) (*options, int) {
		fmt.Fprintf(stderr, "v6-unitgen: "+format+"\n", a...)
		return nil, 2
	}
	if err := fs.Parse(args); err != nil {
		return nil, 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	a, err := netip.ParseAddr(bind)
	if err != nil {
		return usage("--bind %q is not an IP address: use 127.0.0.1, ::1 or ::", bind)
	}
	d.Bind = a
	dropUnusedDefaults(fs, d)
	for _, s := range sidekiq {
		sk, err := units.ParseSidekiq(s)
		if err != nil {
			return usage("--sidekiq: %v", err)
		}
		d.Sidekiq = append(d.Sidekiq, sk)
	}
	d.ReadWritePaths = rw
	if exporter {
		d.Exporter = &units.Exporter{}
	}
	if renew || *onFailure != "" {
		d.CertRenew = &units.CertRenew{OnFailure: *onFailure}
	}
	switch {
	case (o.apply || o.diff) && o.out == "":
		return usage("--apply and --diff need --out DIR")
	case o.apply && (o.check || o.diff):
		// Those modes write nothing: applying would reload and restart the old units.
		return usage("--apply cannot be combined with --check or --diff: they write nothing, so there would be nothing new to apply")
	}
	return &o, 0
}
