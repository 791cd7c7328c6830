package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/v6kit/v6kit/acme"
)

type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestListJSONToAFullStdout: `v6-certs list --json >/dev/full` is a failure that says
// so, never exit 0 with nothing printed.
func TestListJSONToAFullStdout(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	assert.Equal(t, 1, encodeJSON(fullWriter{}, &stderr, map[string]any{"lineages": []any{}}))
	assert.Contains(t, stderr.String(), "writing the JSON result: no space left on device")

	stderr.Reset()
	o := &opts{jsonOut: true}
	code := o.list(acme.Config{Root: t.TempDir()}, fullWriter{}, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "writing the JSON result")
}
