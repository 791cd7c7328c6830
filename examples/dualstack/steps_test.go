package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/examples/internal/bundletest"
)

// TestNextStepsParseAsTheSteps: bash reads every command line of the dual-stack host's
// NEXT-STEPS.md as exactly the argv of its INSTALL-STEPS.json, then the probe lines.
func TestNextStepsParseAsTheSteps(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out")
	var stderr strings.Builder
	require.Equal(t, 0, bundle.RunHost(example, out, io.Discard, &stderr), stderr.String())
	info := example.Compose(bundle.New("", t.TempDir()))
	outside, local := example.ProbeCommands(info)
	bundletest.NextStepsParse(t, out, outside, local)
}
