package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/examples/internal/bundletest"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
)

const envPath = "home/mastodon/live/.env.production"

func TestGolden(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, stdout, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	snap := bundletest.Snapshot(t, out)
	bundletest.Golden(t, "testdata/ha.txtar",
		"go run ./examples/ha --out OUT: eight IPv6-only hosts, no single point of failure.",
		[][2]string{
			{"stdout", strings.ReplaceAll(stdout, out, "OUT")},
			{"stderr", stderr},
			{"files", bundletest.List(snap)},
			{"front1/etc/haproxy/haproxy.cfg", string(snap["front1/etc/haproxy/haproxy.cfg"].Data)},
			{"front1/etc/keepalived/keepalived.conf", string(snap["front1/etc/keepalived/keepalived.conf"].Data)},
			{"db1/etc/pgbouncer/pgbouncer.ini", string(snap["db1/etc/pgbouncer/pgbouncer.ini"].Data)},
			{"db1/NEXT-STEPS.md", string(snap["db1/NEXT-STEPS.md"].Data)},
			{"db2/NEXT-STEPS.md", string(snap["db2/NEXT-STEPS.md"].Data)},
			{"front1/NEXT-STEPS.md", string(snap["front1/NEXT-STEPS.md"].Data)},
			{"redis1/NEXT-STEPS.md", string(snap["redis1/NEXT-STEPS.md"].Data)},
		})
	assert.Equal(t, string(snap["web1/"+envPath].Data), string(snap["web2/"+envPath].Data), "one set of secrets on both app hosts")
	f, err := envfile.Parse(snap["web1/"+envPath].Data)
	require.NoError(t, err)
	get := func(k string) string { v, _ := f.Get(k); return v }
	rel := mastodon.Newest()
	assert.True(t, rel.ReplicaEnabled(get), "the replica is on for the release")
	assert.Equal(t, "6432", get("DB_PORT"))
	assert.Equal(t, "false", get("PREPARED_STATEMENTS"))
	hosts, _ := mastodon.SplitSentinels(get("REDIS_SENTINELS"), "26379")
	assert.Equal(t, []string{"sentinel1.ha.internal", "sentinel2.ha.internal", "sentinel3.ha.internal"}, hosts)
	// PgBouncer's userlist carries the verifier of DB_PASS, and db1's role SQL the same one.
	ul := string(snap["db1/etc/pgbouncer/userlist.txt"].Data)
	role := string(snap["db1/"+roleSQLPath].Data)
	ver := strings.Trim(strings.Fields(ul)[1], `"`)
	assert.Contains(t, role, "'"+ver+"'")
	assert.Equal(t, string(snap["redis1/etc/redis/mastodon.conf"].Data) != "", true)
	assert.Contains(t, string(snap["db2/etc/postgresql/15/main/conf.d/mastodon-replica.conf"].Data), "host=''fd7a:6b69:7400:30::31''")
}

func TestRerunChangesNothing(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	first := bundletest.Snapshot(t, out)
	rc, stdout, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	bundletest.RequireSame(t, first, bundletest.Snapshot(t, out))
	assert.NotContains(t, stdout, "written")
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"no Sentinel before 4.3", []string{"--mastodon", "4.2"}, []string{"REDIS_SENTINELS arrived in 4.3.0"}},
		{"PgBouncer's pools over max_connections", []string{"--pool-size", "120"}, []string{"pooler.server", "max_connections"}},
		{"failover address off the LAN", []string{"--vip", "fd7a:6b69:7400:99::100"}, []string{"outside the LAN prefix"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "cluster")
			rc, _, stderr := bundletest.Run(run, append([]string{"--out", out}, c.args...)...)
			require.Equal(t, 1, rc, stderr)
			for _, w := range append(c.want, "nothing was written") {
				assert.Contains(t, stderr, w)
			}
			_, err := os.Stat(out)
			assert.True(t, os.IsNotExist(err), "nothing may be written")
		})
	}
}

// TestRealValidators has the real servers read what the bundle holds.
func TestRealValidators(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	for _, host := range []string{"redis1", "redis2"} {
		require.NoError(t, testenv.RedisConfCheck(t, filepath.Join(out, host, bundle.RedisPath)))
	}
	for file, name := range map[string]string{"db1/etc/postgresql/15/main/conf.d/mastodon-primary.conf": "wal_level",
		"db2/etc/postgresql/15/main/conf.d/mastodon-replica.conf": "primary_slot_name"} {
		data, err := os.ReadFile(filepath.Join(out, file))
		require.NoError(t, err)
		_, err = testenv.PostgresConfCheck(t, data, name)
		require.NoError(t, err, file)
	}
}
