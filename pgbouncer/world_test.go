package pgbouncer_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/pgconnect"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/pgbouncer"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/units"
)

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }

// TestTransactionPoolingBudget puts the rendered PgBouncer in front of PostgreSQL
// (max_connections 40) on an IPv6-only LAN; 200 clients — the web hosts' pools, 100 from
// each of two app hosts — connect first and then, released together at a barrier, run
// transactions through it at once. PostgreSQL never sees more than the budget's server
// side, and pg_stat_activity's peak is exactly the pool size the renderer printed.
func TestTransactionPoolingBudget(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.HATools(t, "pgbouncer", "setpriv")
	prefix := netip.MustParsePrefix("fd6e:7465:7374:11::/64")
	db1 := netip.MustParseAddr("fd6e:7465:7374:11::11")
	web := []netip.Addr{netip.MustParseAddr("fd6e:7465:7374:11::21"), netip.MustParseAddr("fd6e:7465:7374:11::22")}
	w := testenv.NewWorld(t, testenv.WorldOptions{})
	names, err := w.AddLAN(prefix, append([]netip.Addr{db1}, web...)...)
	require.NoError(t, err)
	ctx := context.Background()

	const maxConnections = 40
	dir := testenv.TempDir(t)
	pconf := filepath.Join(dir, "pg.conf")
	require.NoError(t, os.WriteFile(pconf, []byte("listen_addresses = '::1, "+db1.String()+"'\nmax_connections = "+strconv.Itoa(maxConnections)+"\n"), 0o644))
	pg := w.StartE2EPostgres(t, names[0], 5432, pconf)
	super := pg.Conn(t)
	const password = "app-password-0123456789abcdef"
	verifier, err := pgsetup.SCRAMVerifier(password, nil)
	require.NoError(t, err)
	for _, q := range []string{"CREATE ROLE mastodon LOGIN PASSWORD '" + verifier + "'", "CREATE DATABASE mastodon_production OWNER mastodon"} {
		_, err := super.Exec(ctx, q)
		require.NoError(t, err)
	}
	// PgBouncer logs in from db1's own address.
	hba, _ := os.ReadFile(pg.HBAFile)
	rule := pgsetup.HBARule{Type: pgsetup.Host, Databases: []string{"mastodon_production"}, Users: []string{"mastodon"}, Address: netip.PrefixFrom(db1, 128), Method: pgsetup.ScramSHA256}
	require.NoError(t, os.WriteFile(pg.HBAFile, append([]byte(rule.String()+"\n"), hba...), 0o600))
	_, err = super.Exec(ctx, "SELECT pg_reload_conf()")
	require.NoError(t, err)

	sock := filepath.Join(dir, "sock")
	require.NoError(t, os.Mkdir(sock, 0o755))
	cfg := pgbouncer.Config{
		Listen: []netip.Addr{netip.MustParseAddr("::1"), db1}, Server: db1, Verifier: verifier,
		SocketDir: sock, UserlistPath: filepath.Join(dir, "userlist.txt"),
		Pool: units.PoolerBudget{
			Clients:       units.Budget{WebHosts: 2, WebWorkers: 5, WebThreads: 10, Sidekiq: []int{40, 40}, StreamingInstances: 2},
			MaxClientConn: 250, DefaultPoolSize: 20, MaxConnections: maxConnections,
		},
	}
	ini := filepath.Join(dir, "pgbouncer.ini")
	_, err = cfg.WriteFiles(ini, cfg.UserlistPath)
	require.NoError(t, err)
	testenv.Chown(t, "postgres", sock, ini, cfg.UserlistPath)
	budget := cfg.Budget()
	t.Logf("rendered budget:\n  %s\n  %s", budget.ClientFormula, budget.ServerFormula)
	require.Equal(t, 200, budget.Clients)

	bouncer := w.StartDaemon(t, names[0], "postgres", syscall.SIGINT, "pgbouncer", ini)
	require.NoError(t, w.WaitDial(names[1], bouncer, netip.AddrPortFrom(db1, 6432).String(), 20*time.Second), bouncer.LogText())

	env, ps := cfg.Env()
	require.NoError(t, ps.Err())
	vals := map[string]string{}
	for _, e := range env {
		vals[e.Key] = e.Value
	}
	require.Equal(t, map[string]string{"DB_HOST": db1.String(), "DB_PORT": "6432", "PREPARED_STATEMENTS": "false"}, vals)
	port, _ := strconv.Atoi(vals["DB_PORT"])

	// Sample PostgreSQL's client backends while the load runs.
	stop := make(chan struct{})
	var peakApp, peakAll atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var app, all int64
			if err := super.QueryRow(ctx, `SELECT count(*) FILTER (WHERE usename = 'mastodon'), count(*)
				FROM pg_stat_activity WHERE backend_type = 'client backend'`).Scan(&app, &all); err == nil {
				if app > peakApp.Load() {
					peakApp.Store(app)
				}
				if all > peakAll.Load() {
					peakAll.Store(all)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	const clients = 200
	var wg, connected sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	// A barrier: every client first connects, then all run their transactions at once,
	// so PgBouncer holds 200 client connections together over its pool, not a stream.
	start := make(chan struct{})
	connected.Add(clients)
	begin := time.Now()
	for i := range clients {
		wg.Add(1)
		go func(node string) {
			defer wg.Done()
			// Each client is one pooled connection of an app process, configured from the env.
			pc, err := pgconnect.Params{Host: vals["DB_HOST"], Port: uint16(port), User: "mastodon", Password: password,
				Database: "mastodon_production", SSLMode: "disable", ConnectTimeout: 30 * time.Second,
				DialFunc: w.Dialer(node).DialContext}.Config()
			var c *pgx.Conn
			if err == nil {
				// PREPARED_STATEMENTS=false: no server-side prepared statements.
				pc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
				cctx, cancel := context.WithTimeout(ctx, 40*time.Second)
				c, err = pgx.ConnectConfig(cctx, pc)
				cancel()
			}
			connected.Done()
			<-start
			if err == nil {
				qctx, cancel := context.WithTimeout(ctx, 40*time.Second)
				for j := 0; j < 5 && err == nil; j++ {
					_, err = c.Exec(qctx, "SELECT pg_sleep(0.05)")
				}
				cancel()
				_ = c.Close(ctx)
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}(names[1+i%2])
	}
	connected.Wait()
	t.Logf("%d clients connected to PgBouncer at once in %v", clients, time.Since(begin).Round(time.Millisecond))
	begin = time.Now()
	close(start)
	wg.Wait()
	close(stop)
	<-sampled
	t.Logf("%d clients × 5 transactions through PgBouncer in %v; pg_stat_activity peak: %d mastodon backends, %d client backends in all (max_connections %d)",
		clients, time.Since(begin).Round(time.Millisecond), peakApp.Load(), peakAll.Load(), maxConnections)
	require.Zero(t, failed.Load(), "failed clients; first error: %v\n%s", firstErr.Load(), bouncer.LogText())
	// PgBouncer keeps its server connections after the load (server_idle_timeout 600 s):
	// their number is the pool it grew to, which must be the printed one (the sampled
	// peak can miss a connection that lived between two samples on a loaded machine).
	var pooled int64
	require.NoError(t, super.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = 'mastodon'`).Scan(&pooled))
	t.Logf("after the load PgBouncer holds %d server connections (printed pool %d)", pooled, budget.PerPool)
	require.Equal(t, int64(budget.PerPool), max(pooled, peakApp.Load()), "the pool PgBouncer keeps is the printed one")
	require.LessOrEqual(t, peakApp.Load(), int64(budget.PerPool), "never more than the printed pool")
	require.LessOrEqual(t, peakAll.Load(), int64(budget.Server), "PostgreSQL sees no more than the budget's server side")
	require.Less(t, peakAll.Load(), int64(maxConnections))
}
