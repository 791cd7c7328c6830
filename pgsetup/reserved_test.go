package pgsetup

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// TestReservedRolesAndDatabasesRefusedFirst: PostgreSQL's own roles and databases, and
// an existing superuser role, are refused before anything is touched: pg_hba.conf is
// byte for byte as before and no role or database was created.
func TestReservedRolesAndDatabasesRefusedFirst(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	conn := pg.Conn(t)
	_, err := conn.Exec(ctx, `CREATE ROLE admin2 SUPERUSER LOGIN`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE ROLE owner2`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE DATABASE theirs OWNER owner2`)
	require.NoError(t, err)
	before, err := os.ReadFile(pg.HBAFile)
	require.NoError(t, err)
	for _, c := range []struct {
		name, role, db, want string
	}{
		{"bootstrap superuser", "postgres", "mastodon_production", "PostgreSQL's own"},
		{"public", "public", "mastodon_production", "PostgreSQL's own"},
		{"pg_ prefix", "pg_monitor", "", "reserved prefix"},
		{"postgres database", "mastodon", "postgres", "PostgreSQL's own databases"},
		{"template database", "mastodon", "template1", "PostgreSQL's own databases"},
		{"existing superuser", "admin2", "mastodon_production", "superuser"},
		{"database of another role", "mastodon", "theirs", `owned by "owner2"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Run(ctx, Config{DSN: pg.DSN(), Role: c.role, Database: c.db, Password: testPassword}, false)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Empty(t, res.Changes)
			after, _ := os.ReadFile(pg.HBAFile)
			assert.Equal(t, string(before), string(after), "pg_hba.conf untouched")
		})
	}
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = 'mastodon'`).Scan(&n))
	assert.Zero(t, n, "no role created")
}
