package units

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteDirStates: WriteDir says, per file, whether it created, replaced or left it.
func TestWriteDirStates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := Deployment{CertRenew: &CertRenew{}}.Render()
	require.NoError(t, err)
	res, err := a.WriteDir(dir)
	require.NoError(t, err)
	require.Len(t, res.Files, len(a.Files))
	for i, f := range res.Files {
		assert.Equal(t, a.Files[i].Name, f.Name)
		assert.Equal(t, Created, f.State, f.Name)
	}
	assert.Equal(t, "wrote 6 of 6 units to "+dir+" (0 unchanged)", res.String())

	b, err := Deployment{CertRenew: &CertRenew{}, Web: Web{Threads: 8}}.Render()
	require.NoError(t, err)
	res, err = b.WriteDir(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{WebUnit}, res.Changed())
	assert.Equal(t, Written{Name: WebUnit, State: Replaced}, res.Files[0])
	assert.Equal(t, Written{Name: CertRenewTimer, State: Unchanged}, res.Files[len(res.Files)-1])
	assert.Equal(t, "wrote 1 of 6 units to "+dir+" (5 unchanged)", res.String())
	web, err := os.ReadFile(filepath.Join(dir, WebUnit))
	require.NoError(t, err)
	assert.Contains(t, string(web), "MAX_THREADS=8")

	// Nothing written into a directory that is missing: the result is empty, not nil.
	res, err = b.WriteDir(filepath.Join(dir, "missing"))
	require.Error(t, err)
	assert.NotNil(t, res.Files)
	assert.Empty(t, res.Files)
}
