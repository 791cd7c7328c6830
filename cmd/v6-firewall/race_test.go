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

// TestTwoWritersOnePair: two runs with different flags writing the ruleset and the
// router ACL leave a pair from one run, never one run's ruleset beside the other's ACL.
func TestTwoWritersOnePair(t *testing.T) {
	t.Parallel()
	router := []string{"--router-host", "2001:db8::10", "--router-tunnel", "6"}
	args := [][]string{
		slices.Concat([]string{"--ssh-from", "2001:db8:a::/48", "--app", "2001:db8:1::/64"}, router),
		slices.Concat([]string{"--ssh-from", "2001:db8:b::/48", "--app", "2001:db8:2::/64"}, router),
	}
	var ref [][2]string
	for _, a := range args {
		dir := t.TempDir()
		out, rtx := filepath.Join(dir, "mastodon.nft"), filepath.Join(dir, "router.rtx")
		code, _, stderr := runCLI(slices.Concat(a, []string{"--out", out, "--router-out", rtx})...)
		require.Equal(t, 0, code, stderr)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		r, err := os.ReadFile(rtx)
		require.NoError(t, err)
		ref = append(ref, [2]string{string(b), string(r)})
	}
	require.NotEqual(t, ref[0][1], ref[1][1], "the two runs' ACLs must differ for the test to see a mix")
	var c testenv.Tally
	testenv.Rounds(testenv.RaceRounds, 4, func(i int) {
		dir := t.TempDir()
		out, rtx := filepath.Join(dir, "mastodon.nft"), filepath.Join(dir, "router.rtx")
		cmd := func(a []string) *exec.Cmd {
			return testenv.Self([]string{"V6KIT_RUN_FIREWALL=1"}, slices.Concat(a, []string{"--out", out, "--router-out", rtx})...)
		}
		res := testenv.RacePair(t, cmd(args[0]), cmd(args[1]))
		for _, r := range res {
			if r.Code != 0 {
				c.Add("failed instead of waiting", "round %d: exit %d: %s", i, r.Code, r.Stderr)
				return
			}
		}
		b, _ := os.ReadFile(out)
		r, _ := os.ReadFile(rtx)
		if !slices.Contains(ref, [2]string{string(b), string(r)}) {
			c.Add("mixed pair", "round %d: the ruleset and the ACL are not one run's", i)
		}
		if l := testenv.Leftovers(t, dir); len(l) > 0 {
			c.Add("leftovers", "round %d: %v", i, l)
		}
	})
	c.Check(t, testenv.RaceRounds, "failed instead of waiting", "mixed pair", "leftovers")
}
