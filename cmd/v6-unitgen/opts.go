package main

import (
	"io"
	"strings"

	"github.com/v6kit/v6kit/internal/cli"
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
	checkInstalled, allowUnknownQueue  bool
	cmd                                *cli.Command
	lock                               *cli.Lock
}

// parseArgs binds the flags into a units.Deployment and checks their combinations. On a
// usage error it has printed the reason and returns nil and exit status 2.
func parseArgs(args []string, stdout, stderr io.Writer) (*options, int) {
	var o options
	d := &o.d
	var sidekiq, rw list
	var bind string
	var exporter, renew, noReload bool
	var deployHook string
	family := cli.IPv6Only
	o.cmd = cli.New("v6-unitgen", "v6-unitgen [--mastodon VERSION] [--processes LIST] [--sidekiq QUEUES@N]... [--out DIR [--apply]] [flags]", stdout, stderr)
	fs := o.cmd.Flags
	o.cmd.Release(&d.Release)
	o.cmd.FamilyFlag(&family, false, "the default --bind: the family's loopback (ipv6-only ::1, dual-stack 127.0.0.1)")
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
	fs.StringVar(&bind, "bind", "", "`ADDR` web and streaming listen on, written in each process's form (default: the family's loopback: ::1 with --family ipv6-only from Mastodon "+mastodon.PumaBindSince().String()+", else 127.0.0.1 (dual-stack, or an older release); pass :: on a web host a separate front reaches)")
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
	fs.BoolVar(&renew, "cert-renew", false, "add the v6-certs renewal service and daily timer; it runs v6-certs renew --reload-nginx unless --cert-renew-deploy-hook or --cert-renew-no-reload")
	fs.StringVar(&deployHook, "cert-renew-deploy-hook", "", "shell `CMD` the renewal runs after certificates changed, instead of reloading nginx (implies --cert-renew)")
	fs.BoolVar(&noReload, "cert-renew-no-reload", false, "renewal without a deploy step: nginx serves renewed certificates only after another reload (implies --cert-renew)")
	onFailure := fs.String("cert-renew-on-failure", "", "`UNIT` started when renewal fails")
	fs.StringVar(&o.out, "out", "", "write the units into `DIR` (e.g. /etc/systemd/system), atomically, mode 0644; DIR's parent must exist")
	fs.BoolVar(&o.check, "check", false, "run systemd-analyze verify on the rendered units in a temp root with stub binaries (Ruby, node, v6-certs need not be installed); write nothing")
	fs.BoolVar(&o.checkInstalled, "check-installed", false, "with --check: verify against this host's binaries instead of stubs (reports a missing bundle or node)")
	fs.BoolVar(&o.allowUnknownQueue, "allow-unknown-queue", false, "accept a --sidekiq queue name the release does not have (default: an error, as a typo would be)")
	fs.BoolVar(&o.diff, "diff", false, "show what would change in --out (unified diff); write nothing; exit 1 when something would")
	fs.BoolVar(&o.apply, "apply", false, "after --out: daemon-reload, enable and (re)start through systemd's D-Bus API")
	fs.StringVar(&o.bus, "dbus-address", "", "with --apply: the systemd manager's D-Bus `ADDRESS` (default: the system's systemd)")
	fs.BoolVar(&o.asJSON, "json", false, "print the result as JSON: the plan (units, enable/start lists, budget, problems) and what was written, diffed, checked or applied")
	fs.BoolVar(&o.strict, "strict", false, "treat warnings as errors")
	o.lock = o.cmd.NoWait()
	usage := func(format string, a ...any) (*options, int) {
		return nil, o.cmd.Usage(format, a...)
	}
	if code, ok := o.cmd.Parse(args); !ok {
		return nil, code
	}
	switch {
	case bind != "":
		a, err := cli.ParseAddr(bind)
		if err != nil {
			return usage("--bind %v", err)
		}
		d.Bind = a
	default: // the family's loopback, as the bundles, v6-nginxgen and v6-probe expect it
		d.Bind = d.Release.OrNewest().LoopbackBind(family == cli.IPv6Only)
	}
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
	if renew || *onFailure != "" || deployHook != "" || noReload {
		d.CertRenew = &units.CertRenew{OnFailure: *onFailure, DeployHook: deployHook, NoReload: noReload}
	}
	if deployHook != "" && noReload {
		return usage("--cert-renew-deploy-hook and --cert-renew-no-reload exclude each other")
	}
	switch {
	case (o.apply || o.diff) && o.out == "":
		return usage("--apply and --diff need --out DIR")
	case o.apply && (o.check || o.diff):
		// Those modes write nothing: applying would reload and restart the old units.
		return usage("--apply cannot be combined with --check or --diff: they write nothing, so there would be nothing new to apply")
	case o.checkInstalled && !o.check:
		return usage("--check-installed goes with --check")
	}
	if code, ok := o.cmd.Out("--out", o.out); !ok {
		return nil, code
	}
	return &o, 0
}
