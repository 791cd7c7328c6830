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
	bundletest.Golden(t, "testdata/allinone.txtar",
		"go run ./examples/allinone --out OUT: the origin story's IPv6-only host with the example defaults.",
		[][2]string{
			{"stdout", strings.ReplaceAll(stdout, out, "OUT")},
			{"stderr", stderr},
			{"files", bundletest.List(snap)},
			{"NEXT-STEPS.md", string(snap["NEXT-STEPS.md"].Data)},
			{"etc/nginx/sites-available/mastodon", string(snap["etc/nginx/sites-available/mastodon"].Data)},
			{"etc/redis/mastodon.conf", string(snap["etc/redis/mastodon.conf"].Data)},
			{"etc/postgresql/15/main/pg_hba.mastodon-block.conf", string(snap["etc/postgresql/15/main/pg_hba.mastodon-block.conf"].Data)},
		})
	// the .env.production holds what the host needs, secrets generated
	env := string(snap[envPath].Data)
	for _, want := range []string{"LOCAL_DOMAIN=example.org\n", "WEB_DOMAIN=social.example.org\n", "REDIS_URL=redis://[::1]:6379/0\n",
		"SMTP_SERVER=relay.example.org\n", "SMTP_PORT=25\n", "SMTP_AUTH_METHOD=none\n", "ALLOWED_PRIVATE_ADDRESSES=64:ff9b::/96\n", "DB_HOST=/var/run/postgresql\n"} {
		assert.Contains(t, env, want)
	}
	secrets := bundletest.Secrets(t, filepath.Join(out, envPath))
	for _, s := range mastodon.Newest().Secrets() {
		assert.Contains(t, env, "\n"+s.Name+"=", "secret %s generated", s.Name)
	}
	pw := strings.TrimSpace(string(snap[bundle.DBPasswordPath].Data))
	assert.Equal(t, secrets["DB_PASS"], pw, "the role's password file matches DB_PASS")
}

func TestRerunChangesNothing(t *testing.T) {
	t.Parallel()
	cases := [][]string{nil, {"--split"}}
	for _, line := range mastodon.Lines() {
		cases = append(cases, []string{"--mastodon", line})
	}
	for _, args := range cases {
		t.Run(strings.Join(append([]string{"defaults"}, args...), " "), func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			rc, _, stderr := bundletest.Run(run, append([]string{"--out", out}, args...)...)
			require.Equal(t, 0, rc, stderr)
			first := bundletest.Snapshot(t, out)
			rc, stdout, stderr := bundletest.Run(run, append([]string{"--out", out}, args...)...)
			require.Equal(t, 0, rc, stderr)
			bundletest.RequireSame(t, first, bundletest.Snapshot(t, out))
			assert.NotContains(t, stdout, "written")
		})
	}
}

func TestSecretsSurviveAChange(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	before := bundletest.Secrets(t, filepath.Join(out, envPath))
	pw, err := os.ReadFile(filepath.Join(out, bundle.DBPasswordPath))
	require.NoError(t, err)

	// an admin edit outside v6kit's keys survives too
	f, err := os.OpenFile(filepath.Join(out, envPath), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("# added by the admin\nSINGLE_USER_MODE=true\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	rc, stdout, stderr := bundletest.Run(run, "--out", out, "--smtp-server", "relay2.example.org", "--split")
	require.Equal(t, 0, rc, stderr)
	assert.Contains(t, stdout, "written   0600 "+envPath)
	assert.Contains(t, stdout, "backup of the previous content")
	assert.Equal(t, before, bundletest.Secrets(t, filepath.Join(out, envPath)), "no secret changed")
	pw2, err := os.ReadFile(filepath.Join(out, bundle.DBPasswordPath))
	require.NoError(t, err)
	assert.Equal(t, string(pw), string(pw2))
	env, err := os.ReadFile(filepath.Join(out, envPath))
	require.NoError(t, err)
	assert.Contains(t, string(env), "SMTP_SERVER=relay2.example.org\n")
	assert.Contains(t, string(env), "# added by the admin\nSINGLE_USER_MODE=true\n")
	units, err := filepath.Glob(filepath.Join(out, bundle.UnitDir, "mastodon-sidekiq-*.service"))
	require.NoError(t, err)
	assert.Len(t, units, 4, "the split set")
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		rc   int
		want []string
	}{
		{"bad domains and relay at once", []string{"--domain", "exa mple.org", "--web-domain", "social;evil", "--smtp-server", "a b"}, 1,
			[]string{"LOCAL_DOMAIN", "WEB_DOMAIN", "--smtp-server", "nothing was written"}},
		{"port out of range", []string{"--smtp-port", "70000"}, 2, []string{"--smtp-port", "1 to 65535"}},
		{"unknown version", []string{"--mastodon", "9.9"}, 2, []string{"-mastodon", "unsupported mastodon version"}},
		{"newline in the relay", []string{"--smtp-server", "relay\nBIND=0.0.0.0"}, 1, []string{"SMTP_SERVER", "nothing was written"}},
		{"relative home", []string{"--home", "home/mastodon"}, 1, []string{"nothing was written"}},
		{"bad nginx version", []string{"--nginx-version", "0.9"}, 1, []string{"nginx", "nothing was written"}},
		{"budget over max_connections", []string{"--max-connections", "20"}, 1, []string{"max_connections", "nothing was written"}},
		{"bad NAT64 prefix", []string{"--nat64", "64:ff9b::"}, 2, []string{"nat64"}},
		{"no --out", nil, 2, []string{"--out DIR is required"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "site")
			args := c.args
			if c.name != "no --out" {
				args = append([]string{"--out", out}, args...)
			}
			rc, stdout, stderr := bundletest.Run(run, args...)
			require.Equal(t, c.rc, rc, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			for _, w := range c.want {
				assert.Contains(t, stderr, w)
			}
			_, err := os.Stat(out)
			assert.True(t, os.IsNotExist(err), "nothing may be written, not even --out")
		})
	}
}

func TestUnparsableEnvIsKept(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	bad := []byte("LOCAL_DOMAIN=example.org\nDB_PASS=\"unterminated\nSECRET_KEY_BASE=abc\n")
	require.NoError(t, os.MkdirAll(filepath.Join(out, filepath.Dir(envPath)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, envPath), bad, 0o600))
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 1, rc)
	assert.Contains(t, stderr, "does not parse")
	got, err := os.ReadFile(filepath.Join(out, envPath))
	require.NoError(t, err)
	assert.Equal(t, string(bad), string(got), "a file we cannot parse is never overwritten")
	assert.Equal(t, []string{envPath}, keys(bundletest.Snapshot(t, out)), "nothing else was written")
}

func TestRealValidators(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		line string
		args []string
	}{{mastodon.Newest().Line(), nil}, {"4.2", []string{"--split", "--mastodon", "4.2"}}, {"3.5", []string{"--mastodon", "3.5"}}, {"1.6", []string{"--mastodon", "1.6"}}} {
		args := c.args
		t.Run(strings.Join(append([]string{"defaults"}, args...), " "), func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			rc, _, stderr := bundletest.Run(run, append([]string{"--out", out}, args...)...)
			require.Equal(t, 0, rc, stderr)
			rel := mastodon.MustLookup(c.line)
			h := example
			cert, key := h.CertPaths()
			bundletest.Validate(t, out, rel, [][2]string{{cert, key}}, h.CertNames()...)
		})
	}
}

func keys(m map[string]bundletest.Entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestGoldenEgress renders both outbound paths: the gateway as a second tree under
// OUT/gateway, the host's .env.production and resolv.conf agreeing with it.
func TestGoldenEgress(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"nat64", "proxy"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			rc, stdout, stderr := bundletest.Run(run, "--out", out, "--egress", path)
			require.Equal(t, 0, rc, stderr)
			snap := bundletest.Snapshot(t, out)
			secs := [][2]string{
				{"stdout", strings.ReplaceAll(stdout, out, "OUT")},
				{"stderr", stderr},
				{"files", bundletest.List(snap)},
				{"gateway/NEXT-STEPS.md", string(snap["gateway/NEXT-STEPS.md"].Data)},
			}
			env := string(snap[envPath].Data)
			switch path {
			case "nat64":
				secs = append(secs, [2]string{"gateway/etc/nftables.d/v6kit-nat64.nft", string(snap["gateway/etc/nftables.d/v6kit-nat64.nft"].Data)},
					[2]string{"etc/resolv.conf", string(snap["etc/resolv.conf"].Data)})
				assert.Contains(t, env, "ALLOWED_PRIVATE_ADDRESSES=64:ff9b::/96\n")
				assert.NotContains(t, env, "http_proxy")
			case "proxy":
				secs = append(secs, [2]string{"gateway/etc/squid/squid.conf", string(snap["gateway/etc/squid/squid.conf"].Data)})
				assert.Contains(t, env, "http_proxy=http://[2001:db8:1::1]:3128\n")
				assert.Equal(t, 1, strings.Count(env, "http_proxy="), "one line, read by web and sidekiq through dotenv")
				assert.NotContains(t, env, "HTTP_PROXY", "Mastodon reads only the lowercase name")
				assert.NotContains(t, env, "ALLOWED_PRIVATE_ADDRESSES", "with a proxy Mastodon checks nothing: no prefix to allow")
				// the units add nothing: no unit sets a proxy (streaming least of all),
				// and web and sidekiq get it from .env.production like every setting
				units := 0
				for name, e := range snap {
					if !strings.HasPrefix(name, "etc/systemd/system/mastodon-") {
						continue
					}
					units++
					assert.NotContains(t, strings.ToLower(string(e.Data)), "proxy", name)
				}
				assert.GreaterOrEqual(t, units, 4, "web, sidekiq, streaming and streaming@")
				assert.Contains(t, string(snap["gateway/NEXT-STEPS.md"].Data), "read by web and sidekiq")
			}
			bundletest.Golden(t, "testdata/egress-"+path+".txtar",
				"go run ./examples/allinone --out OUT --egress "+path+": the host plus its "+path+" gateway as a second tree.", secs)
			// a re-run changes nothing
			rc, stdout, stderr = bundletest.Run(run, "--out", out, "--egress", path)
			require.Equal(t, 0, rc, stderr)
			bundletest.RequireSame(t, snap, bundletest.Snapshot(t, out))
			assert.NotContains(t, stdout, "written")
		})
	}
}

func TestEgressBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"nat64 prefix length": {"--egress", "nat64", "--nat64", "64:ff9b::/80"},
		"no clients":          {"--egress", "proxy", "--egress-clients", "10.0.0.0/8"},
		"unknown path":        {"--egress", "socks"},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			rc, _, stderr := bundletest.Run(run, append([]string{"--out", out}, args...)...)
			assert.NotEqual(t, 0, rc, stderr)
			assert.NoDirExists(t, out)
		})
	}
}

// TestBadFlagErrorsNameTheFlag: each bad flag's error is reported under the flag the
// user typed, not under a Host field or a file's setting.
func TestBadFlagErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	for _, a := range [][]string{
		{"--acme-server", "http://x"}, {"--nginx-cache", "rel/x"}, {"--home", "rel"}, {"--letsencrypt", "rel"},
		{"--owner", "a b"}, {"--domain", "bad domain"}, {"--web-domain", "bad dom"}, {"--email", "x"},
		{"--nginx-version", "9"}, {"--max-connections", "-1"}, {"--cpus", "-1"},
		{"--smtp-server", "a b"}, {"--smtp-from", "x"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		rc, _, stderr := bundletest.Run(run, append(a, "--out", out)...)
		assert.Equal(t, 1, rc, "%v: %s", a, stderr)
		assert.True(t, strings.HasPrefix(stderr, a[0]+": "), "%v: %s", a, stderr)
		assert.Contains(t, stderr, a[1], a)
		assert.NoDirExists(t, out, a)
	}
}

// TestDanglingEnvReportedOnce (issue 20): a .env.production in --out that is a symlink
// to nothing (an unmounted volume) is one error, printed once, in a write run as under
// --diff; nothing is written and the link stays.
func TestDanglingEnvReportedOnce(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	env := filepath.Join(out, envPath)
	require.NoError(t, os.Remove(env))
	require.NoError(t, os.Symlink("../shared/.env.production", env))
	before := bundletest.Snapshot(t, out)
	for _, args := range [][]string{{"--out", out}, {"--out", out, "--diff"}} {
		rc, stdout, stderr := bundletest.Run(run, args...)
		assert.Equal(t, 1, rc, "%v: %s", args, stderr)
		assert.Equal(t, 1, strings.Count(stderr, "which does not exist"), "%v: the dangling link is said once:\n%s", args, stderr)
		assert.Empty(t, stdout, "%v", args)
	}
	assert.Equal(t, before, bundletest.Snapshot(t, out), "nothing was written")
	fi, err := os.Lstat(env)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the link is left alone")
}

// TestBracketedGatewayIsAccepted (issue 20): --egress-gateway takes an IPv6 literal in
// brackets as admins type it ([2001:db8:1::1], as in nginx); the bundle is the same as
// without them. Brackets around IPv4 are a usage error saying to drop them.
func TestBracketedGatewayIsAccepted(t *testing.T) {
	t.Parallel()
	var snaps []map[string]string
	for _, gw := range []string{"2001:db8:1::1", "[2001:db8:1::1]"} {
		out := t.TempDir()
		rc, _, stderr := bundletest.Run(run, "--out", out, "--egress", "nat64", "--egress-gateway", gw)
		require.Equal(t, 0, rc, stderr)
		snap := map[string]string{}
		for k, f := range bundletest.Snapshot(t, out) {
			if f.Mode.Perm()&0o077 != 0 { // the secret files (0600) differ by run
				snap[k] = string(f.Data)
			}
		}
		snaps = append(snaps, snap)
	}
	assert.Equal(t, snaps[0], snaps[1])
	rc, _, stderr := bundletest.Run(run, "--out", t.TempDir(), "--egress", "nat64", "--egress-gateway", "[192.0.2.1]")
	assert.Equal(t, 2, rc)
	assert.Contains(t, stderr, `--egress-gateway: "[192.0.2.1]": brackets are for IPv6 literals only: drop them (192.0.2.1)`)
}

// TestSMTPPortRefused (issue 20): --smtp-port outside 1-65535 (or not a number) is a
// usage error, exit 2, naming the flag and the range; nothing is written.
func TestSMTPPortRefused(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-1", "65536", "70000", "25x"} {
		out := filepath.Join(t.TempDir(), "out")
		rc, _, stderr := bundletest.Run(run, "--out", out, "--smtp-port", v)
		assert.Equal(t, 2, rc, "%s: %s", v, stderr)
		assert.Contains(t, stderr, `invalid value "`+v+`" for --smtp-port: port must be a number from 1 to 65535`)
		assert.NoDirExists(t, out, v)
	}
	out := filepath.Join(t.TempDir(), "out")
	rc, _, stderr := bundletest.Run(run, "--out", out, "--smtp-port", "587")
	require.Equal(t, 0, rc, stderr)
	b, err := os.ReadFile(filepath.Join(out, envPath))
	require.NoError(t, err)
	assert.Contains(t, string(b), "SMTP_PORT=587\n")
}
