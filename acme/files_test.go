package acme_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

// closedCA is a directory URL on a closed port: any request fails at once.
const closedCA = "https://[::1]:9/dir"

// fileStore installs not-due lineages (no ARI, so no request) into a fresh root.
func fileStore(t *testing.T, names ...string) (string, *acme.Store) {
	t.Helper()
	root := testenv.TempDir(t)
	st := &acme.Store{Root: root}
	now := time.Now()
	for _, n := range names {
		v := selfSigned(t, now.Add(-time.Hour), 90*24*time.Hour, n)
		_, err := st.Install(n, v, acme.Meta{Server: closedCA, NoARI: true, Challenge: acme.Challenge{Type: acme.HTTP01, Webroot: "/var/www/acme"}}, now)
		require.NoError(t, err)
	}
	// Install (a bare Store) leaves deploy-pending markers: not what these tests are about.
	ms, _ := filepath.Glob(filepath.Join(root, "renewal", "*"+acme.PendingSuffix))
	for _, m := range ms {
		require.NoError(t, os.Remove(m))
	}
	return root, st
}

func fileClient(t *testing.T, root string) *acme.Client {
	t.Helper()
	c, err := acme.New(acme.Config{Root: root, Server: closedCA, Challenge: acme.Challenge{Webroot: t.TempDir()}})
	require.NoError(t, err)
	return c
}

func quickCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRenewNeverCreatesTheStore (issue 12.2): renew on a mistyped directory creates
// nothing and fails; on an existing directory with no lineage and no account it fails
// too, naming the fix, and still creates nothing (not even the lock file).
func TestRenewNeverCreatesTheStore(t *testing.T) {
	t.Parallel()
	parent := testenv.TempDir(t)
	typo := filepath.Join(parent, "letsencrpyt")
	_, err := fileClient(t, typo).Renew(quickCtx(t), acme.RenewOptions{})
	require.ErrorIs(t, err, acme.ErrNoStore)
	assert.Contains(t, err.Error(), typo+" does not exist")
	assert.NoDirExists(t, typo)
	_, ps := (&acme.Store{Root: typo}).List()
	assert.Empty(t, ps, "List of nothing is nothing; CheckUsable is the check")
	require.ErrorIs(t, (&acme.Store{Root: typo}).CheckUsable(), acme.ErrNoStore)
	assert.NoDirExists(t, typo)

	empty := filepath.Join(parent, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	_, err = fileClient(t, empty).Renew(quickCtx(t), acme.RenewOptions{})
	require.ErrorIs(t, err, acme.ErrEmptyStore)
	ents, _ := os.ReadDir(empty)
	assert.Empty(t, ents, "no lock file, nothing")

	// certbot's lineages but none of ours: the message says to import them.
	require.NoError(t, os.MkdirAll(filepath.Join(empty, "renewal"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(empty, "renewal", "site.test.conf"), []byte("version = 2.1.0\n"), 0o644))
	_, err = fileClient(t, empty).Renew(quickCtx(t), acme.RenewOptions{})
	require.ErrorIs(t, err, acme.ErrEmptyStore)
	assert.Contains(t, err.Error(), "v6-certs import --certbot "+empty)

	// An account and no lineage yet (all removed): a store, nothing to do.
	acct := filepath.Join(empty, "accounts", "ca.test", "dir", "v6-certs")
	require.NoError(t, os.MkdirAll(acct, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(acct, "private_key.pem"), []byte("x"), 0o600))
	rep, err := fileClient(t, empty).Renew(quickCtx(t), acme.RenewOptions{})
	require.NoError(t, err)
	assert.Empty(t, rep.Outcomes)
}

// TestLockRefusesSymlinks (issue 18): a lock file replaced by a symlink, dangling or
// not, is refused with a clear error and never followed; one owned by another user
// too. Two locks on the same store still exclude each other.
func TestLockRefusesSymlinks(t *testing.T) {
	t.Parallel()
	root, st := fileStore(t, "a.test")
	lock := filepath.Join(root, acme.LockName)
	elsewhere := testenv.TempDir(t)

	dangling := filepath.Join(elsewhere, "created-through-the-link")
	require.NoError(t, os.Symlink(dangling, lock))
	_, err := fileClient(t, root).Renew(quickCtx(t), acme.RenewOptions{})
	require.ErrorIs(t, err, acme.ErrLockFile)
	assert.Contains(t, err.Error(), lock+" is a symlink")
	assert.NoFileExists(t, dangling, "the link was followed")

	target := filepath.Join(elsewhere, "existing")
	require.NoError(t, os.WriteFile(target, []byte("keep me"), 0o644))
	require.NoError(t, os.Remove(lock))
	require.NoError(t, os.Symlink(target, lock))
	_, err = st.Lock(quickCtx(t), 0)
	require.ErrorIs(t, err, acme.ErrLockFile)
	b, _ := os.ReadFile(target)
	assert.Equal(t, "keep me", string(b))
	st2, _ := os.Stat(target)
	assert.Equal(t, os.FileMode(0o644), st2.Mode().Perm())

	// A FIFO there is refused too (and does not block).
	require.NoError(t, os.Remove(lock))
	require.NoError(t, syscall.Mkfifo(lock, 0o600))
	_, err = st.Lock(quickCtx(t), 0)
	require.ErrorIs(t, err, acme.ErrLockFile)
	assert.Contains(t, err.Error(), "FIFO")

	// A regular lock file: two holders exclude each other.
	require.NoError(t, os.Remove(lock))
	unlock, err := st.Lock(quickCtx(t), 0)
	require.NoError(t, err)
	_, err = (&acme.Store{Root: root}).Lock(quickCtx(t), 150*time.Millisecond)
	require.ErrorIs(t, err, acme.ErrLocked)
	unlock()
	unlock, err = st.Lock(quickCtx(t), 0)
	require.NoError(t, err)
	unlock()

	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(lock, 65534, 65534))
		_, err = st.Lock(quickCtx(t), 0)
		require.ErrorIs(t, err, acme.ErrLockFile)
		assert.Contains(t, err.Error(), "belongs to uid 65534")
	}
}

// TestMarkersAndMetaNeverFollowSymlinks (issue 18): the metadata and the
// deploy-pending marker are written at predictable names; a symlink (or FIFO) put
// there is refused, and the file it points to stays as it was.
func TestMarkersAndMetaNeverFollowSymlinks(t *testing.T) {
	t.Parallel()
	root, st := fileStore(t, "a.test")
	outside := filepath.Join(testenv.TempDir(t), "victim")
	require.NoError(t, os.WriteFile(outside, []byte("precious\n"), 0o600))

	marker := filepath.Join(root, "renewal", "a.test"+acme.PendingSuffix)
	require.NoError(t, os.Symlink(outside, marker))
	v := selfSigned(t, time.Now(), 90*24*time.Hour, "a.test")
	_, err := st.Install("a.test", v, acme.Meta{Server: closedCA, NoARI: true}, time.Now())
	require.ErrorIs(t, err, acme.ErrNotRegular)
	assert.Contains(t, err.Error(), marker+" is a symlink")
	b, _ := os.ReadFile(outside)
	assert.Equal(t, "precious\n", string(b))
	fi, _ := os.Lstat(marker)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the link itself is left for the admin to see")
	_, err = st.ReadPending("a.test")
	require.ErrorIs(t, err, acme.ErrNotRegular)
	require.NoError(t, os.Remove(marker))

	meta := filepath.Join(root, "renewal", "a.test"+acme.MetaSuffix)
	require.NoError(t, os.Rename(meta, meta+".real"))
	require.NoError(t, os.Symlink(meta+".real", meta))
	_, err = st.Load("a.test")
	require.ErrorIs(t, err, acme.ErrCorrupt)
	assert.Contains(t, err.Error(), "symlink")
	require.ErrorIs(t, st.WriteMeta("a.test", acme.Meta{Names: []string{"a.test"}}, time.Now()), acme.ErrNotRegular)
}

// TestFIFOsNeverBlock (issue 20): a FIFO as renewal metadata or as the live cert.pem
// is reported at once (no reader would ever write to it), the other lineages are
// handled, and the run fails with the lineage named.
func TestFIFOsNeverBlock(t *testing.T) {
	t.Parallel()
	root, st := fileStore(t, "fine.test", "fifo-cert.test")
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "renewal", "fifo-meta.test"+acme.MetaSuffix), 0o644))
	cert := filepath.Join(root, "archive", "fifo-cert.test", "cert1.pem")
	require.NoError(t, os.Remove(cert))
	require.NoError(t, syscall.Mkfifo(cert, 0o644))

	start := time.Now()
	rep, err := fileClient(t, root).Renew(quickCtx(t), acme.RenewOptions{})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	got := map[string]acme.Outcome{}
	for _, o := range rep.Outcomes {
		got[o.Name] = o
	}
	require.Len(t, got, 3)
	assert.Equal(t, acme.Kept, got["fine.test"].Action)
	assert.Equal(t, acme.Failed, got["fifo-meta.test"].Action)
	assert.Contains(t, got["fifo-meta.test"].Error, "FIFO")
	assert.ErrorIs(t, got["fifo-meta.test"].Err, acme.ErrCorrupt)
	assert.Equal(t, acme.Failed, got["fifo-cert.test"].Action)
	assert.Contains(t, got["fifo-cert.test"].Error, "FIFO")

	ls, ps := st.List()
	assert.Len(t, ls, 1)
	assert.Len(t, ps.Errors(), 2)
}

// TestMetaDirectoryIsReported (issue 20): a renewal meta that is a directory used to
// make its lineage vanish from renew and list; it is reported.
func TestMetaDirectoryIsReported(t *testing.T) {
	t.Parallel()
	root, st := fileStore(t, "fine.test", "dir.test")
	meta := filepath.Join(root, "renewal", "dir.test"+acme.MetaSuffix)
	require.NoError(t, os.Remove(meta))
	require.NoError(t, os.Mkdir(meta, 0o755))
	rep, err := fileClient(t, root).Renew(quickCtx(t), acme.RenewOptions{})
	require.Error(t, err)
	require.Len(t, rep.Outcomes, 2)
	assert.Equal(t, "dir.test", rep.Outcomes[0].Name)
	assert.Equal(t, acme.Failed, rep.Outcomes[0].Action)
	assert.Contains(t, rep.Outcomes[0].Error, meta+" is a directory")
	_, ps := st.List()
	require.Len(t, ps.Errors(), 1)
	assert.Contains(t, ps.Errors()[0].Error(), "lineage dir.test")
}

// TestBrokenLiveKey (issue 20): a live private key that does not match its
// certificate, or is truncated, is a warning in List and makes the lineage due.
func TestBrokenLiveKey(t *testing.T) {
	t.Parallel()
	root, st := fileStore(t, "fine.test", "other-key.test", "truncated.test")
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	require.NoError(t, os.WriteFile(filepath.Join(root, "archive", "other-key.test", "privkey1.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	tk := filepath.Join(root, "archive", "truncated.test", "privkey1.pem")
	b, err := os.ReadFile(tk)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tk, b[:len(b)/2], 0o600))

	ls, ps := st.List()
	require.Len(t, ls, 3)
	assert.Empty(t, ps.Errors())
	require.Len(t, ps.Warnings(), 2)
	assert.Contains(t, ps.Warnings()[0].Error(), "does not match certificate")
	assert.Contains(t, ps.Warnings()[1].Error(), "damaged or truncated")
	for _, l := range ls {
		assert.Equal(t, l.Name != "fine.test", l.KeyBroken, l.Name)
	}

	rep, _ := fileClient(t, root).Renew(quickCtx(t), acme.RenewOptions{})
	assertDueNow(t, rep, acme.ReasonBrokenKey, "fine.test")
}

// assertDueNow: every lineage of rep but the kept ones was due at once for reason, and
// its attempt was made (the closed CA makes it fail); the kept ones were kept.
func assertDueNow(t *testing.T, rep acme.Report, reason string, kept ...string) {
	t.Helper()
	for _, o := range rep.Outcomes {
		if slices.Contains(kept, o.Name) {
			assert.Equal(t, acme.Kept, o.Action, o.Name)
			continue
		}
		require.NotNil(t, o.Due, o.Name)
		assert.True(t, o.Due.Now, o.Name)
		assert.Equal(t, reason, o.Due.Reason, o.Name)
		assert.Equal(t, acme.Failed, o.Action, o.Name)
	}
}

// TestDamagedFullchainOrChain (issue 20): nginx serves live/NAME/fullchain.pem with
// privkey.pem, and certbot-layout readers take chain.pem. A FIFO or truncated
// fullchain.pem or chain.pem, a fullchain.pem copied from another lineage (its leaf is
// not cert.pem, nor privkey.pem's) and a chain.pem of another lineage (fullchain is no
// longer cert + chain) used to pass List and Renew untouched. Each is now a warning
// naming the file and the fix, and Renew treats the lineage as it treats a broken key:
// due at once (the closed CA makes the attempt fail, but it was made).
func TestDamagedFullchainOrChain(t *testing.T) {
	t.Parallel()
	damaged := []string{"fifo-full.test", "trunc-full.test", "other-full.test", "fifo-chain.test", "trunc-chain.test", "other-chain.test"}
	root, st := fileStore(t, append([]string{"fine.test", "donor.test"}, damaged...)...)
	archive := func(name, kind string) string { return filepath.Join(root, "archive", name, kind+"1.pem") }
	fifo := func(p string) {
		require.NoError(t, os.Remove(p))
		require.NoError(t, syscall.Mkfifo(p, 0o644))
	}
	truncate := func(p string) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b[:len(b)*2/3], 0o644))
	}
	copyFrom := func(p, from string) {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	fifo(archive("fifo-full.test", "fullchain"))
	truncate(archive("trunc-full.test", "fullchain"))
	copyFrom(archive("other-full.test", "fullchain"), archive("donor.test", "fullchain"))
	fifo(archive("fifo-chain.test", "chain"))
	truncate(archive("trunc-chain.test", "chain"))
	copyFrom(archive("other-chain.test", "chain"), archive("donor.test", "chain"))
	live := func(name, file string) string { return filepath.Join(root, "live", name, file) }
	want := map[string][]string{
		"fifo-full.test":   {live("fifo-full.test", "fullchain.pem"), "FIFO"},
		"trunc-full.test":  {live("trunc-full.test", "fullchain.pem"), "damaged or truncated"},
		"other-full.test":  {live("other-full.test", "fullchain.pem"), "donor.test", "not cert.pem's", "nginx serves it with privkey.pem, which is not its key"},
		"fifo-chain.test":  {live("fifo-chain.test", "chain.pem"), "FIFO"},
		"trunc-chain.test": {live("trunc-chain.test", "chain.pem"), "damaged or truncated"},
		"other-chain.test": {live("other-chain.test", "fullchain.pem"), "is not cert.pem followed by chain.pem"},
	}

	start := time.Now()
	ls, ps := st.List()
	assert.Less(t, time.Since(start), 5*time.Second, "a FIFO blocked List")
	require.Len(t, ls, len(damaged)+2, "a damaged chain still lists the lineage")
	assert.Empty(t, ps.Errors())
	got := map[string]string{}
	for _, p := range ps.Warnings() {
		got[strings.TrimPrefix(p.Path, "lineage ")] = p.Error()
	}
	require.Len(t, got, len(damaged), "%v", ps)
	for name, parts := range want {
		for _, s := range parts {
			assert.Contains(t, got[name], s, name)
		}
		assert.Contains(t, got[name], "the next renew replaces the lineage's certificate files", name)
	}
	for _, l := range ls {
		broken := l.Name != "fine.test" && l.Name != "donor.test"
		assert.Equal(t, broken, l.ChainBroken, l.Name)
		assert.Equal(t, broken, len(l.ChainProblems) > 0, l.Name)
		assert.False(t, l.KeyBroken, l.Name)
	}

	start = time.Now()
	rep, err := fileClient(t, root).Renew(quickCtx(t), acme.RenewOptions{})
	require.Error(t, err, "a damaged lineage is never skipped with success")
	assert.Less(t, time.Since(start), 5*time.Second, "a FIFO blocked Renew")
	require.Len(t, rep.Outcomes, len(damaged)+2)
	assertDueNow(t, rep, acme.ReasonBrokenChain, "fine.test", "donor.test")
}

// TestDamagedChainBehindAFreshStamp (issue 20): Load skips re-parsing the live files
// while their stamp (inode, size, ctime) is what Install recorded; a fullchain.pem
// replaced behind a fresh certificate and key stamp is still found.
func TestDamagedChainBehindAFreshStamp(t *testing.T) {
	t.Parallel()
	root, st := fileStore(t, "a.test", "b.test")
	l, err := st.Load("a.test")
	require.NoError(t, err)
	require.False(t, l.ChainBroken)
	// Replace the live link itself (not the archive file): cert.pem and privkey.pem,
	// and so their stamp, are untouched.
	full := filepath.Join(root, "live", ".a.test.v1", "fullchain.pem")
	require.NoError(t, os.Remove(full))
	require.NoError(t, os.Symlink("../../archive/b.test/fullchain1.pem", full))
	l, err = st.Load("a.test")
	require.NoError(t, err)
	assert.True(t, l.ChainBroken)
	require.Len(t, l.ChainProblems, 1)
	assert.Contains(t, l.ChainProblems[0], filepath.Join(root, "live", "a.test", "fullchain.pem"))
	assert.Contains(t, l.ChainProblems[0], "b.test")
}

// TestNonRegularMarkerFailsRenew (issue 20): a deploy-pending marker that is a FIFO
// (or a directory) is never read, deployed or removed: renew fails that lineage,
// naming the marker and the fix, whether or not a deploy step is configured, and
// still handles the healthy lineages. A FIFO marker of no lineage fails the run too.
func TestNonRegularMarkerFailsRenew(t *testing.T) {
	t.Parallel()
	root, st := fileStore(t, "fine.test", "fifo.test", "dir.test")
	marker := func(n string) string { return filepath.Join(root, "renewal", n+acme.PendingSuffix) }
	require.NoError(t, syscall.Mkfifo(marker("fifo.test"), 0o644))
	require.NoError(t, os.Mkdir(marker("dir.test"), 0o755))
	require.NoError(t, syscall.Mkfifo(marker("gone.test"), 0o644))
	hookLog := filepath.Join(testenv.TempDir(t), "hook")

	for _, deploy := range []bool{false, true} {
		cfg := acme.Config{Root: root, Server: closedCA, Challenge: acme.Challenge{Webroot: t.TempDir()}}
		if deploy {
			cfg.Deploy.Reload = []string{"/bin/sh", "-c", "echo ran >> " + hookLog}
		}
		c, err := acme.New(cfg)
		require.NoError(t, err)
		start := time.Now()
		rep, err := c.Renew(quickCtx(t), acme.RenewOptions{})
		assert.Less(t, time.Since(start), 5*time.Second, "a FIFO blocked Renew")
		require.Error(t, err, "deploy=%v", deploy)
		got := map[string]acme.Outcome{}
		for _, o := range rep.Outcomes {
			got[o.Name] = o
		}
		require.Len(t, got, 4, "deploy=%v: %+v", deploy, rep.Outcomes)
		assert.Equal(t, acme.Kept, got["fine.test"].Action)
		for n, what := range map[string]string{"fifo.test": "a FIFO (named pipe)", "dir.test": "a directory", "gone.test": "a FIFO (named pipe)"} {
			o := got[n]
			assert.Equal(t, acme.Failed, o.Action, n)
			assert.ErrorIs(t, o.Err, acme.ErrNotRegular, n)
			assert.Contains(t, o.Error, "deploy-pending marker "+marker(n)+" is "+what, n)
			assert.Contains(t, o.Error, "rm -r "+marker(n), n)
		}
		assert.Empty(t, rep.Pending, "deploy=%v", deploy)
		assert.False(t, rep.Deployed, "deploy=%v", deploy)
		fi, err := os.Lstat(marker("fifo.test"))
		require.NoError(t, err)
		assert.NotZero(t, fi.Mode()&os.ModeNamedPipe, "the FIFO is left for the admin")
		fi, err = os.Lstat(marker("gone.test"))
		require.NoError(t, err, "an orphan FIFO marker is not removed either")
		assert.NotZero(t, fi.Mode()&os.ModeNamedPipe)
		assert.DirExists(t, marker("dir.test"))
	}
	assert.NoFileExists(t, hookLog, "nothing changed and nothing readable was pending: no deploy")

	// List names the same file and the same fix.
	_, ps := st.List()
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, p.Error())
	}
	all := strings.Join(msgs, "\n")
	assert.Contains(t, all, "deploy-pending marker "+marker("fifo.test")+" is a FIFO (named pipe)")
	assert.Contains(t, all, "rm -r "+marker("fifo.test"))
}

// TestInterruptedLockWaitSaysSo (issue 20): a run stopped while it waits for the lock
// says what it waited for and that nothing was done, not a bare "context canceled".
func TestInterruptedLockWaitSaysSo(t *testing.T) {
	t.Parallel()
	root, st := fileStore(t, "a.test")
	unlock, err := st.Lock(quickCtx(t), 0)
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(300*time.Millisecond, func() { cancel(errors.New("terminated signal received")) })
	c, err := acme.New(acme.Config{Root: root, Server: closedCA, LockWait: time.Minute, Challenge: acme.Challenge{Webroot: t.TempDir()}})
	require.NoError(t, err)
	_, err = c.Renew(ctx, acme.RenewOptions{})
	require.ErrorIs(t, err, context.Canceled)
	lock := filepath.Join(root, acme.LockName)
	assert.Equal(t, fmt.Sprintf("interrupted (terminated signal received) while waiting for the lock %s held by PID %d: nothing was done", lock, os.Getpid()), err.Error())
}

// TestObtainReplacesBrokenLive: obtain of an existing, not-due lineage whose live key
// or fullchain.pem is broken obtains it anew (the closed CA makes the attempt fail,
// but it is made) instead of keeping it as if nginx could serve it; a healthy one is
// kept.
func TestObtainReplacesBrokenLive(t *testing.T) {
	t.Parallel()
	root, _ := fileStore(t, "fine.test", "bad-key.test", "bad-chain.test")
	for _, p := range []string{
		filepath.Join(root, "archive", "bad-key.test", "privkey1.pem"),
		filepath.Join(root, "archive", "bad-chain.test", "fullchain1.pem"),
	} {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b[:len(b)/2], 0o600))
	}
	var reqs []acme.Request
	for _, n := range []string{"fine.test", "bad-key.test", "bad-chain.test"} {
		reqs = append(reqs, acme.Request{Names: []string{n}})
	}
	rep, err := fileClient(t, root).Obtain(quickCtx(t), reqs...)
	require.Error(t, err, "a broken lineage is never kept with success")
	got := map[string]acme.Outcome{}
	for _, o := range rep.Outcomes {
		got[o.Name] = o
	}
	require.Len(t, got, 3)
	assert.Equal(t, acme.Kept, got["fine.test"].Action)
	for _, n := range []string{"bad-key.test", "bad-chain.test"} {
		assert.Equal(t, acme.Failed, got[n].Action, n)
		assert.NotContains(t, got[n].Error, "exists", n)
	}
}
