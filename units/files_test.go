package units

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteDirAllOrNothing: a rename failing halfway through the set puts back every
// unit already replaced; the error names the one that failed and those put back.
func TestWriteDirAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := Deployment{CertRenew: &CertRenew{}}.Render()
	require.NoError(t, err)
	_, err = a.WriteDir(dir)
	require.NoError(t, err)
	before := map[string]string{}
	for _, f := range a.Files {
		b, _ := os.ReadFile(filepath.Join(dir, f.Name))
		before[f.Name] = string(b)
	}
	b, err := Deployment{CertRenew: &CertRenew{}, User: "mastodon2"}.Render()
	require.NoError(t, err)
	calls := 0
	_, err = b.writeDir(dir, WriteOptions{}, func(p string) error {
		calls++
		if calls == 2 {
			return errors.New("injected: I/O error")
		}
		return nil
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "injected: I/O error")
	assert.Contains(t, err.Error(), "put back as they were")
	require.GreaterOrEqual(t, calls, 2, "the second changed unit failed")
	for _, f := range a.Files {
		got, _ := os.ReadFile(filepath.Join(dir, f.Name))
		assert.Equal(t, before[f.Name], string(got), "%s is as before", f.Name)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		assert.False(t, strings.Contains(e.Name(), "tmp") || strings.HasSuffix(e.Name(), ".pending"), "left behind: %s", e.Name())
	}
}

// TestWriteDirRefusesFIFO: a FIFO where a unit goes is refused at once, nothing written.
func TestWriteDirRefusesFIFO(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := Deployment{}.Render()
	require.NoError(t, err)
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, a.Files[len(a.Files)-1].Name), 0o644))
	done := make(chan error)
	go func() { _, err := a.WriteDir(dir); done <- err }()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "FIFO")
	case <-time.After(5 * time.Second):
		t.Fatal("a FIFO blocked WriteDir")
	}
	_, err = os.Stat(filepath.Join(dir, a.Files[0].Name))
	assert.ErrorIs(t, err, os.ErrNotExist, "all or nothing: the first unit was not written")
}
