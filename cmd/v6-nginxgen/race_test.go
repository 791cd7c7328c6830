package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// TestMain lets the tests run this test binary as v6-nginxgen itself: real second
// processes, not goroutines.
func TestMain(m *testing.M) {
	if os.Getenv("V6KIT_RUN_NGINXGEN") == "1" {
		testenv.RaceChild()
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestTwoWritersOneSite: an existing site, then two v6-nginxgen writing different
// sites to it at once (released together at a barrier), 100 rounds. Both exit 0, the
// site is one of the two renders whole, and .v6kit-backup/ holds exactly the original
// and the other render: every version that was replaced was backed up once (zero lost
// updates), no backup was overwritten or written twice.
func TestTwoWritersOneSite(t *testing.T) {
	t.Parallel()
	args := [][]string{{"--domain", "one.example.org"}, {"--domain", "two.example.org"}, {"--domain", "zero.example.org"}}
	var ref []string
	for _, a := range args {
		out := filepath.Join(t.TempDir(), "mastodon")
		code, _, stderr := runCLI(slices.Concat(a, []string{"--out", out})...)
		require.Equal(t, 0, code, stderr)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		ref = append(ref, string(b))
	}
	var c testenv.Tally
	testenv.Rounds(testenv.RaceRounds, 4, func(i int) {
		dir := t.TempDir()
		out := filepath.Join(dir, "mastodon")
		require.NoError(t, os.WriteFile(out, []byte(ref[2]), 0o644))
		cmd := func(a []string) *exec.Cmd {
			return testenv.Self([]string{"V6KIT_RUN_NGINXGEN=1"}, slices.Concat(a, []string{"--out", out})...)
		}
		res := testenv.RacePair(t, cmd(args[0]), cmd(args[1]))
		for _, r := range res {
			if r.Code != 0 {
				c.Add("failed instead of merging", "round %d: exit %d: %s", i, r.Code, r.Stderr)
				return
			}
		}
		b, _ := os.ReadFile(out)
		final := slices.Index(ref[:2], string(b))
		if final < 0 {
			c.Add("lost updates", "round %d: the site is neither render:\n%s", i, b)
			return
		}
		ents, _ := os.ReadDir(filepath.Join(dir, ".v6kit-backup"))
		var baks []string
		for _, e := range ents {
			bb, _ := os.ReadFile(filepath.Join(dir, ".v6kit-backup", e.Name()))
			baks = append(baks, string(bb))
		}
		slices.Sort(baks)
		want := []string{ref[2], ref[1-final]}
		slices.Sort(want)
		if !slices.Equal(baks, want) {
			c.Add("lost updates", "round %d: %d backups, want the original and the other render", i, len(baks))
		}
		if l := testenv.Leftovers(t, dir); len(l) > 0 {
			c.Add("leftovers", "round %d: %v", i, l)
		}
	})
	c.Check(t, testenv.RaceRounds, "failed instead of merging", "lost updates", "leftovers")
}
