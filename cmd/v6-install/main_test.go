package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
)

func runCLI(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	rc := run(args, nil, &o, &e)
	return rc, o.String(), e.String()
}

// a bundle whose steps only touch its own directory (commands start in the bundle dir)
func writeBundle(t *testing.T) string {
	dir := t.TempDir()
	steps := []bundle.Step{
		{ID: "marker", Section: "s", Title: "the marker file", Check: []bundle.Cmd{{Args: []string{"test", "-e", "marker"}}},
			Run: []bundle.Cmd{{Args: []string{"touch", "marker"}}}, Fix: "f"},
		{ID: "copy", Section: "s", Title: "the copy", Check: []bundle.Cmd{{Args: []string{"cmp", "-s", "marker", "copy"}}},
			Run: []bundle.Cmd{{Args: []string{"cp", "marker", "copy"}}}, Fix: "f"},
	}
	b, err := bundle.StepsJSON(steps)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.StepsPath), b, 0o644))
	return dir
}

func TestPlanApplyRerun(t *testing.T) {
	t.Parallel()
	dir := writeBundle(t)
	rc, out, errOut := runCLI("--bundle", dir, "--plan")
	require.Equal(t, 0, rc, errOut)
	assert.Contains(t, out, "to do  marker")
	assert.Contains(t, out, "would run: touch marker")
	assert.NoFileExists(t, filepath.Join(dir, "marker"), "--plan changes nothing")

	rc, out, errOut = runCLI("--bundle", dir, "--apply")
	require.Equal(t, 0, rc, errOut)
	assert.Contains(t, out, "run    marker")
	assert.FileExists(t, filepath.Join(dir, "copy"))

	rc, out, _ = runCLI("--bundle", dir, "--apply")
	require.Equal(t, 0, rc)
	assert.NotContains(t, out, "run ")
	assert.Contains(t, out, "every step is done (2)")
}

func TestFailureAndUsage(t *testing.T) {
	t.Parallel()
	dir := writeBundle(t)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "copy"), 0o755)) // cp onto a directory fails the check after
	require.NoError(t, os.WriteFile(filepath.Join(dir, "copy", "marker"), nil, 0o644))
	require.NoError(t, os.Chmod(filepath.Join(dir, "copy"), 0o500))
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dir, "copy"), 0o755) })
	rc, _, errOut := runCLI("--bundle", dir, "--apply")
	assert.Equal(t, 1, rc)
	assert.Contains(t, errOut, "step copy (the copy) failed")
	assert.Contains(t, errOut, "fix: f")

	for _, args := range [][]string{{}, {"--bundle", dir}, {"--bundle", dir, "--plan", "--apply"}, {"--plan"}} {
		rc, _, _ := runCLI(args...)
		assert.Equal(t, 2, rc, args)
	}
	rc, _, errOut = runCLI("--bundle", t.TempDir(), "--plan")
	assert.Equal(t, 1, rc)
	assert.Contains(t, errOut, "INSTALL-STEPS.json")
}
