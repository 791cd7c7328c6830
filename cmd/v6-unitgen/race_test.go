package main

import (
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// TestMain lets the tests run this test binary as v6-unitgen itself: real second
// processes, not goroutines.
func TestMain(m *testing.M) {
	if os.Getenv("V6KIT_RUN_UNITGEN") == "1" {
		testenv.RaceChild()
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestTwoWritersOneUnitSet: a unit directory written once, then two v6-unitgen writing
// different sets into it at once (released together at a barrier), 100 rounds. Both
// exit 0 and the directory holds one of the two sets whole: never one's web unit beside
// the other's sidekiq units, no pending marker, no temp file.
func TestTwoWritersOneUnitSet(t *testing.T) {
	t.Parallel()
	args := [][]string{slices.Concat(split, []string{"--web-threads", "6"}), slices.Concat(split, []string{"--web-threads", "8"}), slices.Concat(split, []string{"--web-threads", "4"})}
	var ref []map[string]string
	for _, a := range args {
		dir := t.TempDir()
		code, _, stderr := runCLI(slices.Concat(a, []string{"--out", dir})...)
		require.Equal(t, 0, code, stderr)
		ref = append(ref, testenv.Snapshot(t, dir))
	}
	var c testenv.Tally
	testenv.Rounds(testenv.RaceRounds, 4, func(i int) {
		dir := t.TempDir()
		code, _, stderr := runCLI(slices.Concat(args[2], []string{"--out", dir})...)
		require.Equal(t, 0, code, stderr)
		cmd := func(a []string) *exec.Cmd {
			return testenv.Self([]string{"V6KIT_RUN_UNITGEN=1"}, slices.Concat(a, []string{"--out", dir})...)
		}
		res := testenv.RacePair(t, cmd(args[0]), cmd(args[1]))
		for _, r := range res {
			if r.Code != 0 {
				c.Add("failed instead of merging", "round %d: exit %d: %s", i, r.Code, r.Stderr)
				return
			}
		}
		if testenv.Which(testenv.Snapshot(t, dir), ref[0], ref[1]) < 0 {
			c.Add("mixed sets", "round %d: the units are neither set whole", i)
		}
		if l := testenv.Leftovers(t, dir); len(l) > 0 {
			c.Add("leftovers", "round %d: %v", i, l)
		}
	})
	c.Check(t, testenv.RaceRounds, "failed instead of merging", "mixed sets", "leftovers")
}
