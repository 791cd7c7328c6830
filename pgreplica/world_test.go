package pgreplica_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/pgconnect"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgreplica"
	"github.com/v6kit/v6kit/pgsetup"
)

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }

const appPassword = "app-password-0123456789abcdef"

// worldPrimary starts db1 (primary, rendered conf and pg_hba) and returns the cluster, a
// superuser connection and the LAN's namespace names (db1, db2, web1).
func worldPrimary(t *testing.T, cfg pgreplica.Config, db1, db2, web1 netip.Addr) (*testenv.World, []string, *testenv.Postgres, *pgx.Conn) {
	t.Helper()
	testenv.RequireRoot(t)
	w := testenv.NewWorld(t, testenv.WorldOptions{})
	names, err := w.AddLAN(cfg.ReplicaPrefix, db1, db2, web1)
	require.NoError(t, err)
	dir := testenv.TempDir(t)
	conf, err := cfg.PrimaryConf()
	require.NoError(t, err)
	pconf := filepath.Join(dir, "primary.conf")
	require.NoError(t, os.WriteFile(pconf, conf, 0o644))
	p := w.StartE2EPostgres(t, names[0], cfg.Port, pconf)
	conn := p.Conn(t)
	ctx := context.Background()

	// pg_hba: the rendered replication rule and the app's rule, ahead of the template's.
	hba, err := os.ReadFile(p.HBAFile)
	require.NoError(t, err)
	app := pgsetup.HBARule{Type: pgsetup.Host, Databases: []string{"all"}, Users: []string{"mastodon"}, Address: cfg.ReplicaPrefix, Method: pgsetup.ScramSHA256}
	var lines string
	for _, r := range append(cfg.HBA(), app) {
		require.NoError(t, r.Validate().Err())
		lines += r.String() + "\n"
	}
	require.NoError(t, os.WriteFile(p.HBAFile, append([]byte(lines), hba...), 0o600))

	ver, err := pgsetup.SCRAMVerifier(cfg.Password, nil)
	require.NoError(t, err)
	sqls, err := cfg.SetupSQL(ver)
	require.NoError(t, err)
	appVer, err := pgsetup.SCRAMVerifier(appPassword, nil)
	require.NoError(t, err)
	sqls = append(sqls, "CREATE ROLE mastodon LOGIN PASSWORD '"+appVer+"'", "CREATE DATABASE mastodon_production OWNER mastodon",
		"SELECT pg_reload_conf()")
	for _, q := range sqls {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	return w, names, p, conn
}

// envConn connects from node the way Mastodon reads the replica: REPLICA_DB_* falling
// back to DB_* (here DB_PASS).
func envConn(t *testing.T, w *testenv.World, node string, env []pgreplica.EnvVar) *pgx.Conn {
	t.Helper()
	get := map[string]string{}
	for _, e := range env {
		get[e.Key] = e.Value
	}
	port, err := strconv.Atoi(get["REPLICA_DB_PORT"])
	require.NoError(t, err)
	cfg, err := pgconnect.Params{Host: get["REPLICA_DB_HOST"], Port: uint16(port), User: get["REPLICA_DB_USER"],
		Password: appPassword, Database: get["REPLICA_DB_NAME"], SSLMode: "disable",
		ConnectTimeout: 10 * time.Second, DialFunc: w.Dialer(node).DialContext}.Config()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// TestReplicaStreamsOverIPv6 renders a primary and a replica on an IPv6-only ULA LAN,
// clones the replica with pg_basebackup through the rendered replication rule, and
// shows a row written on the primary read on the replica — from an app host, with the
// rendered REPLICA_DB_* values — within a bounded time, over the rendered slot.
func TestReplicaStreamsOverIPv6(t *testing.T) {
	prefix := netip.MustParsePrefix("fd6e:7465:7374:10::/64")
	db1, db2, web1 := netip.MustParseAddr("fd6e:7465:7374:10::11"), netip.MustParseAddr("fd6e:7465:7374:10::12"), netip.MustParseAddr("fd6e:7465:7374:10::21")
	cfg := pgreplica.Config{Release: mastodon.MustLookup("4.5.3"), Primary: db1, Replica: db2, ReplicaPrefix: prefix,
		Port: 5432, Password: "replication-secret-0123456789"}
	w, names, _, conn := worldPrimary(t, cfg, db1, db2, web1)
	ctx := context.Background()

	rconf, err := cfg.ReplicaConf()
	require.NoError(t, err)
	dir := testenv.TempDir(t)
	rfile := filepath.Join(dir, "replica.conf")
	require.NoError(t, os.WriteFile(rfile, rconf, 0o644))
	start := time.Now()
	w.StartReplicaPostgres(t, names[1], db1, cfg.Port, "replicator", cfg.Password,
		map[string][]byte{pgreplica.StandbySignal: nil}, rfile)
	t.Logf("replica cloned and started in %v", time.Since(start).Round(time.Millisecond))

	env, ps := cfg.Env()
	require.NoError(t, ps.Err())
	get := func(k string) string {
		for _, e := range env {
			if e.Key == k {
				return e.Value
			}
		}
		return ""
	}
	// The release the env was rendered for (4.5.3, inside the HOST-alone bug) routes reads.
	require.True(t, cfg.Release.ReplicaEnabled(get), "env %v", env)
	require.False(t, cfg.Release.ReplicaEnabled(func(k string) string {
		if k == "REPLICA_DB_HOST" {
			return get(k)
		}
		return ""
	}), "4.5.3 ignores REPLICA_DB_HOST alone")

	// Write on the primary as the app, read on the replica as the app would.
	primaryApp := envConn(t, w, names[2], []pgreplica.EnvVar{{"REPLICA_DB_HOST", db1.String()}, {"REPLICA_DB_PORT", "5432"},
		{"REPLICA_DB_NAME", "mastodon_production"}, {"REPLICA_DB_USER", "mastodon"}})
	_, err = primaryApp.Exec(ctx, "CREATE TABLE statuses (id bigint PRIMARY KEY, text text)")
	require.NoError(t, err)
	replica := envConn(t, w, names[2], env)
	var inRecovery bool
	require.NoError(t, replica.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery))
	require.True(t, inRecovery, "REPLICA_DB_* must reach the standby")

	var worst time.Duration
	for i := 1; i <= 20; i++ {
		_, err = primaryApp.Exec(ctx, "INSERT INTO statuses VALUES ($1, 'toot over IPv6')", i)
		require.NoError(t, err)
		written := time.Now()
		deadline := written.Add(10 * time.Second)
		for {
			var n int
			err := replica.QueryRow(ctx, "SELECT count(*) FROM statuses WHERE id = $1", i).Scan(&n)
			if err == nil && n == 1 {
				break
			}
			require.True(t, time.Now().Before(deadline), "row %d not on the replica after 10 s (err %v)", i, err)
			time.Sleep(5 * time.Millisecond)
		}
		worst = max(worst, time.Since(written))
	}
	t.Logf("20 rows written on the primary each read on the replica within %v (bound 10 s)", worst.Round(time.Millisecond))

	// The replica streams over IPv6 from the replica prefix, through the rendered slot.
	var state, client, slot string
	require.NoError(t, conn.QueryRow(ctx, "SELECT state, host(client_addr), application_name FROM pg_stat_replication").Scan(&state, &client, &slot))
	require.Equal(t, "streaming", state)
	require.Equal(t, db2.String(), client)
	require.Equal(t, "mastodon_replica", slot)
	var active bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = 'mastodon_replica'").Scan(&active))
	require.True(t, active)

	// Writes on the standby are refused: the replica is read-only, as Mastodon expects.
	_, err = replica.Exec(ctx, "INSERT INTO statuses VALUES (999, 'nope')")
	require.ErrorContains(t, err, "read-only")
}
