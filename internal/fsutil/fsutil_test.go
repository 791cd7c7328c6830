package fsutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFileCreatesWithMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "secret")
	res, err := WriteFile(name, []byte("a\n"), Options{Mode: 0o600})
	require.NoError(t, err)
	assert.True(t, res.Changed)
	st, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, _ := os.ReadFile(name)
	assert.Equal(t, "a\n", string(got))
}

func TestWriteFileUnchangedIsNoop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	_, err := WriteFile(name, []byte("x"), Options{})
	require.NoError(t, err)
	res, err := WriteFile(name, []byte("x"), Options{Backup: true})
	require.NoError(t, err)
	assert.False(t, res.Changed)
	assert.Empty(t, res.Backup)
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "no temp or backup files left behind")
}

func TestWriteFileBackupAndPreservedMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, []byte("old"), 0o640))
	now := func() time.Time { return time.Date(2026, 11, 27, 2, 7, 0, 0, time.UTC) }
	res, err := WriteFile(name, []byte("new"), Options{Backup: true, Now: now})
	require.NoError(t, err)
	assert.Equal(t, name+".v6kit-20261127T020700Z", res.Backup)
	bak, _ := os.ReadFile(res.Backup)
	assert.Equal(t, "old", string(bak))
	// The same second again: a new name, the first backup untouched.
	res2, err := WriteFile(name, []byte("newer"), Options{Backup: true, Now: now})
	require.NoError(t, err)
	assert.Equal(t, name+".v6kit-20261127T020700.000000000Z", res2.Backup)
	res3, err := WriteFile(name, []byte("newest"), Options{Backup: true, Now: now})
	require.NoError(t, err)
	assert.Equal(t, name+".v6kit-20261127T020700.000000000Z-2", res3.Backup)
	bak, _ = os.ReadFile(res.Backup)
	assert.Equal(t, "old", string(bak), "a backup is never overwritten")
	st, _ := os.Stat(name)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "mode preserved when Options.Mode is zero")
}

func TestWriteFileMissingDirLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := WriteFile(filepath.Join(dir, "no", "such", "f"), []byte("x"), Options{})
	require.Error(t, err)
	res, err := WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), Options{MkdirAll: true})
	require.NoError(t, err)
	assert.True(t, res.Changed)
}

func TestWriteFileUnwritableDirKeepsOld(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: directory permissions do not stop root, checking a read-only file path instead")
	}
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, []byte("old"), 0o644))
	// A path whose parent is a regular file can never be written, even by root.
	_, err := WriteFile(filepath.Join(name, "child"), []byte("x"), Options{})
	require.Error(t, err)
	got, _ := os.ReadFile(name)
	assert.Equal(t, "old", string(got))
	require.Error(t, CheckWritableDir(name))
	require.NoError(t, CheckWritableDir(dir))
}
