package bundletest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/internal/testenv"
)

// NextStepsParse is the shell oracle of a rendered bundle directory: bash reads every
// command line of its NEXT-STEPS.md (`bash -n`, then each line's argv printed
// NUL-separated) as exactly the argv of the steps in its INSTALL-STEPS.json, checks
// included, followed by manual (the commands run by hand after the steps). The steps
// must also pass [bundle.ReadSteps], as v6-install reads them. It returns the steps.
func NextStepsParse(t *testing.T, dir string, manual ...[]string) []bundle.Step {
	t.Helper()
	steps, err := bundle.ReadSteps(dir)
	require.NoError(t, err, "%s: v6-install must accept the steps", dir)
	md, err := os.ReadFile(filepath.Join(dir, bundle.NextStepsPath))
	require.NoError(t, err)
	var wantCode, wantChecks [][]string
	for _, st := range steps {
		if !strings.HasPrefix(st.ID, "file:") {
			for _, c := range st.Check {
				wantChecks = append(wantChecks, c.Line())
			}
		}
		for _, c := range st.Run {
			wantCode = append(wantCode, c.Line())
		}
	}
	wantCode = append(wantCode, manual...)
	code, checks := testenv.NextStepsCommands(string(md))
	require.Equal(t, wantCode, testenv.BashArgv(t, code), "%s: the sh blocks of NEXT-STEPS.md", dir)
	require.Equal(t, wantChecks, testenv.BashArgv(t, checks), "%s: the checks of NEXT-STEPS.md", dir)
	return steps
}

// NothingWritten asserts that a refused run left no file of a bundle under out: at
// most the trees' lock files (.HOST.v6kit-lock, which bundle.Tree.Lock places beside
// each tree, creating out for a multi-host example) and the directories holding them.
func NothingWritten(t *testing.T, out string) {
	t.Helper()
	_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".v6kit-lock") {
			t.Errorf("a refused run wrote %s", p)
		}
		return nil
	})
}
