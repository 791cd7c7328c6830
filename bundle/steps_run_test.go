package bundle

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileSteps are steps over real commands in dir: a requirement, a step that creates a
// file, one that copies it, as the install steps do with files.
func fileSteps(dir string) []Step {
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	return []Step{
		{ID: "coreutils", Title: "coreutils", Check: []Cmd{{Args: []string{"cat", "--version"}, Min: "8.0"}}, Fix: "install coreutils"},
		{ID: "a", Title: "a exists", Check: []Cmd{{Args: []string{"test", "-e", a}}}, Run: []Cmd{{Args: []string{"touch", a}}}, Fix: "check " + dir},
		{ID: "b", Title: "b is a's copy, mode 600", Check: []Cmd{{Args: []string{"cmp", "-s", "--", a, b}}, {Args: []string{"stat", "-c", "%a", b}, Want: "600"}},
			Run: []Cmd{{Args: []string{"install", "-m", "0600", "--", a, b}}}, Fix: "check " + dir},
	}
}

func TestInstallerApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	steps := fileSteps(dir)
	require.NoError(t, CheckSteps(steps).Err())
	var log bytes.Buffer
	in := Installer{Dir: dir, Log: &log}

	plan := in.Plan(context.Background(), steps)
	assert.Equal(t, []State{Done, Todo, Todo}, states(plan))
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "--plan changes nothing")
	assert.Contains(t, log.String(), "would run: touch "+filepath.Join(dir, "a"))

	res, err := in.Apply(context.Background(), steps)
	require.NoError(t, err)
	assert.Equal(t, []State{Done, Ran, Ran}, states(res))
	st, err := os.Stat(filepath.Join(dir, "b"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	res, err = in.Apply(context.Background(), steps)
	require.NoError(t, err)
	assert.Equal(t, []State{Done, Done, Done}, states(res), "a re-run finds everything done")
}

func TestInstallerStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	steps := fileSteps(dir)
	// b's source cannot be created: a is a directory that cannot be touched into
	steps[1].Run = []Cmd{{Args: []string{"install", "-m", "0644", "--", filepath.Join(dir, "missing"), filepath.Join(dir, "a")}}}
	res, err := Installer{Dir: dir}.Apply(context.Background(), steps)
	require.Error(t, err)
	f, ok := AsFailure(err)
	require.True(t, ok)
	assert.Equal(t, "a", f.Step.ID)
	assert.Equal(t, "install", f.Cmd.Args[0])
	assert.Contains(t, f.Output, "missing")
	assert.Contains(t, err.Error(), "fix: check "+dir)
	assert.Equal(t, []State{Done, Failed}, states(res), "b never ran")

	// a requirement whose check fails stops with its fix
	req := []Step{{ID: "node", Title: "node 99", Check: []Cmd{{Args: []string{"cat", "--version"}, Min: "99"}}, Fix: "install node 99"}}
	_, err = Installer{Dir: dir}.Apply(context.Background(), req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "older than 99")
	assert.Contains(t, err.Error(), "install node 99")

	// a step that runs but whose check still fails is a failure, not "ran"
	still := []Step{{ID: "x", Title: "x", Check: []Cmd{{Args: []string{"test", "-e", filepath.Join(dir, "never")}}}, Run: []Cmd{{Args: []string{"true"}}}, Fix: "f"}}
	_, err = Installer{Dir: dir}.Apply(context.Background(), still)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the check still fails")
}

func TestReadStepsRefusesHostileFiles(t *testing.T) {
	t.Parallel()
	for name, data := range map[string]string{
		"newline in an argument": `{"steps":[{"id":"x","section":"s","title":"t","check":[{"args":["test","a\nb"]}],"fix":"f"}]}`,
		"empty argument":         `{"steps":[{"id":"x","section":"s","title":"t","check":[{"args":["test",""]}],"fix":"f"}]}`,
		"bad user":               `{"steps":[{"id":"x","section":"s","title":"t","check":[{"args":["id"],"user":"-r"}],"fix":"f"}]}`,
		"relative dir":           `{"steps":[{"id":"x","section":"s","title":"t","check":[{"args":["id"],"dir":"x/../y"}],"fix":"f"}]}`,
		"no check":               `{"steps":[{"id":"x","section":"s","title":"t","check":[],"run":[{"args":["id"]}],"fix":"f"}]}`,
		"unknown field":          `{"steps":[{"id":"x","shell":"rm -rf /","check":[{"args":["id"]}]}]}`,
	} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, StepsPath), []byte(data), 0o644))
		_, err := ReadSteps(dir)
		assert.Error(t, err, name)
	}
	tr, info := compose(t, testHost())
	require.NoError(t, tr.Problems.Err())
	_, err := Write(tr)
	require.NoError(t, err)
	steps, err := ReadSteps(tr.Root)
	require.NoError(t, err)
	assert.Equal(t, info.Steps, steps, "INSTALL-STEPS.json round-trips")
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		out, min string
		ok       bool
	}{{"v18.19.0", "22", false}, {"v22.4.1", "22", true}, {"Redis server v=7.0.15 sha=00000000:0", "6.2.0", true},
		{"15.14 (Debian 15.14-0+deb12u1)", "14", true}, {"ruby 3.4.7 (2025-10-08 revision 7a5688e2a2)", "4.0.6", false}, {"10", "9.5", true}} {
		assert.Equal(t, c.ok, compareVersions(versionIn(c.out), c.min) >= 0, c.out)
	}
}

func states(rs []StepResult) []State {
	var s []State
	for _, r := range rs {
		s = append(s, r.State)
	}
	return s
}
