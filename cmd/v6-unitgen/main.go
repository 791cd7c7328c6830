// Command v6-unitgen renders the systemd units of a Mastodon host (web, sidekiq split
// by queue, streaming, prometheus exporter, certificate renewal timer) for a Mastodon
// release, checks the PostgreSQL connection budget, and writes, verifies or applies them.
//
//	v6-unitgen --mastodon 4.7 --bind :: --sidekiq default:8,ingress:4@25 --sidekiq push,pull@10 \
//	  --sidekiq mailers@5 --sidekiq scheduler@5 --streaming 4 --max-connections 200 --out /etc/systemd/system
//	v6-unitgen --processes sidekiq --sidekiq push,pull@10 --sidekiq mailers@5   # a worker-only host
//
// Exit status: 0 ok, 1 invalid deployment or failed check/write/apply, 2 usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var d units.Deployment
	var sidekiq, rw list
	var bind, out string
	var exporter, renew, check, apply, asJSON, strict, diff bool
	fs := flag.NewFlagSet("v6-unitgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&d.Mastodon, "mastodon", "", "Mastodon `version` (default: the newest line, 4.7)")
	fs.Func("processes", "`LIST` of processes this host runs: web,sidekiq,streaming (default all), or none", parseProcesses(&d))
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
	fs.StringVar(&out, "out", "", "write the units into `DIR` (e.g. /etc/systemd/system), atomically, mode 0644")
	fs.BoolVar(&check, "check", false, "run systemd-analyze verify on the rendered units; write nothing")
	fs.BoolVar(&diff, "diff", false, "show what would change in --out; write nothing")
	fs.BoolVar(&apply, "apply", false, "after --out: daemon-reload, enable and (re)start through systemd's D-Bus API")
	bus := fs.String("dbus-address", "", "with --apply: the systemd manager's D-Bus `ADDRESS` (default: the system's systemd)")
	fs.BoolVar(&asJSON, "json", false, "print the plan (units, enable/start lists, budget, problems) as JSON")
	fs.BoolVar(&strict, "strict", false, "treat warnings as errors")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "v6-unitgen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	a, err := netip.ParseAddr(bind)
	if err != nil {
		fmt.Fprintf(stderr, "v6-unitgen: --bind %q is not an IP address: use 127.0.0.1, ::1 or ::\n", bind)
		return 2
	}
	d.Bind = a
	dropUnusedDefaults(fs, &d)
	for _, s := range sidekiq {
		sk, err := units.ParseSidekiq(s)
		if err != nil {
			fmt.Fprintf(stderr, "v6-unitgen: --sidekiq: %v\n", err)
			return 2
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
	if (apply || diff) && out == "" {
		fmt.Fprintln(stderr, "v6-unitgen: --apply and --diff need --out DIR")
		return 2
	}
	if apply && (check || diff || asJSON) {
		// Those modes write nothing: applying would reload and restart the old units.
		fmt.Fprintln(stderr, "v6-unitgen: --apply cannot be combined with --check, --diff or --json: they write nothing, so there would be nothing new to apply")
		return 2
	}

	plan, err := d.Render()
	if err == nil && strict {
		err = plan.Problems.Strict()
	}
	problems := report.AsProblems(err)
	if plan != nil {
		problems = plan.Problems
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "v6-unitgen: %s\n", p.Error())
	}
	if err != nil {
		return 1
	}
	ctx := context.Background()
	switch {
	case asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			return 1
		}
	case check:
		text, err := plan.Verify(ctx, "")
		if err != nil && !errors.Is(err, units.ErrNoAnalyzer) {
			fmt.Fprintf(stderr, "v6-unitgen: %v:\n%s", err, text)
			return 1
		}
		status := "ok"
		if err != nil {
			status = err.Error()
		}
		fmt.Fprintf(stdout, "%d units valid; systemd-analyze verify: %s\n", len(plan.Files), status)
	case diff:
		text, err := plan.Diff(out)
		if err != nil {
			fmt.Fprintf(stderr, "v6-unitgen: %v\n", err)
			return 1
		}
		fmt.Fprint(stdout, text)
	case out == "":
		for _, f := range plan.Files {
			fmt.Fprintf(stdout, "# ---- %s\n%s\n", f.Name, f.Bytes())
		}
	default:
		changed, err := plan.WriteDir(out)
		if err != nil {
			fmt.Fprintf(stderr, "v6-unitgen: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %d of %d units to %s (%d unchanged)\n", len(changed), len(plan.Files), out, len(plan.Files)-len(changed))
	}
	if !asJSON {
		fmt.Fprintf(stdout, "connection budget: %s; headroom %d\n", plan.Budget.Formula, plan.Budget.Headroom)
	}
	if apply {
		m, err := units.ConnectDBusManager(ctx, *bus)
		if err == nil {
			defer m.Close()
			err = units.Apply(ctx, m, plan, units.ApplyOptions{Restart: true})
		}
		if err != nil {
			fmt.Fprintf(stderr, "v6-unitgen: apply: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "applied: enabled %s\n", strings.Join(plan.Enable, " "))
	}
	return 0
}
