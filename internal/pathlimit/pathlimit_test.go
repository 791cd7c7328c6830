package pathlimit

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	long := "/" + strings.Repeat("a/", PathMax)
	assert.NoError(t, Check("/home/mastodon/live/public"))
	assert.NoError(t, Check(long[:PathMax]))
	assert.ErrorContains(t, Check(long[:PathMax+1]), "PATH_MAX")
	assert.NoError(t, Check("/x/"+strings.Repeat("n", NameMax)))
	assert.ErrorContains(t, Check("/x/"+strings.Repeat("n", NameMax+1)), "NAME_MAX")
}

// TestLimitsAreTheKernels proves the two numbers against the kernel: a 255-byte name can
// be created and a 256-byte one can't; a path of 4096 bytes can't be opened at all.
func TestLimitsAreTheKernels(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, strings.Repeat("n", NameMax)), nil, 0o600))
	err := os.WriteFile(filepath.Join(dir, strings.Repeat("n", NameMax+1)), nil, 0o600)
	assert.ErrorIs(t, err, syscall.ENAMETOOLONG)
	p := dir + "/" + strings.Repeat("a/", (PathMax+1-len(dir))/2+1)
	p = p[:PathMax+1]
	_, err = os.Stat(p)
	assert.ErrorIs(t, err, syscall.ENAMETOOLONG, "a %d-byte path", len(p))
}
