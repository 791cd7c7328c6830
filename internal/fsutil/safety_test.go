package fsutil

import (
	"context"
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

const nobody = 65534

func TestResolveRefusesDanglingAndNonRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dangling := filepath.Join(dir, ".env.production")
	require.NoError(t, os.Symlink(filepath.Join(dir, "unmounted", "env"), dangling))
	_, _, err := ReadExisting(dangling)
	require.ErrorIs(t, err, ErrDangling)
	assert.Contains(t, err.Error(), dangling)
	_, err = Update(context.Background(), dangling, Options{}, func([]byte, bool) ([]byte, error) {
		t.Fatal("merge must not run for a dangling link")
		return nil, nil
	})
	require.ErrorIs(t, err, ErrDangling)
	_, err = os.Lstat(filepath.Join(dir, "unmounted"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing created where the link points")

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	done := make(chan error, 3)
	go func() { _, _, err := ReadExisting(fifo); done <- err }()
	go func() { _, err := ReadInput(fifo); done <- err }()
	go func() { _, err := WriteFile(fifo, []byte("x"), Options{}); done <- err }()
	for range 3 {
		select {
		case err := <-done:
			require.ErrorIs(t, err, ErrNotRegular)
			assert.Contains(t, err.Error(), "FIFO")
		case <-time.After(5 * time.Second):
			t.Fatal("a FIFO blocked the read")
		}
	}
	_, _, err = ReadExisting(dir)
	require.ErrorIs(t, err, ErrNotRegular)
}

func TestUnreadableTargetIsAnError(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		// root reads any mode: a directory the path goes through that is not a directory
		// is the unreadable case root meets too.
		dir := t.TempDir()
		f := filepath.Join(dir, "f")
		require.NoError(t, os.WriteFile(f, nil, 0o600))
		_, _, err := ReadExisting(filepath.Join(f, "x"))
		require.Error(t, err)
		return
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(f, []byte("A=1\n"), 0o000))
	_, exists, err := ReadExisting(f)
	require.Error(t, err)
	assert.False(t, exists)
	assert.Contains(t, err.Error(), "cannot be read")
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs it to chown files to a second user")
		}
		t.Skip("needs root to chown files to a second user")
	}
}

func TestSymlinkRule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared.env")
	require.NoError(t, os.WriteFile(shared, []byte("old\n"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink("shared.env", link))
	res, err := WriteFile(link, []byte("new\n"), Options{KeepMode: true})
	require.NoError(t, err)
	assert.Equal(t, shared, res.Target)
	got, _ := os.ReadFile(shared)
	assert.Equal(t, "new\n", string(got), "our own link is followed")
	fi, _ := os.Lstat(link)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the link stays")

	requireRoot(t)
	// Another user's link (the mastodon user owns live/) is refused: it could aim
	// root's write anywhere.
	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("KEEP=1\n"), 0o644))
	evil := filepath.Join(dir, "evil")
	require.NoError(t, os.Symlink("victim", evil))
	require.NoError(t, os.Lchown(evil, nobody, nobody))
	_, err = WriteFile(evil, []byte("SECRET=x\n"), Options{Mode: 0o600})
	require.ErrorIs(t, err, ErrSymlink)
	assert.Contains(t, err.Error(), "uid 65534")
	got, _ = os.ReadFile(victim)
	assert.Equal(t, "KEEP=1\n", string(got))
	st, _ := os.Stat(victim)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
}

// TestSymlinkChainRule (issue 20): every link met while following a target's link is
// held to the rule, not only the first. Root's own link live/.env.production →
// ../shared/.env.production is a release's layout; the mastodon user owns shared/ and
// puts a link of its own there (or swaps a directory on the way for one): root's run
// must not write through it to the file it names. A chain of root's own links, and
// another user's directory link in the name the admin gave, are still followed.
func TestSymlinkChainRule(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"live", "shared", "etc", "other/conf"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	require.NoError(t, os.Chown(filepath.Join(dir, "shared"), nobody, nobody))
	victim := filepath.Join(dir, "etc", "victim.env")
	require.NoError(t, os.WriteFile(victim, []byte("KEEP=1\n"), 0o644))
	target := filepath.Join(dir, "live", ".env.production")
	require.NoError(t, os.Symlink("../shared/.env.production", target)) // root's

	// 1. The second hop is nobody's link.
	hop := filepath.Join(dir, "shared", ".env.production")
	require.NoError(t, os.Symlink("../etc/victim.env", hop))
	require.NoError(t, os.Lchown(hop, nobody, nobody))
	for _, write := range []func() error{
		func() error {
			_, err := WriteFile(target, []byte("SECRET=x\n"), Options{Mode: 0o600, Secret: true})
			return err
		},
		func() error {
			_, err := Update(context.Background(), target, Options{Mode: 0o600, Secret: true, BackupDir: true},
				func([]byte, bool) ([]byte, error) { return []byte("SECRET=x\n"), nil })
			return err
		},
		func() error { _, _, err := ReadExisting(target); return err },
	} {
		err := write()
		require.ErrorIs(t, err, ErrSymlink)
		assert.Contains(t, err.Error(), hop)
		assert.Contains(t, err.Error(), "uid 65534")
	}
	got, _ := os.ReadFile(victim)
	assert.Equal(t, "KEEP=1\n", string(got))
	st, _ := os.Stat(victim)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	assert.NoDirExists(t, filepath.Join(dir, "etc", BackupDirName))

	// 2. A directory on the way is nobody's link: root's link names
	// ../shared/conf/.env.production, and nobody made shared/conf a link to etc/.
	require.NoError(t, os.Remove(hop))
	require.NoError(t, os.Remove(target))
	require.NoError(t, os.Symlink("../shared/conf/victim.env", target))
	conf := filepath.Join(dir, "shared", "conf")
	require.NoError(t, os.Symlink("../etc", conf))
	require.NoError(t, os.Lchown(conf, nobody, nobody))
	_, err := WriteFile(target, []byte("SECRET=x\n"), Options{Mode: 0o600, Secret: true})
	require.ErrorIs(t, err, ErrSymlink)
	assert.Contains(t, err.Error(), conf)
	got, _ = os.ReadFile(victim)
	assert.Equal(t, "KEEP=1\n", string(got))

	// 3. Root's own chain (two links, one of them a directory link) is followed to the
	// real file, which is replaced; both links stay.
	require.NoError(t, os.Remove(conf))
	require.NoError(t, os.Symlink("../other/conf", conf))
	real := filepath.Join(dir, "other", "conf", "victim.env")
	require.NoError(t, os.WriteFile(real, []byte("A=1\n"), 0o600))
	res, err := WriteFile(target, []byte("A=2\n"), Options{Mode: 0o600, KeepMode: true, Secret: true})
	require.NoError(t, err)
	assert.Equal(t, real, res.Target)
	got, _ = os.ReadFile(real)
	assert.Equal(t, "A=2\n", string(got))

	// 4. The name the admin gave may pass through another user's directory link (a
	// deploy user's current → releases/N): that path is the admin's choice.
	rel := filepath.Join(dir, "releases", "7")
	require.NoError(t, os.MkdirAll(rel, 0o755))
	current := filepath.Join(dir, "current")
	require.NoError(t, os.Symlink("releases/7", current))
	require.NoError(t, os.Lchown(current, nobody, nobody))
	_, err = WriteFile(filepath.Join(current, "site"), []byte("x\n"), Options{Mode: 0o644})
	require.NoError(t, err)
	got, _ = os.ReadFile(filepath.Join(rel, "site"))
	assert.Equal(t, "x\n", string(got))
}

func TestRewriteKeepsOwnerGroupMode(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := t.TempDir()
	env := filepath.Join(dir, ".env.production")
	require.NoError(t, os.WriteFile(env, []byte("A=1\n"), 0o600))
	require.NoError(t, os.Chown(env, nobody, nobody))
	res, err := Update(context.Background(), env, Options{Mode: 0o600, KeepMode: true, Secret: true, BackupDir: true}, func([]byte, bool) ([]byte, error) { return []byte("A=2\n"), nil })
	require.NoError(t, err)
	assertOwner(t, env, nobody, nobody, 0o600)
	assertOwner(t, res.Backup, nobody, nobody, 0o600)
	assert.Empty(t, res.Notes, "the mode did not change")

	site := filepath.Join(dir, "mastodon")
	require.NoError(t, os.WriteFile(site, []byte("old"), 0o640))
	require.NoError(t, os.Chown(site, 0, nobody))
	_, err = WriteFile(site, []byte("new"), Options{Mode: 0o644, KeepMode: true})
	require.NoError(t, err)
	assertOwner(t, site, 0, nobody, 0o640)

	// A secret file other users can read is tightened, and that is said.
	require.NoError(t, os.Chmod(env, 0o644))
	res, err = WriteFile(env, []byte("A=3\n"), Options{Mode: 0o600, KeepMode: true, Secret: true})
	require.NoError(t, err)
	assertOwner(t, env, nobody, nobody, 0o640)
	require.Len(t, res.Notes, 1)
	assert.Contains(t, res.Notes[0], "tightened from 0644 to 0640")
	// An explicit mode that loosens a secret file is said too.
	res, err = WriteFile(env, []byte("A=3\n"), Options{Mode: 0o644, Secret: true})
	require.NoError(t, err)
	require.Len(t, res.Notes, 1)
	assert.Contains(t, res.Notes[0], "loosened from 0640 to 0644")
}

func TestOwnerThatCannotBeKeptWritesNothing(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// As nobody, replacing root's file in a directory nobody may write would make it
	// nobody's: refused. Run a child as nobody to see it.
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	f := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(f, []byte("root's\n"), 0o666))
	require.NoError(t, os.Chmod(f, 0o666))
	out, err := child(t, []string{"V6KIT_FSUTIL_CHILD=write", "V6KIT_FSUTIL_FILE=" + f}, nobody)
	require.Error(t, err, out)
	assert.Contains(t, out, "run as root or as its owner")
	got, _ := os.ReadFile(f)
	assert.Equal(t, "root's\n", string(got))
	assertOwner(t, f, 0, 0, 0o666)
}

func assertOwner(t *testing.T, name string, uid, gid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(name)
	require.NoError(t, err)
	u, g := owner(fi)
	assert.Equal(t, [2]int{uid, gid}, [2]int{u, g}, "owner:group of %s", name)
	assert.Equal(t, mode, fi.Mode().Perm(), "mode of %s", name)
}

func TestBackupDirNeverCollidesNorFollowsLinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "mastodon")
	require.NoError(t, os.WriteFile(name, []byte("v0"), 0o600))
	now := func() time.Time { return time.Date(2026, 12, 2, 1, 0, 0, 5, time.UTC) }
	var baks []string
	for i := 1; i <= 3; i++ {
		res, err := WriteFile(name, []byte{'v', byte('0' + i)}, Options{BackupDir: true, Secret: true, Now: now})
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(dir, BackupDirName), filepath.Dir(res.Backup))
		baks = append(baks, res.Backup)
	}
	assert.Equal(t, filepath.Join(dir, BackupDirName, "mastodon.20261202T010000.000000005Z"), baks[0])
	for i, b := range baks {
		got, _ := os.ReadFile(b)
		assert.Equal(t, []byte{'v', byte('0' + i)}, got, "backup %d kept its own content", i)
	}
	fi, _ := os.Stat(filepath.Join(dir, BackupDirName))
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	other := t.TempDir()
	d2 := t.TempDir()
	n2 := filepath.Join(d2, "site")
	require.NoError(t, os.WriteFile(n2, []byte("a"), 0o644))
	require.NoError(t, os.Symlink(other, filepath.Join(d2, BackupDirName)))
	_, err := WriteFile(n2, []byte("b"), Options{BackupDir: true})
	require.ErrorIs(t, err, ErrSymlink)
	ents, _ := os.ReadDir(other)
	assert.Empty(t, ents)
}

func TestLongNamesCanBeUpdated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []int{234, 255} {
		name := filepath.Join(dir, strings.Repeat("é", 10)+strings.Repeat("x", n-20))
		require.Len(t, filepath.Base(name), n)
		for i := range 3 {
			_, err := Update(context.Background(), name, Options{BackupDir: true, Backup: false}, func([]byte, bool) ([]byte, error) {
				return []byte{byte('a' + i)}, nil
			})
			require.NoError(t, err, "a %d-byte name", n)
		}
		_, err := WriteFile(name, []byte("z"), Options{Backup: true})
		require.NoError(t, err)
	}
}

func TestSymlinkedLockIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "f")
	aim := filepath.Join(dir, "nowhere", "created")
	require.NoError(t, os.Symlink(aim, LockName(target)))
	_, err := Update(context.Background(), target, Options{}, func([]byte, bool) ([]byte, error) { return []byte("x"), nil })
	require.ErrorIs(t, err, ErrSymlink)
	assert.Contains(t, err.Error(), "lock file "+LockName(target)+" is a symlink")
	_, err = os.Lstat(filepath.Join(dir, "nowhere"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the link was not followed")
	_, err = os.Lstat(target)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")
}

func TestLockNoWaitAndHolderPID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "f")
	// A real second process holds the lock.
	cmd, ready := holdLock(t, target)
	defer cmd.Process.Kill()
	<-ready
	_, err := LockFile(context.Background(), target, LockOptions{NoWait: true})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), "PID "+itoa(cmd.Process.Pid))
	var told int
	_, err = LockFile(context.Background(), target, LockOptions{Wait: 100 * time.Millisecond, Waiting: func(_ string, pid int) { told = pid }})
	require.ErrorIs(t, err, ErrLocked)
	assert.Equal(t, cmd.Process.Pid, told)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	lk, err := LockFile(context.Background(), target, LockOptions{NoWait: true})
	require.NoError(t, err, "a killed holder's lock is free")
	require.NoError(t, lk.Unlock())
}

func TestSetAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	names := []string{"a", "b", "c"}
	for _, n := range names[:2] {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("old "+n), 0o640))
	}
	s := &Set{Name: "test", Dir: dir}
	require.NoError(t, s.Begin(context.Background(), LockOptions{}))
	for _, n := range names {
		require.NoError(t, s.Add(context.Background(), filepath.Join(dir, n), []byte("new "+n), Options{BackupDir: true, KeepMode: true}))
	}
	s.BeforeRename = func(p string) error {
		if filepath.Base(p) == "c" {
			return errors.New("injected: disk full")
		}
		return nil
	}
	_, err := s.Commit()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "injected: disk full")
	assert.Contains(t, err.Error(), "put back as they were: "+filepath.Join(dir, "b")+", "+filepath.Join(dir, "a"))
	for _, n := range names[:2] {
		got, _ := os.ReadFile(filepath.Join(dir, n))
		assert.Equal(t, "old "+n, string(got), "%s rolled back", n)
		st, _ := os.Stat(filepath.Join(dir, n))
		assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	var left []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".v6kit-lock") && !strings.HasSuffix(e.Name(), ".lock") && e.Name() != BackupDirName {
			left = append(left, e.Name())
		}
	}
	assert.ElementsMatch(t, []string{"a", "b"}, left, "no temp file, no marker, c not created")
}

func TestInterruptedSetIsReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A real run killed between the renames of its set.
	out, err := childKilledMidSet(t, dir)
	require.NoError(t, err, out)
	got, _ := os.ReadFile(filepath.Join(dir, "a"))
	assert.Equal(t, "new a", string(got), "the first rename happened")
	_, err = os.Stat(filepath.Join(dir, "b"))
	require.ErrorIs(t, err, os.ErrNotExist, "the second did not")
	var tmps int
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), tmpInfix) {
			tmps++
		}
	}
	assert.Equal(t, 1, tmps, "b's staged temp file was left behind")

	s := &Set{Name: "test", Dir: dir}
	require.NoError(t, s.Begin(context.Background(), LockOptions{}))
	for _, n := range []string{"a", "b"} {
		require.NoError(t, s.Add(context.Background(), filepath.Join(dir, n), []byte("new "+n), Options{}))
	}
	_, err = s.Commit()
	require.NoError(t, err)
	notes := strings.Join(s.Notes, "\n")
	assert.Contains(t, notes, "a previous run ended between the renames of its test")
	assert.Contains(t, notes, "removed "+dir)
	ents, _ = os.ReadDir(dir)
	for _, e := range ents {
		assert.NotContains(t, e.Name(), tmpInfix, "leftover cleaned")
		assert.False(t, strings.HasSuffix(e.Name(), ".pending"), "marker removed")
	}
}

func TestLeftoversOfOthersAreLeft(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "f")
	theirs := filepath.Join(dir, ".f"+tmpInfix+"123")
	require.NoError(t, os.WriteFile(theirs, []byte("x"), 0o600))
	require.NoError(t, os.Chown(theirs, nobody, nobody))
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(theirs, old, old))
	ours := filepath.Join(dir, ".f.tmp-999") // the name older versions used
	require.NoError(t, os.WriteFile(ours, []byte("x"), 0o600))
	require.NoError(t, os.Chtimes(ours, old, old))
	res, err := Update(context.Background(), target, Options{}, func([]byte, bool) ([]byte, error) { return []byte("y"), nil })
	require.NoError(t, err)
	notes := strings.Join(res.Notes, "\n")
	assert.Contains(t, notes, "removed "+ours)
	assert.Contains(t, notes, "found "+theirs)
	_, err = os.Stat(theirs)
	require.NoError(t, err)
}

// TestRemovedLockIsNotShared: a run waiting on a lock file its holder then removes
// ([Lock.Remove]) must not hold a lock on the unlinked file while a third run locks the
// new one: the waiter opens the name again, and the third waits behind it.
func TestRemovedLockIsNotShared(t *testing.T) {
	t.Parallel()
	target := filepath.Join(t.TempDir(), "site")
	first, err := LockFile(context.Background(), target, LockOptions{NoWait: true})
	require.NoError(t, err)
	waiting := make(chan struct{})
	got := make(chan *Lock)
	go func() {
		lk, err := LockFile(context.Background(), target, LockOptions{Waiting: func(string, int) { close(waiting) }})
		assert.NoError(t, err)
		got <- lk
	}()
	<-waiting
	require.NoError(t, first.Remove())
	second := <-got
	require.NotNil(t, second)
	fi, err := os.Lstat(LockName(target))
	require.NoError(t, err, "the waiter holds a lock file at the name")
	held, err := second.f.Stat()
	require.NoError(t, err)
	assert.True(t, os.SameFile(fi, held), "the waiter's lock is the file at the name, not the removed one")
	_, err = LockFile(context.Background(), target, LockOptions{NoWait: true})
	assert.ErrorIs(t, err, ErrLocked, "a third run sees the waiter's lock")
	require.NoError(t, second.Unlock())
}

// TestRefusedRunLeavesNothing (issue 20): a non-root rewrite with a backup in
// .v6kit-backup/ that is refused, because the directory is root's or because the file's
// owner could not be kept, leaves the directory as it was (no .v6kit-backup/, no temp
// file, no lock file of ours) and its error names the real reason: the file or the
// directory, its owner, and the fix.
func TestRefusedRunLeavesNothing(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	for _, c := range []struct {
		name    string
		dirMode os.FileMode
		want    func(dir, f string) []string
	}{
		// The directory is root's 0755: nobody cannot create anything in it.
		{"root's directory", 0o755, func(dir, f string) []string {
			return []string{dir + " is owned by uid 0", "uid 65534 cannot create files in it", "run as root or as its owner"}
		}},
		// The directory is world-writable, the file root's: replacing it would make it nobody's.
		{"root's file", 0o777, func(dir, f string) []string {
			return []string{f + " is owned by 0:0", "run as root or as its owner", "nothing was written"}
		}},
		// Root ran here before: its lock file (0600) is there, and nobody cannot open it.
		{"root's lock file", 0o777, func(dir, f string) []string {
			return []string{LockName(f) + ": it is owned by uid 0, gid 0 (mode 0600) and uid 65534 cannot open it", "run as root or as its owner"}
		}},
		// The same under the sticky bit, as in /tmp.
		{"root's file, sticky directory", 0o1777, func(dir, f string) []string {
			return []string{f + " is owned by 0:0", "run as root or as its owner", "nothing was written"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
			f := filepath.Join(dir, "mastodon")
			require.NoError(t, os.WriteFile(f, []byte("root's\n"), 0o666))
			require.NoError(t, os.Chmod(f, 0o666))
			require.NoError(t, os.Chmod(dir, c.dirMode))
			want := []string{"mastodon"}
			if c.name == "root's lock file" {
				require.NoError(t, os.WriteFile(LockName(f), nil, 0o600))
				want = []string{".mastodon.v6kit-lock", "mastodon"}
			}
			out, err := child(t, []string{"V6KIT_FSUTIL_CHILD=replace-backupdir", "V6KIT_FSUTIL_FILE=" + f}, nobody)
			require.Error(t, err, out)
			for _, w := range c.want(dir, f) {
				assert.Contains(t, out, w)
			}
			assert.NotContains(t, out, BackupDirName, "the error names the file, not its backup")
			assert.NotContains(t, out, "was tightened", "a refused write changed no mode")
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			assert.Equal(t, want, names, "a refused run leaves nothing behind")
			got, _ := os.ReadFile(f)
			assert.Equal(t, "root's\n", string(got))
			assertOwner(t, f, 0, 0, 0o666)
		})
	}
}
