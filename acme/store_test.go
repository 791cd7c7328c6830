package acme_test

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/v6kit/v6kit/acme"
)

func meta(names ...string) acme.Meta {
	return acme.Meta{Names: names, Server: "https://acme.test/dir", KeyType: acme.EC256, Source: "v6-certs",
		Challenge: acme.Challenge{Type: acme.HTTP01, Webroot: "/var/www/acme"}}
}

func TestStoreInstallLayout(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir()}
	now := time.Now()
	v1 := selfSigned(t, now, 90*24*time.Hour, "social.test", "media.social.test")
	n, err := st.Install("social.test", v1, meta("social.test", "media.social.test"), now)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// certbot-compatible paths, relative links into archive, privkey 0600.
	for _, k := range []string{"cert", "chain", "fullchain", "privkey"} {
		p := filepath.Join(st.LiveDir("social.test"), k+".pem")
		target, err := os.Readlink(p)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("../../archive/social.test/%s1.pem", k), target)
		_, err = os.ReadFile(p)
		require.NoError(t, err)
	}
	fi, err := os.Stat(st.Path("archive", "social.test", "privkey1.pem"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	link, err := os.Readlink(st.LiveDir("social.test"))
	require.NoError(t, err)
	assert.Equal(t, ".social.test.v1", link)
	full, _ := os.ReadFile(filepath.Join(st.LiveDir("social.test"), "fullchain.pem"))
	assert.Equal(t, v1.Fullchain(), full)
	_, err = tls.LoadX509KeyPair(filepath.Join(st.LiveDir("social.test"), "fullchain.pem"), filepath.Join(st.LiveDir("social.test"), "privkey.pem"))
	require.NoError(t, err)

	// A second version keeps the previous live dir (for readers inside it) and prunes older ones.
	for i := 2; i <= 4; i++ {
		n, err = st.Install("social.test", selfSigned(t, now, 90*24*time.Hour, "social.test", "media.social.test"), meta("social.test", "media.social.test"), now)
		require.NoError(t, err)
		require.Equal(t, i, n)
	}
	// Old version directories go once they are ten minutes old; the previous one stays.
	old := time.Now().Add(-time.Hour)
	for _, v := range []string{"v1", "v2", "v3"} {
		require.NoError(t, os.Chtimes(st.Path("live", ".social.test."+v), old, old))
	}
	_, err = st.Install("social.test", selfSigned(t, now, 90*24*time.Hour, "social.test", "media.social.test"), meta("social.test", "media.social.test"), now)
	require.NoError(t, err)
	ents, _ := filepath.Glob(st.Path("live", ".social.test.v*"))
	assert.ElementsMatch(t, []string{st.Path("live", ".social.test.v4"), st.Path("live", ".social.test.v5")}, ents)
	l, err := st.Load("social.test")
	require.NoError(t, err)
	assert.Equal(t, 5, l.Version)
	assert.ElementsMatch(t, []string{"social.test", "media.social.test"}, l.Names)

	// A mismatched key is refused and nothing changes.
	bad := selfSigned(t, now, time.Hour, "social.test")
	bad.Key = v1.Key
	_, err = st.Install("social.test", bad, meta("social.test"), now)
	require.Error(t, err)
	l2, err := st.Load("social.test")
	require.NoError(t, err)
	assert.Equal(t, 5, l2.Version)
}

// readPair reads cert and key through one open of live/NAME, as a process that
// resolves the directory once would, and reports whether they match.
func readPair(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	read := func(name string) ([]byte, error) {
		f, err := unix.Openat(fd, name, unix.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		file := os.NewFile(uintptr(f), name)
		defer file.Close()
		var b []byte
		buf := make([]byte, 4096)
		for {
			n, err := file.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil || n == 0 {
				break
			}
		}
		return b, nil
	}
	c, err := read("fullchain.pem")
	if err != nil {
		return err
	}
	k, err := read("privkey.pem")
	if err != nil {
		return err
	}
	_, err = tls.X509KeyPair(c, k)
	return err
}

// pairWatcher reads live/NAME in a loop until stopped and records any moment the
// files were missing or the key did not match the certificate.
type pairWatcher struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	reads  atomic.Int64
	mu     sync.Mutex
	errors []error
}

func watchPair(dir string) *pairWatcher {
	w := &pairWatcher{stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			if err := readPair(dir); err != nil {
				w.mu.Lock()
				w.errors = append(w.errors, err)
				w.mu.Unlock()
			}
			// Also by full path: every file must exist at every moment.
			for _, k := range []string{"cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"} {
				if _, err := os.Stat(filepath.Join(dir, k)); err != nil {
					w.mu.Lock()
					w.errors = append(w.errors, err)
					w.mu.Unlock()
				}
			}
			w.reads.Add(1)
		}
	}()
	return w
}

func (w *pairWatcher) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	w.wg.Wait()
	require.Empty(t, w.errors, "a reader saw a missing file or a mismatched pair")
	require.Positive(t, w.reads.Load())
}

func TestStoreSwitchIsAtomicForReaders(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir()}
	now := time.Now()
	_, err := st.Install("a.test", selfSigned(t, now, time.Hour, "a.test"), meta("a.test"), now)
	require.NoError(t, err)
	w := watchPair(st.LiveDir("a.test"))
	for range 30 {
		_, err := st.Install("a.test", selfSigned(t, now, time.Hour, "a.test"), meta("a.test"), now)
		require.NoError(t, err)
	}
	w.finish(t)
}

func TestStoreRepairCompletesInterruptedSwitch(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir()}
	now := time.Now()
	_, err := st.Install("a.test", selfSigned(t, now, time.Hour, "a.test"), meta("a.test"), now)
	require.NoError(t, err)

	// Crash 1: only part of version 2 was written. Repair leaves it; the next install numbers past it.
	partial := selfSigned(t, now.Add(time.Minute), time.Hour, "a.test")
	require.NoError(t, os.WriteFile(st.Path("archive", "a.test", "cert2.pem"), partial.Cert, 0o644))
	ok, err := st.Repair("a.test")
	require.NoError(t, err)
	assert.False(t, ok)
	l, _ := st.Load("a.test")
	assert.Equal(t, 1, l.Version)

	// Crash 2: version 3 complete in archive, live not switched (and a stale temp link).
	v3 := selfSigned(t, now.Add(2*time.Minute), time.Hour, "a.test")
	for k, b := range map[string][]byte{"cert": v3.Cert, "chain": v3.Chain, "fullchain": v3.Fullchain(), "privkey": v3.Key} {
		require.NoError(t, os.WriteFile(st.Path("archive", "a.test", k+"3.pem"), b, 0o600))
	}
	require.NoError(t, os.Symlink(".a.test.v3", st.Path("live", ".a.test.tmp")))
	ok, err = st.Repair("a.test")
	require.NoError(t, err)
	assert.True(t, ok)
	l, err = st.Load("a.test")
	require.NoError(t, err)
	assert.Equal(t, 3, l.Version)
	require.NoError(t, readPair(st.LiveDir("a.test")))
	_, err = os.Lstat(st.Path("live", ".a.test.tmp"))
	assert.True(t, os.IsNotExist(err))

	// A newer version for other names is not adopted.
	other := selfSigned(t, now.Add(3*time.Minute), time.Hour, "b.test")
	for k, b := range map[string][]byte{"cert": other.Cert, "chain": other.Chain, "fullchain": other.Fullchain(), "privkey": other.Key} {
		require.NoError(t, os.WriteFile(st.Path("archive", "a.test", k+"4.pem"), b, 0o600))
	}
	ok, err = st.Repair("a.test")
	require.NoError(t, err)
	assert.False(t, ok)
	n, err := st.Install("a.test", selfSigned(t, now, time.Hour, "a.test"), meta("a.test"), now)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
}

func TestStoreCorruptLineageReportedNotTouched(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir()}
	now := time.Now()
	_, err := st.Install("good.test", selfSigned(t, now, time.Hour, "good.test"), meta("good.test"), now)
	require.NoError(t, err)
	_, err = st.Install("bad.test", selfSigned(t, now, time.Hour, "bad.test"), meta("bad.test"), now)
	require.NoError(t, err)
	_, err = st.Install("garbled.test", selfSigned(t, now, time.Hour, "garbled.test"), meta("garbled.test"), now)
	require.NoError(t, err)
	// Damage: bad.test's metadata is not JSON; garbled.test's certificate is garbage.
	require.NoError(t, os.WriteFile(st.Path("renewal", "bad.test"+acme.MetaSuffix), []byte("{oops"), 0o644))
	certPath := st.Path("archive", "garbled.test", "cert1.pem")
	require.NoError(t, os.WriteFile(certPath, []byte("garbage"), 0o644))
	before, _ := os.ReadFile(st.Path("renewal", "bad.test"+acme.MetaSuffix))

	ls, ps := st.List()
	require.Len(t, ls, 1)
	assert.Equal(t, "good.test", ls[0].Name)
	require.Len(t, ps.Errors(), 2, ps.String())
	assert.ErrorIs(t, ps.Err(), acme.ErrCorrupt)
	assert.Contains(t, ps.String(), "lineage bad.test")
	assert.Contains(t, ps.String(), "lineage garbled.test")
	after, _ := os.ReadFile(st.Path("renewal", "bad.test"+acme.MetaSuffix))
	assert.Equal(t, before, after)
}
