package pgbouncer_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/pgbouncer"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/units"
)

func base(t *testing.T) pgbouncer.Config {
	v, err := pgsetup.SCRAMVerifier("app-password-0123456789abcdef", nil)
	require.NoError(t, err)
	return pgbouncer.Config{Listen: []netip.Addr{netip.MustParseAddr("fd00:db::11")}, Server: netip.MustParseAddr("::1"), Verifier: v}
}

func TestOverBudgetWritesNothing(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		pool units.PoolerBudget
		path string
	}{
		"clients over max_client_conn": {units.PoolerBudget{Clients: units.Budget{WebHosts: 4, WebThreads: 10, Sidekiq: []int{25}}, MaxClientConn: 100}, "pooler.clients"},
		"server over max_connections":  {units.PoolerBudget{DefaultPoolSize: 90, ReservePoolSize: 10, MaxConnections: 100}, "pooler.server"},
		"negative pool":                {units.PoolerBudget{DefaultPoolSize: -1}, "pooler.default_pool_size"},
	} {
		t.Run(name, func(t *testing.T) {
			c := base(t)
			c.Pool = tc.pool
			ps := c.Validate()
			require.True(t, ps.HasErrors())
			assert.Equal(t, tc.path, ps.Errors()[0].Path)
			assert.ErrorIs(t, ps.Err(), units.ErrOverBudget)
			dir := t.TempDir()
			ini, ul := filepath.Join(dir, "pgbouncer.ini"), filepath.Join(dir, "userlist.txt")
			_, err := c.WriteFiles(ini, ul)
			require.Error(t, err)
			_, err = os.Stat(ini)
			assert.True(t, os.IsNotExist(err), "nothing written")
			_, err = os.Stat(ul)
			assert.True(t, os.IsNotExist(err), "nothing written")
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		edit func(*pgbouncer.Config)
		path string
		err  error
	}{
		"no verifier":      {func(c *pgbouncer.Config) { c.Verifier = "plaintext" }, "verifier", pgbouncer.ErrVerifier},
		"same port":        {func(c *pgbouncer.Config) { c.Listen = []netip.Addr{c.Server}; c.Port = 5432 }, "port", pgbouncer.ErrPort},
		"zoned listen":     {func(c *pgbouncer.Config) { c.Listen = []netip.Addr{netip.MustParseAddr("fe80::1%eth0")} }, "listen[0]", pgbouncer.ErrListen},
		"bad db name":      {func(c *pgbouncer.Config) { c.DBName = "x y" }, "db_name", pgbouncer.ErrName},
		"client not bound": {func(c *pgbouncer.Config) { c.ClientAddr = netip.MustParseAddr("fd00:db::99") }, "client_addr", pgbouncer.ErrClientIP},
	} {
		t.Run(name, func(t *testing.T) {
			c := base(t)
			tc.edit(&c)
			ps := c.Validate()
			require.True(t, ps.HasErrors(), "%v", ps)
			assert.Equal(t, tc.path, ps.Errors()[0].Path)
			assert.ErrorIs(t, ps.Err(), tc.err)
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	c := base(t)
	b, err := c.Bytes()
	require.NoError(t, err)
	s := string(b)
	for _, want := range []string{"mastodon_production = host=::1 port=5432 dbname=mastodon_production\n", "listen_addr = fd00:db::11\n",
		"listen_port = 6432\n", "pool_mode = transaction\n", "auth_type = scram-sha-256\n", "max_db_connections = 20\n"} {
		assert.Contains(t, s, want)
	}
	u, err := c.Userlist()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(u), `"mastodon" "SCRAM-SHA-256$4096:`))
	assert.Equal(t, "RAILS_ENV=production DB_HOST=::1 DB_PORT=5432 bundle exec rails db:migrate", c.MigrateCommand())
	c.Listen = nil
	_, ps := c.Env()
	require.ErrorIs(t, ps.Err(), pgbouncer.ErrClientIP, "DB_HOST=::1 is a Ruby symbol in database.yml")
}
