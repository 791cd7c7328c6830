package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/pgsetup"
)

// TestTwoRunsOneHBA: two v6-pgsetup at once (released together at a barrier) against one
// real server, each putting a different role's block into its pg_hba.conf, 100 rounds.
// Both exit 0 and after each round both blocks are there, with every block of the
// rounds before: the block merge is a read-merge-write under the file's lock, so no
// update is lost.
func TestTwoRunsOneHBA(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	pw := filepath.Join(testenv.TempDir(t), "db-password")
	require.NoError(t, os.WriteFile(pw, []byte("a-long-random-db-password\n"), 0o600))
	var c testenv.Tally
	role := func(i int, s string) string { return fmt.Sprintf("race%d%s", i, s) }
	// The roles and their databases exist before the rounds (CREATE DATABASE copies a
	// template: 200 of them inside the rounds took most of five minutes under load), so
	// each round races what this test is about: the read-merge-write of pg_hba.conf and
	// the reload. pgsetup still checks each role, its password and its database.
	conn := pg.Conn(t)
	for i := range testenv.RaceRounds {
		for _, s := range []string{"a", "b"} {
			r := pgx.Identifier{role(i, s)}.Sanitize()
			_, err := conn.Exec(t.Context(), "CREATE ROLE "+r+" LOGIN PASSWORD 'a-long-random-db-password'")
			require.NoError(t, err)
			_, err = conn.Exec(t.Context(), "CREATE DATABASE "+r+" OWNER "+r+" ENCODING 'UTF8' TEMPLATE template0 STRATEGY file_copy")
			require.NoError(t, err)
		}
	}
	for i := range testenv.RaceRounds {
		cmd := func(r string) *exec.Cmd {
			return testenv.Self([]string{"V6KIT_RUN_PGSETUP=1"}, "--dsn", pg.DSN(), "--hba", pg.HBAFile, "--role", r,
				"--database", r, "--password-file", pw, "--verify=false")
		}
		res := testenv.RacePair(t, cmd(role(i, "a")), cmd(role(i, "b")))
		for _, r := range res {
			if r.Code != 0 {
				c.Add("failed instead of merging", "round %d: exit %d: %s", i, r.Code, r.Stderr)
			}
		}
		b, err := os.ReadFile(pg.HBAFile)
		require.NoError(t, err)
		f, err := pgsetup.ParseHBA(b)
		require.NoError(t, err)
		for j := 0; j <= i; j++ {
			for _, s := range []string{"a", "b"} {
				if _, ok := f.Block(pgsetup.Config{Role: role(j, s)}.BlockName()); !ok {
					c.Add("lost updates", "round %d: the block of %s is missing", i, role(j, s))
				}
			}
		}
	}
	c.Check(t, testenv.RaceRounds, "failed instead of merging", "lost updates")
}
