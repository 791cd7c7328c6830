package pgbouncer_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/pgbouncer"
	"github.com/v6kit/v6kit/units"
)

func TestGolden(t *testing.T) {
	c := pgbouncer.Config{
		Listen:   []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("fd00:db::11")},
		Server:   netip.MustParseAddr("fd00:db::11"),
		Verifier: "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$c3RvcmVk:c2VydmVy",
		Pool: units.PoolerBudget{Clients: units.Budget{WebHosts: 2, Sidekiq: []int{25, 10}, StreamingInstances: 2},
			MaxClientConn: 200, DefaultPoolSize: 30, ReservePoolSize: 5, MaxConnections: 100},
	}
	ini, err := c.Bytes()
	require.NoError(t, err)
	ul, err := c.Userlist()
	require.NoError(t, err)
	golden.Check(t, "testdata/pgbouncer.txtar", "PgBouncer on ::1 and db1's ULA address before PostgreSQL on db1.",
		golden.Section{Name: "pgbouncer.ini", Data: string(ini)}, golden.Section{Name: "userlist.txt", Data: string(ul)})
}
