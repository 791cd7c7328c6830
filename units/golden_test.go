package units

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/testenv"
)

// Each testdata/*.txtar holds a deployment.json (the input) and every expected output:
// one section per unit file, plus "budget" and "problems".
func TestGolden(t *testing.T) {
	for _, name := range golden.Files(t, "testdata/*.txtar") {
		t.Run(strings.TrimSuffix(filepath.Base(name), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar := golden.Open(t, name)
			require.NotEmpty(t, ar.Names())
			require.Equal(t, "deployment.json", ar.Names()[0], "the first section is the input")
			in, _ := ar.Input("deployment.json")
			var d Deployment
			dec := json.NewDecoder(bytes.NewReader(in))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&d))

			plan, err := d.Render()
			require.NoError(t, err)

			var got []golden.Section
			for _, f := range plan.Files {
				got = append(got, golden.Section{Name: f.Name, Data: string(f.Bytes())})
			}
			// What `systemctl --root enable` makes of the [Install] sections, offline.
			dir := testenv.TempDir(t)
			_, err = plan.WriteDir(dir)
			require.NoError(t, err)
			links := testenv.SystemctlEnable(t, dir, plan.Enable...)
			got = append(got,
				golden.Section{Name: "budget", Data: plan.Budget.Formula + "\n"},
				golden.Section{Name: "enable", Data: strings.Join(plan.Enable, "\n") + "\n"},
				golden.Section{Name: "systemctl-enable", Data: strings.Join(links, "\n") + "\n"},
				golden.Section{Name: "problems", Data: plan.Problems.String()})
			ar.Check(t, got...)

			// Re-parse: go-systemd reads back exactly the options we built.
			for _, f := range plan.Files {
				opts, err := unit.DeserializeOptions(bytes.NewReader(f.Bytes()))
				require.NoError(t, err, f.Name)
				assert.True(t, unit.AllMatch(opts, f.Options), "%s does not re-parse to its options", f.Name)
			}
			// Deterministic: rendering again gives the same bytes.
			again, err := d.Render()
			require.NoError(t, err)
			for i := range plan.Files {
				assert.Equal(t, plan.Files[i].Bytes(), again.Files[i].Bytes())
			}

			verifyPlan(t, plan)
		})
	}
}

// verifyPlan writes the plan to a temp dir and runs systemd-analyze verify on every unit
// (template instances by their instance names): any output fails the test. It also
// checks that a timer's service is rendered, which verify does not.
func verifyPlan(t *testing.T, plan *Plan) {
	t.Helper()
	dir := testenv.TempDir(t)
	res, err := plan.WriteDir(dir)
	require.NoError(t, err)
	require.Len(t, res.Changed(), len(plan.Files))
	for _, f := range res.Files {
		assert.Equal(t, Created, f.State, f.Name)
	}
	var names []string
	for _, f := range plan.Files {
		st, err := os.Stat(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), f.Name)
		if strings.HasSuffix(f.Name, "@.service") {
			continue
		}
		names = append(names, f.Name)
		if strings.HasSuffix(f.Name, ".timer") {
			svc := strings.TrimSuffix(f.Name, ".timer") + ".service"
			_, ok := plan.File(svc)
			assert.True(t, ok, "timer %s without its service %s", f.Name, svc)
		}
	}
	for _, n := range plan.Enable {
		if strings.Contains(n, "@") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := testenv.SystemdVerify(t, dir, names...)
	assert.Empty(t, out, "systemd-analyze verify %s", strings.Join(names, " "))

	// Writing again changes nothing.
	res, err = plan.WriteDir(dir)
	require.NoError(t, err)
	assert.Empty(t, res.Changed())
	assert.Len(t, res.Files, len(plan.Files))
}

func TestGoldenCasesCoverTheIssue(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"origin-1.6-allinone", "v3.5", "v4.2", "v4.3", "v4.7", "v4.7-split"} {
		_, err := os.Stat(filepath.Join("testdata", c+".txtar"))
		assert.NoError(t, err, "golden case %s", c)
	}
}
