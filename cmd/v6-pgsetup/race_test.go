package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
	// No --database: each role gets a block for all databases (pgsetup warns about the
	// widening), so a round is the role, its password and the read-merge-write of
	// pg_hba.conf with its reload; CREATE DATABASE (a template copy and a checkpoint,
	// about a second each here) is not what this test is about.
	for i := range testenv.RaceRounds {
		cmd := func(r string) *exec.Cmd {
			return testenv.Self([]string{"V6KIT_RUN_PGSETUP=1"}, "--dsn", pg.DSN(), "--hba", pg.HBAFile, "--role", r,
				"--password-file", pw, "--verify=false")
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
