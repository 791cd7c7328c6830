package units

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/fsutil"
)

// TestDiffRefusesWhatIsNoFile: a unit in dir that is a FIFO (nobody writing: a blocking
// read would hang), a socket or a directory is refused at once with an error naming
// it; a dangling link is an error too, not a new unit.
func TestDiffRefusesWhatIsNoFile(t *testing.T) {
	t.Parallel()
	p, err := Deployment{}.Render()
	require.NoError(t, err)
	const unit = "mastodon-web.service"
	cases := map[string]func(path string){
		"fifo": func(path string) { require.NoError(t, syscall.Mkfifo(path, 0o644)) },
		"socket": func(path string) {
			l, err := net.Listen("unix", path)
			require.NoError(t, err)
			t.Cleanup(func() { _ = l.Close() })
		},
		"directory":     func(path string) { require.NoError(t, os.Mkdir(path, 0o755)) },
		"dangling link": func(path string) { require.NoError(t, os.Symlink("nowhere.service", path)) },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, err := os.MkdirTemp("/tmp", "v6kit-diff-") // short: a socket path has 108 bytes
			require.NoError(t, err)
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			mk(filepath.Join(dir, unit))
			done := make(chan error, 1)
			go func() { _, err := p.Diff(dir); done <- err }()
			select {
			case err := <-done:
				require.Error(t, err)
				assert.Contains(t, err.Error(), filepath.Join(dir, unit), "names it")
				if name != "dangling link" {
					assert.ErrorIs(t, err, fsutil.ErrNotRegular)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Diff blocked on the %s at %s", name, unit)
			}
		})
	}
}
