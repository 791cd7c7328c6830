package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
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
	bundletest.Golden(t, "testdata/split.txtar",
		"go run ./examples/split --out OUT: five IPv6-only hosts on a ULA network.",
		[][2]string{
			{"stdout", strings.ReplaceAll(stdout, out, "OUT")},
			{"stderr", stderr},
			{"files", bundletest.List(snap)},
			{"db1/etc/postgresql/15/main/pg_hba.mastodon-block.conf", string(snap["db1/etc/postgresql/15/main/pg_hba.mastodon-block.conf"].Data)},
			{"db1/NEXT-STEPS.md", string(snap["db1/NEXT-STEPS.md"].Data)},
			{"front/NEXT-STEPS.md", string(snap["front/NEXT-STEPS.md"].Data)},
			{"web1/NEXT-STEPS.md", string(snap["web1/NEXT-STEPS.md"].Data)},
			{"redis1/NEXT-STEPS.md", string(snap["redis1/NEXT-STEPS.md"].Data)},
		})
	// one set of secrets on both app hosts
	assert.Equal(t, string(snap["web1/"+envPath].Data), string(snap["web2/"+envPath].Data))
	web := bundletest.Secrets(t, filepath.Join(out, "web1", envPath))
	assert.Equal(t, web["DB_PASS"]+"\n", string(snap["db1/"+bundle.DBPasswordPath].Data), "db1 gets the app hosts' DB_PASS")
	redis := string(snap["redis1/"+bundle.RedisPath].Data)
	assert.Contains(t, redis, "bind ::1 fd7a:6b69:7400:20::6\n")
	env := string(snap["web1/"+envPath].Data)
	pass := strings.TrimSpace(strings.TrimPrefix(redis[strings.Index(redis, "requirepass "):], "requirepass "))
	assert.Contains(t, env, "REDIS_URL=redis://:"+pass+"@[fd7a:6b69:7400:20::6]:6379/0\n")
	assert.Contains(t, env, "DB_HOST=fd7a:6b69:7400:20::5\n")
	site := string(snap["front/"+bundle.SitePath].Data)
	assert.Contains(t, site, "server [fd7a:6b69:7400:10::31]:3000 fail_timeout=0;\n  server [fd7a:6b69:7400:10::32]:3000 fail_timeout=0;")
	assert.Contains(t, site, "least_conn;\n  server [fd7a:6b69:7400:10::31]:4000 fail_timeout=0;\n  server [fd7a:6b69:7400:10::32]:4000 fail_timeout=0;")
	assert.Contains(t, string(snap["db1/"+bundle.ListenPath].Data), "listen_addresses = '::1,fd7a:6b69:7400:20::5'\n")
	// front renews the certificate its nginx serves, and reloads it
	assert.Contains(t, string(snap["front/"+bundle.UnitDir+"/v6-certs-renew.service"].Data), "ExecStart=/usr/local/bin/v6-certs renew --reload-nginx\n")
	// exactly one scheduler across the hosts
	var schedulers int
	for p := range snap {
		if strings.HasSuffix(p, "mastodon-sidekiq-scheduler.service") {
			schedulers++
		}
	}
	assert.Equal(t, 1, schedulers)
}

func TestRerunChangesNothingAndKeepsSecrets(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	first := bundletest.Snapshot(t, out)
	rc, stdout, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	bundletest.RequireSame(t, first, bundletest.Snapshot(t, out))
	assert.NotContains(t, stdout, "written")

	// web1's bundle wiped: the secrets come back from web2's
	require.NoError(t, os.RemoveAll(filepath.Join(out, "web1")))
	rc, _, stderr = bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	bundletest.RequireSame(t, first, withMtimes(first, bundletest.Snapshot(t, out), "web1/"))
}

// withMtimes copies the mtimes of files under prefix from a to b (they were rewritten
// with the same bytes).
func withMtimes(a, b map[string]bundletest.Entry, prefix string) map[string]bundletest.Entry {
	for p, e := range b {
		if strings.HasPrefix(p, prefix) {
			e.ModTime = a[p].ModTime
			b[p] = e
		}
	}
	return b
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"budget over db1's max_connections", []string{"--max-connections", "60"}, []string{"max_connections", "nothing was written"}},
		{"web host outside the app prefix", []string{"--web2-addr", "fd7a:6b69:7400:99::32"}, []string{"app-prefix", "nothing was written"}},
		{"IPv4 address for the database", []string{"--db-addr", "192.0.2.5"}, []string{"db-addr", "nothing was written"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "cluster")
			rc, _, stderr := bundletest.Run(run, append([]string{"--out", out}, c.args...)...)
			require.Equal(t, 1, rc, stderr)
			for _, w := range c.want {
				assert.Contains(t, stderr, w)
			}
			_, err := os.Stat(out)
			assert.True(t, os.IsNotExist(err), "nothing may be written")
		})
	}
	// app hosts whose secrets differ are refused, and nothing changes
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	other := t.TempDir()
	rc, _, stderr = bundletest.Run(run, "--out", other)
	require.Equal(t, 0, rc, stderr)
	data, err := os.ReadFile(filepath.Join(other, "web2", envPath))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(out, "web2", envPath), data, 0o600))
	before := bundletest.Snapshot(t, out)
	rc, _, stderr = bundletest.Run(run, "--out", out)
	require.Equal(t, 1, rc)
	assert.Contains(t, stderr, "web2's secrets differ from web1's")
	bundletest.RequireSame(t, before, bundletest.Snapshot(t, out))
}

func TestRealValidators(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	h := bundle.Host{LocalDomain: example.LocalDomain, WebDomain: example.WebDomain}
	cert, key := h.CertPaths()
	for _, host := range []string{"front", "web1", "web2", "db1", "redis1"} {
		t.Run(host, func(t *testing.T) {
			bundletest.Validate(t, filepath.Join(out, host), mastodon.Newest(), [][2]string{{cert, key}}, h.CertNames()...)
		})
	}
}

// TestPathFlags renders the cluster for another home, certificate directory, ACME
// server and nginx cache (a staging CA, or a test world): front's nginx root is the
// webroot its certificate command answers HTTP-01 from, its certificate paths and
// renewal unit name the directory, and the app hosts' units and .env.production live
// under the home. The split used to hard-code all four.
func TestPathFlags(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out, "--home", "/srv/mastodon", "--letsencrypt", "/srv/le",
		"--acme-server", "https://acme-staging-v02.api.letsencrypt.org/directory", "--nginx-cache", "/srv/cache/nginx")
	require.Equal(t, 0, rc, stderr)
	snap := bundletest.Snapshot(t, out)
	site := string(snap["front/"+bundle.SitePath].Data)
	assert.Contains(t, site, "ssl_certificate /srv/le/live/social.example.org/fullchain.pem;\n")
	assert.Contains(t, site, "ssl_certificate_key /srv/le/live/social.example.org/privkey.pem;\n")
	assert.Contains(t, site, "proxy_cache_path /srv/cache/nginx ")
	assert.Contains(t, site, "root /srv/mastodon/live/public;\n")
	assert.NotContains(t, site, "/home/mastodon")
	assert.Contains(t, string(snap["front/"+bundle.BootstrapPath].Data), "root /srv/mastodon/live/public;\n")
	assert.Contains(t, string(snap["front/"+bundle.UnitDir+"/v6-certs-renew.service"].Data),
		"ExecStart=/usr/local/bin/v6-certs renew --dir /srv/le --reload-nginx\n")
	steps := string(snap["front/"+bundle.NextStepsPath].Data)
	assert.Contains(t, steps, "v6-certs obtain --dir /srv/le --server https://acme-staging-v02.api.letsencrypt.org/directory --email admin@example.org --webroot /srv/mastodon/live/public ")
	assert.Contains(t, steps, "rsync -a -- web1:/srv/mastodon/live/public/ /srv/mastodon/live/public/\n")
	for _, host := range []string{"web1", "web2"} {
		_, ok := snap[host+"/srv/mastodon/live/.env.production"]
		assert.True(t, ok, "%s's .env.production under --home", host)
		assert.Contains(t, string(snap[host+"/"+bundle.UnitDir+"/mastodon-web.service"].Data), "WorkingDirectory=/srv/mastodon/live\n")
		assert.Contains(t, string(snap[host+"/"+bundle.NextStepsPath].Data), " env -C /srv/mastodon/live ")
	}
	for p := range snap {
		assert.False(t, strings.HasPrefix(p, "web1/home/") || strings.HasPrefix(p, "web2/home/"), "%s: nothing under /home", p)
	}
}
