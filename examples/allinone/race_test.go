package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/testenv"
)

// TestMain lets the tests run this test binary as allinone itself: real second
// processes, not goroutines.
func TestMain(m *testing.M) {
	if os.Getenv("V6KIT_RUN_ALLINONE") == "1" {
		testenv.RaceChild()
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestTwoRunsIntoOneOut: two allinone runs into the same new --out, released together
// at a barrier, 100 rounds. Both exit 0; .env.production and the role's password file
// are written by exactly one of them and reported unchanged by the other: the loser
// rendered, from the winner's file, byte for byte what is on disk, so both processes
// hold the same secrets as the final file (zero double generation, zero lost secrets),
// and DB_PASS matches the password file.
func TestTwoRunsIntoOneOut(t *testing.T) {
	t.Parallel()
	var c testenv.Tally
	state := func(stdout, p string) string {
		m := regexp.MustCompile(`(?m)^[ \t]+(written|unchanged)\s+\d{4} ` + regexp.QuoteMeta(p) + `\b`).FindStringSubmatch(stdout)
		if m == nil {
			return ""
		}
		return m[1]
	}
	testenv.Rounds(testenv.RaceRounds, 4, func(i int) {
		out := filepath.Join(t.TempDir(), "out")
		cmd := func() *exec.Cmd {
			return testenv.Self([]string{"V6KIT_RUN_ALLINONE=1"}, "--out", out)
		}
		res := testenv.RacePair(t, cmd(), cmd())
		for _, r := range res {
			if r.Code != 0 {
				c.Add("failed instead of merging", "round %d: exit %d: %s", i, r.Code, r.Stderr)
				return
			}
		}
		for _, p := range []string{envPath, bundle.DBPasswordPath} {
			w := 0
			for _, r := range res {
				if state(r.Stdout, p) == "written" {
					w++
				}
			}
			if w != 1 {
				c.Add("double generation", "round %d: %s written by %d processes:\n%s\n%s", i, p, w, res[0].Stdout, res[1].Stdout)
			}
		}
		e, err := envfile.ParseFile(filepath.Join(out, envPath))
		if err != nil {
			c.Add("lost secrets", "round %d: %v", i, err)
			return
		}
		pw, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(bundle.DBPasswordPath)))
		k, _ := e.Get("SECRET_KEY_BASE")
		dbp, _ := e.Get("DB_PASS")
		if err != nil || k == "" || dbp != strings.TrimSpace(string(pw)) {
			c.Add("lost secrets", "round %d: SECRET_KEY_BASE %q, DB_PASS %q, password file %q (%v)", i, k, dbp, pw, err)
		}
	})
	c.Check(t, testenv.RaceRounds, "failed instead of merging", "double generation", "lost secrets")
}
