package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/examples/internal/bundletest"
	"github.com/v6kit/v6kit/mastodon"
)

const envPath = "home/mastodon/live/.env.production"

func TestGolden(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, stdout, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	snap := bundletest.Snapshot(t, out)
	bundletest.Golden(t, "testdata/dualstack.txtar",
		"go run ./examples/dualstack --out OUT: a dual-stack all-in-one host, newest Mastodon.",
		[][2]string{
			{"stdout", strings.ReplaceAll(stdout, out, "OUT")},
			{"stderr", stderr},
			{"files", bundletest.List(snap)},
			{"etc/redis/mastodon.conf", string(snap["etc/redis/mastodon.conf"].Data)},
			{"etc/postgresql/15/main/pg_hba.mastodon-block.conf", string(snap["etc/postgresql/15/main/pg_hba.mastodon-block.conf"].Data)},
		})
	site := string(snap["etc/nginx/sites-available/mastodon"].Data)
	for _, l := range []string{"listen 80;", "listen [::]:80;", "listen 443 ssl http2;", "listen [::]:443 ssl http2;"} {
		assert.Contains(t, site, l)
	}
	env := string(snap[envPath].Data)
	assert.NotContains(t, env, "ALLOWED_PRIVATE_ADDRESSES", "no NAT64 on a dual-stack host")
	assert.Contains(t, string(snap["NEXT-STEPS.md"].Data), "--family dual-stack")
}

func TestRerunChangesNothingAndKeepsSecrets(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	first := bundletest.Snapshot(t, out)
	secrets := bundletest.Secrets(t, filepath.Join(out, envPath))
	rc, stdout, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	bundletest.RequireSame(t, first, bundletest.Snapshot(t, out))
	assert.NotContains(t, stdout, "written")

	rc, _, stderr = bundletest.Run(run, "--out", out, "--web-domain", "social.example.net", "--split")
	require.Equal(t, 0, rc, stderr)
	assert.Equal(t, secrets, bundletest.Secrets(t, filepath.Join(out, envPath)))
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "site")
	rc, _, stderr := bundletest.Run(run, "--out", out, "--domain", "mastodon.example.net:443", "--nginx-cache", "/var/cache/nginx; evil")
	require.Equal(t, 1, rc)
	assert.Contains(t, stderr, "LOCAL_DOMAIN")
	assert.Contains(t, stderr, "cache")
	_, err := os.Stat(out)
	assert.True(t, os.IsNotExist(err))
}

func TestRealValidators(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	cert, key := example.CertPaths()
	bundletest.Validate(t, out, mastodon.Newest(), [][2]string{{cert, key}}, example.CertNames()...)
}

// TestBadFlagErrorsNameTheFlag: each bad flag's error names the flag the user typed.
func TestBadFlagErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	for _, a := range [][]string{{"--acme-server", "http://x"}, {"--nginx-cache", "rel/x"}, {"--home", "rel"}, {"--cpus", "-1"}} {
		rc, _, stderr := bundletest.Run(run, append(a, "--out", filepath.Join(t.TempDir(), "out"))...)
		assert.Equal(t, 1, rc, "%v: %s", a, stderr)
		assert.True(t, strings.HasPrefix(stderr, a[0]+": "), "%v: %s", a, stderr)
	}
}
