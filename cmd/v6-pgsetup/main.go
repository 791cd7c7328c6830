// Command v6-pgsetup sets up PostgreSQL for a Mastodon host: the pg_hba.conf managed
// block (peer over the socket, scram-sha-256 over ::1 and 127.0.0.1), the role and its
// database, the server version check and the connection budget; or, with --tune, prints
// a postgresql.conf tuning snippet, and with --listen the listen_addresses snippet.
//
//	v6-pgsetup --dsn "host=/var/run/postgresql user=postgres" --role mastodon \
//	    --database mastodon_production --password-file /etc/mastodon/db-password
//	v6-pgsetup --tune --ram 2GiB --cpus 2
//	v6-pgsetup --listen --no-ipv4 --listen-addr fd00:db::5
//
// Without --database the rules name the database the role owns; when it owns none (or
// several) they allow all databases, with a warning naming the widening. --diff is
// --check that prints only the pg_hba.conf diff and exits 1 when something would change.
// Exit status: 0 ok, 1 a failure (or --diff found a change), 2 usage; the conventions are
// internal/cli's.
package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"

	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/report"
)

func main() { os.Exit(cli.Main("v6-pgsetup", run)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var c pgsetup.Config
	var t pgsetup.Tuning
	var l pgsetup.Listen
	var auth, pwFile, ram, storage string
	var check, diff, tune, listen, jsonOut, strict, verify bool
	cmd := cli.New("v6-pgsetup", "v6-pgsetup [--dsn DSN] [--role NAME] [--database NAME] [--password-file FILE] [--check|--diff] [flags] | --tune --ram SIZE | --listen", stdout, stderr)
	fs := cmd.Flags
	fs.StringVar(&c.DSN, "dsn", "host=/var/run/postgresql user=postgres", "superuser connection (key=value or URL); PG* variables and ~/.pgpass are not read")
	fs.StringVar(&c.Role, "role", "mastodon", "role Mastodon logs in as (DB_USER)")
	fs.StringVar(&c.Database, "database", "", "database to create, owned by the role (DB_NAME; default: the one the role owns, else all databases, with a warning)")
	fs.StringVar(&c.HBAPath, "hba", "", "pg_hba.conf to manage (default: the server's hba_file)")
	fs.Func("allow", "remote app-host prefix given scram-sha-256 (repeatable)", func(s string) error {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		c.Allow = append(c.Allow, p)
		return err
	})
	fs.StringVar(&auth, "auth", "scram-sha-256", "TCP method: scram-sha-256, peer (socket only) or trust (loopback, unsafe)")
	fs.StringVar(&pwFile, "password-file", "", "file holding the role's password (mode 0600)")
	cmd.Release(&c.Release)
	fs.BoolVar(&c.NoIPv4, "no-ipv4", false, "leave out the 127.0.0.1/32 rule and, with --listen, 127.0.0.1 (IPv6-only host)")
	fs.StringVar(&c.ServerLog, "server-log", "", "server log file, to report which pg_hba line each login matched")
	fs.BoolVar(&verify, "verify", true, "log in as the role afterwards over ::1, 127.0.0.1 (and the socket when possible)")
	fs.BoolVar(&check, "check", false, "report what would change and the budget; change nothing")
	fs.BoolVar(&diff, "diff", false, "print the pg_hba.conf change (unified diff) and change nothing; exit 1 when something would change")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&strict, "strict", false, "fail on warnings")
	fs.BoolVar(&tune, "tune", false, "print a postgresql.conf tuning snippet and exit")
	fs.StringVar(&ram, "ram", "", "RAM for --tune, e.g. 2GiB")
	fs.IntVar(&t.CPUs, "cpus", 1, "CPUs for --tune")
	fs.StringVar(&storage, "storage", "ssd", "storage for --tune: ssd, hdd or network")
	fs.IntVar(&t.Connections, "connections", 100, "max_connections for --tune")
	fs.BoolVar(&listen, "listen", false, "print the listen_addresses snippet (::1, 127.0.0.1 unless --no-ipv4, each --listen-addr) and exit")
	fs.Func("listen-addr", "`ADDR` of this host PostgreSQL listens on too, for --listen (repeatable)", func(s string) error {
		a, err := cli.ParseAddr(s)
		l.Addrs = append(l.Addrs, a)
		return err
	})
	fs.IntVar(&c.Budget.WebHosts, "web-hosts", 1, "budget: hosts running puma, each with --web-workers × --web-threads")
	fs.IntVar(&c.Budget.WebWorkers, "web-workers", 0, "budget: puma WEB_CONCURRENCY (0: 2)")
	fs.IntVar(&c.Budget.WebThreads, "web-threads", 0, "budget: puma MAX_THREADS (0: 5)")
	fs.IntVar(&c.Budget.StreamingInstances, "streaming", 1, "budget: streaming processes")
	sidekiq := fs.Int("sidekiq", 25, "budget: total sidekiq concurrency")
	lock := cmd.NoWait()
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	check = check || diff
	if tune {
		n, err := pgsetup.ParseBytes(ram)
		if err != nil {
			return cmd.Usage("--ram: %v", err)
		}
		t.RAM, t.Storage = n, pgsetup.Storage(storage)
		return finish(stdout, stderr, t.Validate(), strict, func() error { return t.Write(stdout) })
	}
	if listen {
		l.NoIPv4 = c.NoIPv4
		return finish(stdout, stderr, l.Validate(), strict, func() error { return l.Write(stdout) })
	}
	c.Auth, c.Verify = pgsetup.Method(auth), verify && !check
	c.Budget.Sidekiq = []int{*sidekiq}
	c.NoWait, c.Waiting = lock.NoWait(), lock.Waiting
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
	res.Problems = cmd.FlagPaths(append(pre, res.Problems...), map[string]string{"budget": "--web-hosts/--web-workers/--web-threads/--streaming/--sidekiq", "hba_path": "--hba", "server_log": "--server-log", "no_ipv4": "--no-ipv4"})
	code := finish(stdout, stderr, res.Problems, strict, func() error { return err })
	if code == 0 && diff {
		code = cli.DiffCode(len(res.Changes) > 0)
	}
	switch {
	case jsonOut:
		return cmd.JSON(code, res)
	case diff:
		fmt.Fprint(stdout, res.HBA.Diff)
		for _, ch := range res.Changes {
			if ch.What != "pg_hba.conf managed block" {
				fmt.Fprintf(stderr, "v6-pgsetup: would also %s: %s\n", ch.What, ch.Detail)
			}
		}
	default:
		printResult(stdout, res)
	}
	return code
}
