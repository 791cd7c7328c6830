package bundle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/mastodon"
)

// TestWriteAllOrNothing: a write error after some files were replaced (injected at the
// third rename) leaves the whole tree as it was, and the error names the file that
// failed and each file put back.
func TestWriteAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	paths := []string{"NEXT-STEPS.md", "etc/nginx/sites-available/mastodon", "home/mastodon/live/.env.production", "etc/systemd/system/mastodon-web.service"}
	first := New("", dir)
	for _, p := range paths {
		first.Add(File{Path: p, Data: []byte("old " + p + "\n"), Backup: true})
	}
	_, err := Write(first)
	require.NoError(t, err)

	next := New("", dir)
	for _, p := range paths {
		next.Add(File{Path: p, Data: []byte("new " + p + "\n"), Backup: true})
	}
	next.Add(File{Path: "etc/redis/mastodon.conf", Data: []byte("created\n")})
	n := 0
	next.beforeRename = func(p string) error {
		if n++; n == 3 {
			return errors.New("injected: no space left on device")
		}
		return nil
	}
	_, err = Write(next)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "injected: no space left on device")
	assert.Contains(t, msg, "put back as they were")
	for _, p := range paths {
		got, err := os.ReadFile(filepath.Join(dir, p))
		require.NoError(t, err)
		assert.Equal(t, "old "+p+"\n", string(got), "%s is as before", p)
	}
	_, err = os.Stat(filepath.Join(dir, "etc/redis/mastodon.conf"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a file the failed run created is removed")
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(fi.Name(), "v6kit-tmp") || strings.HasSuffix(fi.Name(), ".pending") {
			t.Errorf("left behind: %s", p)
		}
		if strings.Contains(p, ".v6kit-backup/") {
			t.Errorf("a rolled-back run leaves no backup: %s", p)
		}
		return nil
	}))

	// Without the fault the same tree is written whole.
	next.beforeRename = nil
	res, err := Write(next)
	require.NoError(t, err)
	assert.Len(t, res[0].Changed, 5)
}

// TestDanglingEnvSymlinkIsAnError: a .env.production in the tree that links to nothing
// (an unmounted volume) is an error naming it, never a new file with new secrets.
func TestDanglingEnvSymlinkIsAnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := "home/mastodon/live/.env.production"
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "home/mastodon/live"), 0o755))
	require.NoError(t, os.Symlink("/nonexistent/secrets/env", filepath.Join(dir, p)))
	tr := New("", dir)
	tr.Env(p, envfile.Config{LocalDomain: "social.example.org"}, envfile.Options{Release: mastodon.Newest()})
	err := tr.Problems.Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "which does not exist")
	_, err = Write(tr)
	require.Error(t, err)
	fi, err := os.Lstat(filepath.Join(dir, p))
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the link is left alone")
}

// TestOutIsADanglingLink: a root that is a symbolic link to nothing (an unmounted
// volume) is refused naming the link and its target, not mkdir's bare "file exists";
// nothing is created at the target.
func TestOutIsADanglingLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root, dest := filepath.Join(dir, "out"), filepath.Join(dir, "unmounted")
	require.NoError(t, os.Symlink(dest, root))
	tree := New("", root)
	tree.Add(File{Path: "NEXT-STEPS.md", Data: []byte("x\n")})
	_, err := Write(tree)
	require.ErrorIs(t, err, ErrOut)
	assert.Contains(t, err.Error(), root+" is a symbolic link to "+dest+", which does not exist")
	assert.NotContains(t, err.Error(), "file exists")
	assert.NoFileExists(t, dest)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "a refused run leaves only the link: %v", left)
	assert.Equal(t, "out", left[0].Name())
}

// TestRefusedFileLeavesNoLock: a tree refused while its files are staged (a FIFO where
// a file goes) writes nothing and leaves no lock file of its own beside the root.
func TestRefusedFileLeavesNoLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "out")
	require.NoError(t, os.Mkdir(root, 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "NEXT-STEPS.md"), 0o644))
	tree := New("", root)
	tree.Add(File{Path: "NEXT-STEPS.md", Data: []byte("x\n")})
	tree.Add(File{Path: "etc/a.conf", Data: []byte("a\n")})
	_, err := Write(tree)
	require.ErrorContains(t, err, "FIFO")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "a refused run leaves only what was there: %v", left)
	assert.NoDirExists(t, filepath.Join(root, "etc"))
}
