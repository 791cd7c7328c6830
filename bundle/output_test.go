package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandToAFullStdout: the summary of a write, or a diff, that stdout can't take
// (/dev/full) is exit 1 naming stdout and the error, not 0 over a lost result; the
// bundle itself was written, and a usage error stays 2.
func TestCommandToAFullStdout(t *testing.T) {
	t.Parallel()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	require.NoError(t, err)
	defer full.Close()
	out := filepath.Join(t.TempDir(), "site")

	var stderr bytes.Buffer
	assert.Equal(t, 1, Command("allinone", testHost(), []string{"--out", out}, full, &stderr))
	assert.Contains(t, stderr.String(), "allinone: writing to stdout: write /dev/full: no space left on device")
	assert.FileExists(t, filepath.Join(out, NextStepsPath), "the tree was written; its summary was lost")

	stderr.Reset()
	require.NoError(t, os.Remove(filepath.Join(out, NextStepsPath)))
	assert.Equal(t, 1, Command("allinone", testHost(), []string{"--out", out, "--diff"}, full, &stderr))
	assert.Contains(t, stderr.String(), "allinone: writing to stdout: ")

	stderr.Reset()
	assert.Equal(t, 2, Command("allinone", testHost(), []string{"--out", out, "--nope"}, full, &stderr))
	assert.NotContains(t, stderr.String(), "writing to stdout", "a usage error writes nothing to stdout")
	assert.Equal(t, 1, Command("allinone", testHost(), []string{"-h"}, full, &stderr), "-h whose help is lost")

	// Everything taken: 0 and the summary.
	var stdout bytes.Buffer
	stderr.Reset()
	assert.Equal(t, 0, Command("allinone", testHost(), []string{"--out", out}, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "next: read ")
}
