package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/cli"
)

// TestOutputToAFullDevice: a checked stdout on /dev/full remembers the first failed
// write, writes nothing after it, and turns exit 0 into 1 naming stdout and the error
// once; 1 and a usage error's 2 are kept.
func TestOutputToAFullDevice(t *testing.T) {
	t.Parallel()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	require.NoError(t, err)
	defer full.Close()

	for _, c := range []struct{ code, want int }{{cli.ExitOK, cli.ExitFail}, {cli.ExitFail, cli.ExitFail}, {cli.ExitUsage, cli.ExitUsage}} {
		o := cli.CheckOutput(full)
		assert.Same(t, o, cli.CheckOutput(o), "wrapped once")
		var stderr bytes.Buffer
		assert.Equal(t, c.code, o.Exit("tool", c.code, &stderr), "no write yet: the code as is")
		assert.Empty(t, stderr.String())
		_, err := fmt.Fprintln(o, "result")
		require.ErrorContains(t, err, "no space left on device")
		_, again := o.Write([]byte("more"))
		assert.Equal(t, err, again, "the first error, not a second write")
		assert.Equal(t, err, o.Err())
		assert.Equal(t, c.want, o.Exit("tool", c.code, &stderr))
		assert.Equal(t, c.want, o.Exit("tool", c.code, &stderr))
		assert.Equal(t, "tool: writing to stdout: "+err.Error()+"\n", stderr.String(), "said once")
	}

	// --json says it itself; Exit does not repeat it.
	o := cli.CheckOutput(full)
	var stderr bytes.Buffer
	c := cli.New("tool", "tool", o, &stderr)
	assert.Equal(t, cli.ExitFail, o.Exit("tool", c.JSON(cli.ExitOK, map[string]int{"a": 1}), &stderr))
	assert.Equal(t, 1, strings.Count(stderr.String(), "no space left on device"), stderr.String())
	assert.Contains(t, stderr.String(), "tool: --json: writing the result: ")

	// A stdout that takes everything: nothing changes.
	var out bytes.Buffer
	o = cli.CheckOutput(&out)
	_, err = fmt.Fprint(o, "result")
	require.NoError(t, err)
	assert.Equal(t, cli.ExitOK, o.Exit("tool", cli.ExitOK, &stderr))
	assert.Equal(t, "result", out.String())
}
