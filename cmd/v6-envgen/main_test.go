package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/testenv"
)

// runCLI runs v6-envgen in-process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// dataFiles lists dir without the lock files v6kit leaves beside what it writes.
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var n []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".v6kit-lock") {
			n = append(n, e.Name())
		}
	}
	return n
}

// secrets returns the values of every secret-looking key in the file.
func secrets(t *testing.T, name string) []string {
	t.Helper()
	f, err := envfile.ParseFile(name)
	require.NoError(t, err)
	var out []string
	for _, k := range f.Keys() {
		if k == "VAPID_PUBLIC_KEY" {
			continue // public: browsers receive it
		}
		if v, _ := f.Get(k); len(v) >= 6 && (strings.Contains(k, "SECRET") || strings.Contains(k, "KEY") || strings.Contains(k, "PASS")) {
			out = append(out, v)
		}
	}
	return out
}

func assertNoSecrets(t *testing.T, name string, outputs ...string) {
	t.Helper()
	for _, s := range secrets(t, name) {
		for _, o := range outputs {
			assert.NotContains(t, o, s, "a secret was printed")
		}
	}
}

func newSite(t *testing.T, args ...string) (dir, out string) {
	t.Helper()
	dir = t.TempDir()
	out = filepath.Join(dir, ".env.production")
	code, stdout, stderr := runCLI(t, append([]string{"--domain", "social.example.org", "--out", out}, args...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "wrote "+out)
	assertNoSecrets(t, out, stdout, stderr)
	return dir, out
}

func TestNewAndRerunChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "dbpass")
	require.NoError(t, os.WriteFile(pw, []byte("pa$$ word\n"), 0o600))
	_, out := newSite(t, "--mastodon", "4.7", "--db-password-file", pw, "--redis-url", "redis://[::1]:6379/0", "--smtp-server", "smtp.example.org")
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	before, _ := os.ReadFile(out)
	assert.Contains(t, string(before), "DB_PASS='pa$$ word'\n")

	// Re-running with the same flags, or with none, changes not one byte and makes no backup.
	for _, args := range [][]string{
		{"--domain", "social.example.org", "--mastodon", "4.7", "--db-password-file", pw, "--redis-url", "redis://[::1]:6379/0", "--smtp-server", "smtp.example.org"},
		{"--mastodon", "4.7"},
	} {
		code, stdout, stderr := runCLI(t, append(args, "--out", out)...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "nothing changed")
		after, _ := os.ReadFile(out)
		assert.Equal(t, string(before), string(after))
	}
	assert.Equal(t, []string{".env.production"}, dataFiles(t, filepath.Dir(out)), "no backup, no temp file left (only the lock file beside it)")

	// The Ruby and Node readers agree with what was written.
	f, err := envfile.ParseFile(out)
	require.NoError(t, err)
	assert.Equal(t, f.Env(), testenv.DotenvRuby(t, out))
	assert.Equal(t, f.Env(), testenv.DotenvNode(t, out))
}

func TestBadInputLeavesFileUnchanged(t *testing.T) {
	t.Parallel()
	dir, out := newSite(t, "--mastodon", "4.3")
	before, _ := os.ReadFile(out)
	nl := filepath.Join(dir, "nl")
	require.NoError(t, os.WriteFile(nl, []byte("first\nsecond\n"), 0o600))
	nul := filepath.Join(dir, "nul")
	require.NoError(t, os.WriteFile(nul, []byte("pass\x00word"), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"domain with space", []string{"--domain", "bad domain.example"}, 1, "LOCAL_DOMAIN"},
		{"domain with newline", []string{"--domain", "a\nb.example"}, 1, "LOCAL_DOMAIN"},
		{"domain with semicolon", []string{"--domain", "a;b.example"}, 1, "LOCAL_DOMAIN"},
		{"domain with ..", []string{"--domain", "a..b.example"}, 1, "LOCAL_DOMAIN"},
		{"domain too long", []string{"--domain", strings.Repeat("abcdefghi.", 26) + "example"}, 1, "253"},
		{"other domain", []string{"--domain", "other.example.org"}, 1, "cannot be changed"},
		{"web domain invalid", []string{"--web-domain", "web domain"}, 1, "WEB_DOMAIN"},
		{"unknown version", []string{"--mastodon", "9.9"}, 2, "unsupported mastodon version"},
		{"malformed version", []string{"--mastodon", "latest"}, 2, "--mastodon"},
		{"port out of range", []string{"--db-port", "70000"}, 1, "DB_PORT"},
		{"negative port", []string{"--smtp-port", "-1"}, 1, "SMTP_PORT"},
		{"newline in a value", []string{"--db-host", "a\nb"}, 1, "DB_HOST"},
		{"NUL in a value", []string{"--smtp-from", "x\x00y"}, 1, "SMTP_FROM_ADDRESS"},
		{"SMTP relay no host", []string{"--smtp-server", "a b"}, 1, `SMTP_SERVER: SMTP relay "a b" is not a host name or IP address`},
		{"SMTP from no address", []string{"--smtp-from", "x"}, 1, `SMTP_FROM_ADDRESS "x" is not an e-mail address`},
		{"password file with two lines", []string{"--db-password-file", nl}, 1, "one line"},
		{"password file with NUL", []string{"--redis-password-file", nul}, 1, "NUL"},
		{"missing password file", []string{"--smtp-password-file", filepath.Join(dir, "nope")}, 1, "--smtp-password-file"},
		{"IPv6 DB_HOST YAML pitfall", []string{"--db-host", "::1"}, 1, "DB_HOST=0::1"},
		{"bracketed Redis URL before 4.2", []string{"--mastodon", "4.1", "--redis-url", "redis://[::1]:6379"}, 1, "REDIS_URL"},
		{"rotation without confirmation", []string{"--rotate", "OTP_SECRET"}, 1, "--i-understand-data-loss=OTP_SECRET"},
		{"rotation of a non-secret", []string{"--rotate", "DB_HOST"}, 1, "not a secret"},
		{"unknown flag", []string{"--db-password", "x"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"extra"}, 2, "unexpected argument"},
		{"check with diff", []string{"--check", "--diff"}, 2, "--check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"--out", out, "--mastodon", "4.3"}, tc.args...)...)
			assert.Equal(t, tc.code, code, "stdout %s\nstderr %s", stdout, stderr)
			assert.Contains(t, stdout+stderr, tc.says)
			after, _ := os.ReadFile(out)
			assert.Equal(t, string(before), string(after), "the file changed")
			assertNoSecrets(t, out, stdout, stderr)
		})
	}
	for _, e := range dataFiles(t, filepath.Dir(out)) {
		assert.NotContains(t, e, ".v6kit-", "no backup: nothing was written")
	}
}

func TestUnparsableFileIsNeverOverwritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, ".env.production")
	bad := []byte("SECRET_KEY_BASE=keep\nDB_PASS='never closed\n")
	require.NoError(t, os.WriteFile(out, bad, 0o600))
	for _, args := range [][]string{{"--domain", "social.example.org"}, {"--check"}, {"--diff"}} {
		code, stdout, stderr := runCLI(t, append(args, "--out", out)...)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, ".env.production:2")
		assert.Contains(t, stderr, "left untouched")
		assert.NotContains(t, stdout+stderr, "keep\n")
		got, _ := os.ReadFile(out)
		assert.Equal(t, bad, got)
	}
}

func TestUnwritableTarget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o600))
	code, _, stderr := runCLI(t, "--domain", "social.example.org", "--out", filepath.Join(blocker, ".env.production"))
	assert.Equal(t, 2, code, "the --out rule: its directory must be one")
	assert.Contains(t, stderr, "v6-envgen: --out "+filepath.Join(blocker, ".env.production")+": "+blocker+" is not a directory")
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(ro, 0o500))
		code, _, stderr = runCLI(t, "--domain", "social.example.org", "--out", filepath.Join(ro, ".env.production"))
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "permission denied")
	}
	code, _, stderr = runCLI(t, "--out", filepath.Join(dir, "new.env"))
	assert.Equal(t, 2, code, "a new file needs --domain")
	assert.Contains(t, stderr, "--domain is required")
}

func TestCheckDiffRotateJSON(t *testing.T) {
	t.Parallel()
	_, out := newSite(t, "--mastodon", "4.3")
	before, _ := os.ReadFile(out)

	// --check on a good file.
	code, stdout, stderr := runCLI(t, "--check", "--out", out, "--mastodon", "4.3")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "ok for Mastodon 4.3")

	// Upgrade to 4.7 under --diff: secrets masked, nothing written.
	code, stdout, stderr = runCLI(t, "--diff", "--out", out, "--mastodon", "4.7")
	require.Equal(t, 1, code, "--diff exits 1 when something would change: %s", stderr)
	assert.Contains(t, stdout, "-# Generated by v6kit for Mastodon 4.3.23")
	assert.Contains(t, stdout, "+# Generated by v6kit for Mastodon 4.7.0")
	assert.Contains(t, stdout, "@@ -1,")
	assertNoSecrets(t, out, stdout, stderr)
	after, _ := os.ReadFile(out)
	assert.Equal(t, before, after)

	// --check --strict against 4.7: OTP_SECRET is kept but no longer read → a warning → exit 1.
	code, _, stderr = runCLI(t, "--check", "--strict", "--out", out, "--mastodon", "4.7")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "OTP_SECRET")

	// Destructive rotation with its confirmation, as JSON.
	key := "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"
	code, stdout, stderr = runCLI(t, "--json", "--rotate", key, "--i-understand-data-loss="+key, "--out", out, "--mastodon", "4.3")
	require.Equal(t, 0, code, stderr)
	var res struct {
		Written, Changed bool
		Generated        []string
		Backup           string
		Problems         []map[string]string
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.True(t, res.Written)
	assert.True(t, res.Changed)
	assert.Equal(t, []string{key}, res.Generated)
	assert.NotEmpty(t, res.Backup)
	assertNoSecrets(t, out, stdout, stderr)
	oldF, _ := envfile.Parse(before)
	newF, err := envfile.ParseFile(out)
	require.NoError(t, err)
	for _, k := range oldF.Keys() {
		ov, _ := oldF.Get(k)
		nv, _ := newF.Get(k)
		if k == key {
			assert.NotEqual(t, ov, nv)
		} else {
			assert.Equal(t, ov, nv, k)
		}
	}

	// --check finds a hand-made pitfall and reports its line.
	require.NoError(t, os.WriteFile(out, append(after, []byte("DB_PASS=pa$$word\n")...), 0o600))
	code, _, stderr = runCLI(t, "--check", "--out", out, "--mastodon", "4.3")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "DB_PASS: Rails reads <secret")
	assert.NotContains(t, stderr, "pa$$word")
}

func TestUpgradeHandWritten16(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, ".env.production")
	old := "REDIS_HOST=localhost\nDB_HOST=/var/run/postgresql\nLOCAL_DOMAIN=mastodon.example.net\n" +
		"PAPERCLIP_SECRET=" + strings.Repeat("1f", 64) + "\nSECRET_KEY_BASE=" + strings.Repeat("2e", 64) +
		"\nOTP_SECRET=" + strings.Repeat("3d", 64) + "\nSMTP_SERVER=localhost\nSMTP_PORT=25\nSMTP_AUTH_METHOD=none\n"
	require.NoError(t, os.WriteFile(out, []byte(old), 0o644))
	code, stdout, stderr := runCLI(t, "--out", out, "--mastodon", "4.7")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "generated ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY")
	assert.Contains(t, stderr, "PAPERCLIP_SECRET is not read since 2.3.0")
	got, _ := os.ReadFile(out)
	for _, line := range strings.Split(strings.TrimSpace(old), "\n") {
		assert.Contains(t, string(got), line+"\n", "hand-written line kept")
	}
	st, _ := os.Stat(out)
	// Other users lose read access; the group keeps it (a root:mastodon 0640 file must
	// stay readable by Mastodon), and the change is said.
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "secrets file no longer world-readable")
	assert.Contains(t, stderr, "tightened from 0644 to 0640")
	assertNoSecrets(t, out, stdout, stderr)
}

// TestRedisDefaultPerFamily: a new file on an IPv6-only host points Mastodon at the ::1
// v6kit's Redis binds (a bracketed REDIS_URL from 4.2), not 127.0.0.1 (issue 12, defect
// 10); dual-stack and older releases keep REDIS_HOST=127.0.0.1; an empty --domain on an
// existing file is a usage error, not "not given" (defect 9).
func TestRedisDefaultPerFamily(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "REDIS_URL=redis://[::1]:6379/0\n"},
		{[]string{"--family", "dual-stack"}, "REDIS_HOST=127.0.0.1\n"},
		{[]string{"--mastodon", "4.1"}, "REDIS_HOST=127.0.0.1\n"},
	} {
		out := filepath.Join(dir, strings.Join(append([]string{"env"}, c.args...), "_"))
		code, _, errs := runCLI(t, append([]string{"--domain", "social.example.org", "--out", out}, c.args...)...)
		require.Equal(t, 0, code, errs)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.Contains(t, string(b), c.want, "%v", c.args)
		code, _, errs = runCLI(t, "--domain", "", "--out", out)
		assert.Equal(t, 2, code)
		assert.Contains(t, errs, "--domain: empty value")
	}
}
