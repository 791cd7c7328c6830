package acme_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

// liveMatchesArchive checks that live/NAME resolves to a matching cert/key pair that
// chains to Pebble and is byte for byte archive version v.
func liveMatchesArchive(t *testing.T, e *env, c *acme.Client, name string, v int) {
	t.Helper()
	require.NoError(t, readPair(c.Store().LiveDir(name)))
	leaf := e.verifyChain(t, c, name)
	arch := mustRead(t, c.Store().Path("archive", name, "cert"+strconv.Itoa(v)+".pem"))
	archLeaf, err := x509.ParseCertificate(mustPEM(t, arch))
	require.NoError(t, err)
	assert.Equal(t, archLeaf.Raw, leaf.Raw, "live/%s is archive version %d", name, v)
}

func mustPEM(t *testing.T, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk, "no PEM block")
	return blk.Bytes
}

func TestRenewKeepsBoundedArchive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	e.cfg.PollInterval = 20 * time.Millisecond // many orders: poll Pebble sooner
	c := e.client(t, nil)                      // Keep zero: live + 5 previous, as certbot
	e.obtain(t, c, acme.Request{Names: []string{"keep.test"}})
	w := watchPair(c.Store().LiveDir("keep.test"))
	for i := 2; i <= 9; i++ {
		rep, err := c.Renew(ctxT(t), acme.RenewOptions{Names: []string{"keep.test"}, Force: true})
		require.NoError(t, err)
		o := rep.Outcomes[0]
		require.Equal(t, acme.Renewed, o.Action)
		require.Equal(t, i, o.Version)
		assert.Empty(t, o.Warnings)
		if i <= 6 {
			assert.Empty(t, o.Pruned)
		} else {
			assert.Equal(t, []int{i - 6}, o.Pruned)
		}
		vs, err := c.Store().Versions("keep.test")
		require.NoError(t, err)
		assert.Equal(t, seq(max(1, i-5), i), vs)
		liveMatchesArchive(t, e, c, "keep.test", i)
	}
	w.finish(t)
	// 1 issuance + 8 renewals: exactly the newest 6 remain (live + 5).
	assert.Equal(t, wantArchive(seq(4, 9)), archiveFiles(t, c.Store(), "keep.test"))
	assert.Subset(t, seq(4, 9), liveVersionDirs(t, c.Store(), "keep.test"))

	// A removal that fails is a warning: the renewal succeeds and live is the new version.
	p := c.Store().Path("archive", "keep.test", "chain4.pem")
	require.NoError(t, os.Remove(p))
	require.NoError(t, os.MkdirAll(filepath.Join(p, "stuck"), 0o755))
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{Names: []string{"keep.test"}, Force: true})
	require.NoError(t, err)
	o := rep.Outcomes[0]
	assert.Equal(t, acme.Renewed, o.Action)
	assert.Equal(t, 10, o.Version)
	require.Len(t, o.Warnings, 1)
	assert.Contains(t, o.Warnings[0], "chain4.pem")
	assert.Empty(t, o.Pruned)
	liveMatchesArchive(t, e, c, "keep.test", 10)

	ls, ps := c.Store().List()
	require.NoError(t, ps.Err())
	require.Len(t, ls, 1)
	assert.Equal(t, 7, ls[0].Versions, "5..10 plus the stuck 4")
}

func TestRenewKeepAllKeepsEveryVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	e.cfg.PollInterval = 20 * time.Millisecond
	all := e.client(t, func(cfg *acme.Config) { cfg.Keep = -1 })
	e.obtain(t, all, acme.Request{Names: []string{"all.keep.test"}})
	for range 7 {
		rep, err := all.Renew(ctxT(t), acme.RenewOptions{Force: true})
		require.NoError(t, err)
		assert.Empty(t, rep.Outcomes[0].Pruned)
	}
	vs, err := all.Store().Versions("all.keep.test")
	require.NoError(t, err)
	assert.Equal(t, seq(1, 8), vs, "Keep -1: every version stays")
	assert.Equal(t, wantArchive(seq(1, 8)), archiveFiles(t, all.Store(), "all.keep.test"))
	liveMatchesArchive(t, e, all, "all.keep.test", 8)
}

// A crash between writing the archive files and the switch: the next run completes
// the switch, then prunes; the version it completes is never pruned before.
func TestRenewRepairsCrashWithRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	e.cfg.PollInterval = 20 * time.Millisecond
	c := e.client(t, func(cfg *acme.Config) { cfg.Keep = 1 })
	e.obtain(t, c, acme.Request{Names: []string{"crash.test"}})
	w := watchPair(c.Store().LiveDir("crash.test"))
	for range 2 {
		_, err := c.Renew(ctxT(t), acme.RenewOptions{Force: true})
		require.NoError(t, err)
	}
	vs, _ := c.Store().Versions("crash.test")
	require.Equal(t, []int{2, 3}, vs)
	v := issueOffline(t, e, c)
	for k, b := range map[string][]byte{"cert": v.Cert, "chain": v.Chain, "fullchain": v.Fullchain(), "privkey": v.Key} {
		require.NoError(t, os.WriteFile(filepath.Join(e.root, "archive", "crash.test", k+"4.pem"), b, 0o600))
	}
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Outcomes, 1)
	o := rep.Outcomes[0]
	assert.Equal(t, acme.Repaired, o.Action)
	assert.Equal(t, 4, o.Version)
	assert.Equal(t, []int{2}, o.Pruned)
	assert.True(t, rep.Changed)
	liveMatchesArchive(t, e, c, "crash.test", 4)
	vs, _ = c.Store().Versions("crash.test")
	assert.Equal(t, []int{3, 4}, vs)

	// Crash again, then a forced run: repair to 5, renew to 6, keeping 5 and 6.
	v = issueOffline(t, e, c)
	for k, b := range map[string][]byte{"cert": v.Cert, "chain": v.Chain, "fullchain": v.Fullchain(), "privkey": v.Key} {
		require.NoError(t, os.WriteFile(filepath.Join(e.root, "archive", "crash.test", k+"5.pem"), b, 0o600))
	}
	rep, err = c.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.NoError(t, err)
	o = rep.Outcomes[0]
	assert.Equal(t, acme.Renewed, o.Action)
	assert.Equal(t, 6, o.Version)
	assert.Equal(t, []int{3, 4}, o.Pruned, "3 after the repair to 5, 4 after the renewal to 6")
	vs, _ = c.Store().Versions("crash.test")
	assert.Equal(t, []int{5, 6}, vs)
	liveMatchesArchive(t, e, c, "crash.test", 6)
	w.finish(t)
}
