package network_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/network"
)

// TestLocalPostgresIgnoresEnvironment: the PostgreSQL login of the local checks uses
// only Options, whatever PG* variables (PGPASSWORD, PGSSLMODE=require, PGSSLROOTCERT,
// PGOPTIONS …) and ~/.pgpass the operator has.
func TestLocalPostgresIgnoresEnvironment(t *testing.T) {
	s := newLoopSite(t, loopConfig{})
	pg := testenv.StartPostgres(t)
	testenv.PostgresHostileEnv(t)

	o := s.options()
	o.Local = true
	o.WebBind = netip.AddrPortFrom(netip.IPv6Loopback(), uint16(testenv.FreePort(t)))
	o.StreamingBind = netip.AddrPortFrom(netip.IPv6Loopback(), uint16(testenv.FreePort(t)))
	o.RedisPort = uint16(testenv.FreePort(t))
	o.PostgresPort = uint16(pg.Port)
	o.PostgresUser = "postgres"
	o.PostgresPassword = testenv.PostgresSuperPassword
	o.PostgresDatabase = "postgres"
	rep := probeLoop(t, o, 60*time.Second)
	for _, id := range []string{"local.postgres@::1", "local.postgres@127.0.0.1"} {
		c, ok := rep.Find(id)
		require.True(t, ok, id)
		assert.Equal(t, network.OK, c.State, "%s: %s", id, c.Detail)
		assert.NotEmpty(t, c.Values["server_version"], id)
	}
	log := pg.LogText()
	assert.Contains(t, log, "application_name=v6kit-probe")
	assert.NotContains(t, log, "application_name=hostile")

	// A wrong password in Options is not rescued by PGPASSWORD or a pgpass file: the
	// login is refused, with the pg_hba.conf hint.
	o.PostgresPassword = "wrong-in-options"
	rep = probeLoop(t, o, 60*time.Second)
	c, _ := rep.Find("local.postgres@::1")
	assert.Equal(t, network.Fail, c.State)
	assert.Contains(t, c.Detail, "password authentication failed")
	assert.Contains(t, c.Hint, "pg_hba.conf")
}
