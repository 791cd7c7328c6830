// Command v6-pgsetup sets up PostgreSQL for a Mastodon host: the pg_hba.conf managed
// block (peer over the socket, scram-sha-256 over ::1 and 127.0.0.1), the role and its
// database, the server version check and the connection budget; or, with --tune, prints
// a postgresql.conf tuning snippet, and with --listen the listen_addresses snippet.
//
//	v6-pgsetup --dsn "host=/var/run/postgresql user=postgres" --role mastodon \
//	    --database mastodon_production --password-file /etc/mastodon/db-password
//	v6-pgsetup --tune --ram 2GiB --cpus 2
//	v6-pgsetup --listen --no-ipv4 --listen-addr fd00:db::5
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
	"os/signal"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/report"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var c pgsetup.Config
	var t pgsetup.Tuning
	var l pgsetup.Listen
	var auth, pwFile, version, ram, storage string
	var check, tune, listen, jsonOut, strict, verify bool
	fs := flag.NewFlagSet("v6-pgsetup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DSN, "dsn", "host=/var/run/postgresql user=postgres", "superuser connection (key=value or URL); PG* variables and ~/.pgpass are not read")
	fs.StringVar(&c.Role, "role", "mastodon", "role Mastodon logs in as (DB_USER)")
	fs.StringVar(&c.Database, "database", "", "database to create, owned by the role (DB_NAME)")
	fs.StringVar(&c.HBAPath, "hba", "", "pg_hba.conf to manage (default: the server's hba_file)")
	fs.Func("allow", "remote app-host prefix given scram-sha-256 (repeatable)", func(s string) error {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		c.Allow = append(c.Allow, p)
		return err
	})
	fs.StringVar(&auth, "auth", "scram-sha-256", "TCP method: scram-sha-256, peer (socket only) or trust (loopback, unsafe)")
	fs.StringVar(&pwFile, "password-file", "", "file holding the role's password (mode 0600)")
	fs.StringVar(&version, "mastodon", mastodon.Newest().Line(), "target Mastodon version")
	fs.BoolVar(&c.NoIPv4, "no-ipv4", false, "leave out the 127.0.0.1/32 rule and, with --listen, 127.0.0.1 (IPv6-only host)")
	fs.StringVar(&c.ServerLog, "server-log", "", "server log file, to report which pg_hba line each login matched")
	fs.BoolVar(&verify, "verify", true, "log in as the role afterwards over ::1, 127.0.0.1 (and the socket when possible)")
	fs.BoolVar(&check, "check", false, "report what would change and the budget; change nothing")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&strict, "strict", false, "fail on warnings")
	fs.BoolVar(&tune, "tune", false, "print a postgresql.conf tuning snippet and exit")
	fs.StringVar(&ram, "ram", "", "RAM for --tune, e.g. 2GiB")
	fs.IntVar(&t.CPUs, "cpus", 1, "CPUs for --tune")
	fs.StringVar(&storage, "storage", "ssd", "storage for --tune: ssd, hdd or network")
	fs.IntVar(&t.Connections, "connections", 100, "max_connections for --tune")
	fs.BoolVar(&listen, "listen", false, "print the listen_addresses snippet (::1, 127.0.0.1 unless --no-ipv4, each --listen-addr) and exit")
	fs.Func("listen-addr", "`ADDR` of this host PostgreSQL listens on too, for --listen (repeatable)", func(s string) error {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		l.Addrs = append(l.Addrs, a)
		return err
	})
	fs.IntVar(&c.Budget.WebHosts, "web-hosts", 1, "budget: hosts running puma, each with --web-workers × --web-threads")
	fs.IntVar(&c.Budget.WebWorkers, "web-workers", 0, "budget: puma WEB_CONCURRENCY (0: 2)")
	fs.IntVar(&c.Budget.WebThreads, "web-threads", 0, "budget: puma MAX_THREADS (0: 5)")
	fs.IntVar(&c.Budget.StreamingInstances, "streaming", 1, "budget: streaming processes")
	sidekiq := fs.Int("sidekiq", 25, "budget: total sidekiq concurrency")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "v6-pgsetup: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if tune {
		n, err := pgsetup.ParseBytes(ram)
		if err != nil {
			fmt.Fprintf(stderr, "v6-pgsetup: --ram: %v\n", err)
			return 2
		}
		t.RAM, t.Storage = n, pgsetup.Storage(storage)
		return finish(stderr, t.Validate(), strict, func() error { return t.Write(stdout) })
	}
	if listen {
		l.NoIPv4 = c.NoIPv4
		return finish(stderr, l.Validate(), strict, func() error { return l.Write(stdout) })
	}
	rel, err := mastodon.Lookup(version)
	if err != nil {
		fmt.Fprintf(stderr, "v6-pgsetup: --mastodon: %v\n", err)
		return 2
	}
	c.Release, c.Auth, c.Verify = rel, pgsetup.Method(auth), verify && !check
	c.Budget.Sidekiq = []int{*sidekiq}
	var pre report.Problems
	if pwFile != "" {
		pw, ps, err := pgsetup.ReadPasswordFile(pwFile)
		if err != nil {
			fmt.Fprintf(stderr, "v6-pgsetup: %v\n", err)
			return 1
		}
		c.Password, pre = pw, ps
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := pgsetup.Run(ctx, c, check)
	res.Problems = append(pre, res.Problems...)
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		printResult(stdout, res)
	}
	return finish(stderr, res.Problems, strict, func() error { return err })
}
