// Package bundletest holds the checks every example's test runs on a rendered bundle:
// a snapshot of the tree (to prove a re-run changes nothing), and the real validators
// of internal/testenv on each kind of artifact (nginx -t, systemd-analyze verify,
// redis-server, postgres -C, pg_hba parsing, .env.production parsing).
package bundletest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgsetup"
)

// Entry is one file of a snapshot.
type Entry struct {
	Mode    fs.FileMode
	Data    []byte
	ModTime time.Time
}

// Snapshot reads every regular file under dir (relative slash paths).
func Snapshot(t testing.TB, dir string) map[string]Entry {
	t.Helper()
	out := map[string]Entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b := filepath.Base(p); strings.HasSuffix(b, ".v6kit-lock") || strings.HasPrefix(b, ".v6kit-") && strings.HasSuffix(b, ".lock") {
			return nil // v6kit's lock files: empty, left beside what it writes
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = Entry{Mode: st.Mode().Perm(), Data: b, ModTime: st.ModTime()}
		return nil
	})
	if os.IsNotExist(err) {
		return out
	}
	require.NoError(t, err)
	return out
}

// List returns "MODE PATH" lines of a snapshot, sorted.
func List(s map[string]Entry) string {
	var lines []string
	for p, e := range s {
		lines = append(lines, fmt.Sprintf("%04o %s", e.Mode, p))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// RequireSame fails unless b holds exactly a's files with the same bytes, modes and
// modification times (an untouched file keeps its mtime).
func RequireSame(t testing.TB, a, b map[string]Entry) {
	t.Helper()
	require.Equal(t, List(a), List(b), "the file list changed")
	for p, e := range a {
		require.Equal(t, string(e.Data), string(b[p].Data), "%s changed", p)
		require.True(t, e.ModTime.Equal(b[p].ModTime), "%s was rewritten (mtime changed)", p)
	}
}

// Secrets returns the secret values of a .env.production by key.
func Secrets(t testing.TB, file string) map[string]string {
	t.Helper()
	f, err := envfile.ParseFile(file)
	require.NoError(t, err)
	out := map[string]string{}
	for _, k := range f.Keys() {
		if mastodon.IsSecret(k) {
			v, _ := f.Get(k)
			out[k] = v
		}
	}
	return out
}

var listenRe = regexp.MustCompile(`(?m)^(\s*listen (?:\[::\]:|0\.0\.0\.0:)?)(80|443)([ ;])`)

// NginxCheckSite runs the real `nginx -t` (strict: warnings fail) on a rendered site
// file, after pointing its certificate at a self-signed one for names, its cache into
// the prefix and its ports 80/443 at free ports (so the check needs no privileges).
func NginxCheckSite(t testing.TB, site []byte, certPaths [][2]string, names ...string) {
	t.Helper()
	p := testenv.NewNginxPrefix(t)
	cert, key := testenv.NginxSelfSignedCert(t, p.Path("certs"), names...)
	for _, ck := range certPaths {
		site = bytes.ReplaceAll(site, []byte(ck[0]), []byte(cert))
		site = bytes.ReplaceAll(site, []byte(ck[1]), []byte(key))
	}
	site = bytes.ReplaceAll(site, []byte("proxy_cache_path /var/cache/nginx "), []byte("proxy_cache_path "+p.CachePath()+" "))
	ports := map[string]string{"80": fmt.Sprint(testenv.FreePort(t)), "443": fmt.Sprint(testenv.FreePort(t))}
	site = listenRe.ReplaceAllFunc(site, func(m []byte) []byte {
		s := listenRe.FindSubmatch(m)
		return []byte(string(s[1]) + ports[string(s[2])] + string(s[3]))
	})
	p.WriteSite(t, "site", site)
	p.MustCheck(t)
}

// Validate runs every validator that applies to the files of a rendered tree root:
// nginx sites, systemd units, the Redis snippet, PostgreSQL conf.d snippets, pg_hba
// blocks and .env.production. certPaths maps the site's certificate and key paths.
func Validate(t *testing.T, root string, rel mastodon.Release, certPaths [][2]string, names ...string) {
	t.Helper()
	snap := Snapshot(t, root)
	var unitNames []string
	for p, e := range snap {
		switch {
		case strings.HasPrefix(p, "etc/nginx/sites-available/"):
			t.Run("nginx -t "+filepath.Base(p), func(t *testing.T) { NginxCheckSite(t, e.Data, certPaths, names...) })
		case strings.HasPrefix(p, "etc/systemd/system/"):
			unitNames = append(unitNames, filepath.Base(p))
		case strings.HasPrefix(p, "etc/redis/"):
			t.Run("redis-server "+filepath.Base(p), func(t *testing.T) {
				require.NoError(t, testenv.RedisConfCheck(t, filepath.Join(root, p)))
			})
		case strings.HasPrefix(p, "etc/postgresql/") && strings.Contains(p, "/conf.d/"):
			t.Run("postgres -C "+filepath.Base(p), func(t *testing.T) {
				name := "max_connections"
				if strings.Contains(p, "listen") {
					name = "listen_addresses"
				}
				v, err := testenv.PostgresConfCheck(t, e.Data, name)
				require.NoError(t, err)
				require.NotEmpty(t, v)
			})
		case strings.Contains(p, "pg_hba"):
			f, err := pgsetup.ParseHBA(e.Data)
			require.NoError(t, err, p)
			rules, _ := f.Rules()
			require.NotEmpty(t, rules, p)
			for _, r := range rules {
				require.NoError(t, r.Validate().Err(), "%s: %s", p, r)
			}
		case strings.HasSuffix(p, ".env.production"):
			f, err := envfile.Parse(e.Data)
			require.NoError(t, err, p)
			require.NoError(t, f.Validate(envfile.Options{Release: rel}).Err(), p)
			require.Equal(t, fs.FileMode(0o600), e.Mode, p)
		}
	}
	if len(unitNames) > 0 {
		t.Run("systemd-analyze verify", func(t *testing.T) {
			sort.Strings(unitNames)
			var verify []string
			for _, n := range unitNames {
				if strings.HasSuffix(n, "@.service") {
					n = strings.TrimSuffix(n, "@.service") + "@4000.service"
				}
				verify = append(verify, n)
			}
			out := testenv.SystemdVerify(t, filepath.Join(root, "etc/systemd/system"), verify...)
			require.Empty(t, strings.TrimSpace(out), "systemd-analyze verify %v", verify)
		})
	}
}

// Context returns a context for a test step, cancelled at cleanup.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// RunFunc is an example's run function.
type RunFunc func(args []string, stdout, stderr io.Writer) int

// Run runs an example and returns its exit code, stdout and stderr.
func Run(run RunFunc, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	rc := run(args, &stdout, &stderr)
	return rc, stdout.String(), stderr.String()
}

// Golden compares sections (name → content) and the comment with the txtar file, or
// rewrites it under -update (internal/golden).
func Golden(t testing.TB, file, comment string, sections [][2]string) {
	t.Helper()
	var out []golden.Section
	for _, s := range sections {
		out = append(out, golden.Section{Name: s[0], Data: s[1]})
	}
	golden.Check(t, file, comment+"\n", out...)
}
