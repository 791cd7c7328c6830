package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// TestDiffFIFO: `v6-unitgen --out DIR --diff` with a unit file in DIR that is a FIFO
// (nobody writing) or a dangling link ends at once, exit 1, naming it; never a hang,
// never "new". Run as the built binary, under a timeout.
func TestDiffFIFO(t *testing.T) {
	t.Parallel()
	goTool := testenv.Tool(t, "go", "golang-go")
	bin := filepath.Join(t.TempDir(), "v6-unitgen")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for name, mk := range map[string]func(string) error{
		"fifo":          func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"dangling link": func(p string) error { return os.Symlink("nowhere.service", p) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			unit := filepath.Join(dir, "mastodon-web.service")
			require.NoError(t, mk(unit))
			cmd := exec.Command(bin, "--out", dir, "--diff")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("--diff blocked on the %s at %s", name, unit)
			}
			assert.Equal(t, 1, cmd.ProcessState.ExitCode(), stderr.String())
			assert.Contains(t, stderr.String(), unit, "names it")
			assert.NotContains(t, stdout.String(), "+++ "+unit, "not a new unit")
		})
	}
}
