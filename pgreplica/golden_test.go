package pgreplica_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/pgsetup"
)

func TestGolden(t *testing.T) {
	c := base()
	primary, err := c.PrimaryConf()
	require.NoError(t, err)
	replica, err := c.ReplicaConf()
	require.NoError(t, err)
	v, err := pgsetup.SCRAMVerifier(c.Password, zeros{})
	require.NoError(t, err)
	sqls, err := c.SetupSQL(v)
	require.NoError(t, err)
	env, ps := c.Env()
	require.NoError(t, ps.Err())
	var sql, e string
	for _, s := range sqls {
		sql += s + ";\n"
	}
	for _, x := range env {
		e += x.Key + "=" + x.Value + "\n"
	}
	golden.Check(t, "testdata/replica.txtar", "A primary and its streaming replica on fd00:db::/64, for the newest Mastodon.",
		golden.Section{Name: "primary.conf", Data: string(primary)},
		golden.Section{Name: "pg_hba.conf", Data: c.HBA()[0].String() + "\n"},
		golden.Section{Name: "setup.sql", Data: sql},
		golden.Section{Name: "replica.conf", Data: string(replica)},
		golden.Section{Name: ".env.production", Data: e})
}

// zeros is a deterministic salt source for the golden verifier.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
