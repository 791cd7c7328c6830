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

// TestMain lets the tests run this test binary as v6-firewall itself: real second
// processes, not goroutines.
func TestMain(m *testing.M) {
	if os.Getenv("V6KIT_RUN_FIREWALL") == "1" {
		testenv.RaceChild()
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestTwoWritersOneRuleset: a ruleset written once, then two v6-firewall writing
// different rulesets to it at once (released together at a barrier), 100 rounds. Both
// exit 0, the file is one of the two renders whole, and no temp file is left.
func TestTwoWritersOneRuleset(t *testing.T) {
	t.Parallel()
	args := [][]string{{"--ssh-from", "2001:db8:a::/48"}, {"--ssh-from", "2001:db8:b::/48"}, {"--ssh-from", "off"}}
	var ref []string
	for _, a := range args {
		out := filepath.Join(t.TempDir(), "mastodon.nft")
		code, _, stderr := runCLI(slices.Concat(a, []string{"--out", out})...)
		require.Equal(t, 0, code, stderr)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		ref = append(ref, string(b))
	}
	var c testenv.Tally
	testenv.Rounds(testenv.RaceRounds, 4, func(i int) {
		dir := t.TempDir()
		out := filepath.Join(dir, "mastodon.nft")
		require.NoError(t, os.WriteFile(out, []byte(ref[2]), 0o644))
		cmd := func(a []string) *exec.Cmd {
			return testenv.Self([]string{"V6KIT_RUN_FIREWALL=1"}, slices.Concat(a, []string{"--out", out})...)
		}
		res := testenv.RacePair(t, cmd(args[0]), cmd(args[1]))
		for _, r := range res {
			if r.Code != 0 {
				c.Add("failed instead of merging", "round %d: exit %d: %s", i, r.Code, r.Stderr)
				return
			}
		}
		b, _ := os.ReadFile(out)
		if !slices.Contains(ref[:2], string(b)) {
			c.Add("lost updates", "round %d: the ruleset is neither render", i)
		}
		if l := testenv.Leftovers(t, dir); len(l) > 0 {
			c.Add("leftovers", "round %d: %v", i, l)
		}
	})
	c.Check(t, testenv.RaceRounds, "failed instead of merging", "lost updates", "leftovers")
}
