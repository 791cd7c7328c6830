package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// TestMain lets the tests run this test binary as v6-egress itself: real second
// processes, not goroutines.
func TestMain(m *testing.M) {
	if os.Getenv("V6KIT_RUN_EGRESS") == "1" {
		testenv.RaceChild()
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestTwoWritersOneOut: an --out written once, then two v6-egress writing different
// gateways into it at once (released together at a barrier), 100 rounds. Both exit 0 and
// --out holds one run's gateway/ and mastodon/ whole: never one's gateway beside the
// other's host files, no marker, no temp file.
func TestTwoWritersOneOut(t *testing.T) {
	t.Parallel()
	base := []string{"nat64", "--clients", "2001:db8:1::/64", "--lan", "192.168.1.0/24"}
	args := [][]string{
		slices.Concat(base, []string{"--dns64", "2001:db8:1::1"}),
		slices.Concat(base, []string{"--dns64", "2001:db8:1::2"}),
		slices.Concat(base, []string{"--dns64", "2001:db8:1::3"}),
	}
	var ref []map[string]string
	for _, a := range args {
		out := filepath.Join(t.TempDir(), "egress")
		var so, se strings.Builder
		require.Equal(t, 0, run(slices.Concat(a, []string{"--out", out}), &so, &se), se.String())
		ref = append(ref, testenv.Snapshot(t, out))
	}
	require.NotEqual(t, ref[0], ref[1])
	var c testenv.Tally
	testenv.Rounds(testenv.RaceRounds, 4, func(i int) {
		out := filepath.Join(t.TempDir(), "egress")
		var so, se strings.Builder
		require.Equal(t, 0, run(slices.Concat(args[2], []string{"--out", out}), &so, &se), se.String())
		cmd := func(a []string) *exec.Cmd {
			return testenv.Self([]string{"V6KIT_RUN_EGRESS=1"}, slices.Concat(a, []string{"--out", out})...)
		}
		res := testenv.RacePair(t, cmd(args[0]), cmd(args[1]))
		for _, r := range res {
			if r.Code != 0 {
				c.Add("failed instead of merging", "round %d: exit %d: %s", i, r.Code, r.Stderr)
				return
			}
		}
		if testenv.Which(testenv.Snapshot(t, out), ref[0], ref[1]) < 0 {
			c.Add("mixed sets", "round %d: --out holds neither run whole", i)
		}
		if l := testenv.Leftovers(t, filepath.Dir(out)); len(l) > 0 {
			c.Add("leftovers", "round %d: %v", i, l)
		}
	})
	c.Check(t, testenv.RaceRounds, "failed instead of merging", "mixed sets", "leftovers")
}
