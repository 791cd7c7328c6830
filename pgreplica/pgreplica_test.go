package pgreplica_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgreplica"
)

func base() pgreplica.Config {
	return pgreplica.Config{Primary: netip.MustParseAddr("fd00:db::11"), Replica: netip.MustParseAddr("fd00:db::12"),
		ReplicaPrefix: netip.MustParsePrefix("fd00:db::/64"), Password: "replication-secret-0123456789"}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		edit func(*pgreplica.Config)
		path string
		err  error
	}{
		"no primary":        {func(c *pgreplica.Config) { c.Primary = netip.Addr{} }, "primary", pgreplica.ErrPrimary},
		"zoned replica":     {func(c *pgreplica.Config) { c.Replica = netip.MustParseAddr("fe80::1%eth0") }, "replica", pgreplica.ErrReplica},
		"prefix host bits":  {func(c *pgreplica.Config) { c.ReplicaPrefix = netip.MustParsePrefix("fd00:db::1/64") }, "replica_prefix", pgreplica.ErrPrefix},
		"replica outside":   {func(c *pgreplica.Config) { c.ReplicaPrefix = netip.MustParsePrefix("fd00:dc::/64") }, "replica_prefix", pgreplica.ErrPrefix},
		"short password":    {func(c *pgreplica.Config) { c.Password = "short" }, "password", pgreplica.ErrPassword},
		"quote in password": {func(c *pgreplica.Config) { c.Password = "0123456789abcdef'x" }, "password", pgreplica.ErrPassword},
		"bad slot":          {func(c *pgreplica.Config) { c.Slot = "Slot-1" }, "slot", pgreplica.ErrName},
		"bad sslmode":       {func(c *pgreplica.Config) { c.SSLMode = "maybe" }, "sslmode", pgreplica.ErrSSLMode},
		"bad port":          {func(c *pgreplica.Config) { c.Port = 70000 }, "port", pgreplica.ErrPort},
	} {
		t.Run(name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			ps := c.Validate()
			require.True(t, ps.HasErrors())
			assert.Equal(t, tc.path, ps.Errors()[0].Path)
			assert.ErrorIs(t, ps.Err(), tc.err)
			_, err := c.ReplicaConf()
			assert.Error(t, err, "nothing is rendered from an invalid config")
			_, err = c.PrimaryConf()
			assert.Error(t, err)
		})
	}
	require.NoError(t, base().Validate().Err())
}

func TestReplicaConfQuotesIPv6(t *testing.T) {
	t.Parallel()
	c := base()
	out, err := c.ReplicaConf()
	require.NoError(t, err)
	assert.Contains(t, string(out), `primary_conninfo = 'host=''fd00:db::11'' port=''5432'' user=''replicator'' password=''replication-secret-0123456789'' application_name=''mastodon_replica'' sslmode=''prefer'''`)
	assert.Contains(t, string(out), "listen_addresses = '::1, fd00:db::12'")
	assert.Contains(t, string(out), "primary_slot_name = 'mastodon_replica'")
	// The real server reads the snippet and resolves the conninfo as written.
	got, err := testenv.PostgresConfCheck(t, out, "primary_conninfo")
	require.NoError(t, err)
	assert.Equal(t, c.PrimaryConninfo(), got)
	p, err := c.PrimaryConf()
	require.NoError(t, err)
	got, err = testenv.PostgresConfCheck(t, p, "wal_level")
	require.NoError(t, err)
	assert.Equal(t, "replica", got)
	assert.Equal(t, "host      replication             replicator      fd00:db::/64            scram-sha-256", c.HBA()[0].String())
}

func TestEnvPerRelease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rel  string
		keys string
		err  error
	}{
		{"4.1", "", pgreplica.ErrRelease},
		{"3.5", "", pgreplica.ErrRelease},
		{"4.2.0", "REPLICA_DB_HOST REPLICA_DB_PORT REPLICA_DB_NAME REPLICA_DB_USER", nil},
		{"4.5.3", "REPLICA_DB_HOST REPLICA_DB_PORT REPLICA_DB_NAME REPLICA_DB_USER REPLICA_PREPARED_STATEMENTS REPLICA_DB_TASKS", nil},
		{"4.7", "REPLICA_DB_HOST REPLICA_DB_PORT REPLICA_DB_NAME REPLICA_DB_USER REPLICA_PREPARED_STATEMENTS REPLICA_DB_TASKS", nil},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			c := base()
			c.Release = mastodon.MustLookup(tc.rel)
			no := false
			c.PreparedStatements = &no
			env, ps := c.Env()
			if tc.err != nil {
				require.ErrorIs(t, ps.Err(), tc.err)
				assert.Contains(t, ps.Err().Error(), "4.2.0")
				assert.Nil(t, env)
				return
			}
			require.NoError(t, ps.Err())
			var keys []string
			get := map[string]string{}
			for _, e := range env {
				keys = append(keys, e.Key)
				get[e.Key] = e.Value
			}
			assert.Equal(t, tc.keys, strings.Join(keys, " "))
			assert.True(t, c.Release.ReplicaEnabled(func(k string) string { return get[k] }))
		})
	}
}

func TestEnvRefusesColonHost(t *testing.T) {
	t.Parallel()
	c := base()
	c.Replica = netip.MustParseAddr("::1")
	c.ReplicaPrefix = netip.MustParsePrefix("::1/128")
	_, ps := c.Env()
	require.ErrorIs(t, ps.Err(), pgreplica.ErrDBHost)
}
