package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/pgsetup"
)

// TestMain runs the tests (and removes the PostgreSQL template), or, for the
// two-process tests, runs this test binary as v6-pgsetup itself.
func TestMain(m *testing.M) {
	if os.Getenv("V6KIT_RUN_PGSETUP") == "1" {
		testenv.RaceChild()
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(testenv.PostgresMain(m))
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTune(t *testing.T) {
	t.Parallel()
	code, out, stderr := runCLI("--tune", "--ram", "2GiB", "--cpus", "2")
	require.Equal(t, 0, code, stderr)
	want, err := pgsetup.Tuning{RAM: 2 << 30, CPUs: 2, Connections: 100}.Snippet()
	require.NoError(t, err)
	assert.Equal(t, string(want), out)
	assert.Contains(t, out, "shared_buffers = 512MB")

	code, _, stderr = runCLI("--tune", "--ram", "100MiB")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "ram: RAM is 100MB; give at least 256MiB")
}

func TestListen(t *testing.T) {
	t.Parallel()
	code, out, stderr := runCLI("--listen", "--no-ipv4", "--listen-addr", "fd00:db::5")
	require.Equal(t, 0, code, stderr)
	want, err := pgsetup.Listen{NoIPv4: true, Addrs: []netip.Addr{netip.MustParseAddr("fd00:db::5")}}.Snippet()
	require.NoError(t, err)
	assert.Equal(t, string(want), out)
	assert.Contains(t, out, "listen_addresses = '::1,fd00:db::5'\n")

	code, out, _ = runCLI("--listen")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "listen_addresses = '127.0.0.1,::1'\n")

	code, out, stderr = runCLI("--listen", "--listen-addr", "fe80::1%eth0")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "addrs[0]: ")
	code, _, stderr = runCLI("--listen", "--listen-addr", "::", "--strict")
	assert.Equal(t, 1, code, "the unspecified address warns; --strict fails")
	assert.Contains(t, stderr, "only guard")
	code, _, _ = runCLI("--listen", "--listen-addr", "db1.example")
	assert.Equal(t, 2, code)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--tune"},
		{"--tune", "--ram", "lots"},
		{"--bogus"},
		{"extra-arg"},
		{"--allow", "::1/129"},
		{"--mastodon", "9.9"},
	} {
		code, _, stderr := runCLI(args...)
		assert.Equal(t, 2, code, "%v: %s", args, stderr)
		assert.NotEmpty(t, stderr, args)
	}
	code, _, stderr := runCLI("--auth", "md5", "--dsn", "host=/nonexistent")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `auth: "md5": use scram-sha-256, peer or trust`)
}

// TestAgainstServer: --check changes nothing, the real run sets everything up and
// verifies logins over ::1 and 127.0.0.1, the next run has nothing to change. A
// world-readable password file warns, and fails under --strict.
func TestAgainstServer(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	dir := testenv.TempDir(t)
	pw := filepath.Join(dir, "db-password")
	require.NoError(t, os.WriteFile(pw, []byte("a-long-random-db-password\n"), 0o644))
	before, _ := os.ReadFile(pg.HBAFile)
	args := []string{"--dsn", pg.DSN(), "--role", "mastodon", "--database", "mastodon_production",
		"--password-file", pw, "--server-log", pg.Log, "--mastodon", "4.5"}

	code, out, stderr := runCLI(append(args, "--check")...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "would change: create role")
	assert.Contains(t, out, "+host      mastodon_production,postgres mastodon        ::1/128                 scram-sha-256")
	assert.Contains(t, out, "budget: web 1×2×5 + sidekiq 25 + streaming 1×10 + reserve 5 = 50 of 97 available")
	assert.Contains(t, stderr, "warning: mode 0644 lets every user on this host read the database password")
	after, _ := os.ReadFile(pg.HBAFile)
	assert.Equal(t, string(before), string(after))

	code, out, stderr = runCLI(append(args, "--check", "--web-hosts", "2", "--web-workers", "3", "--streaming", "2", "--sidekiq", "40")...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "budget: web 2×3×5 + sidekiq 40 + streaming 2×10 + reserve 5 = 95 of 97 available")
	assert.Contains(t, stderr, "less than 10% headroom")

	code, _, stderr = runCLI(append(args, "--check", "--strict")...)
	assert.Equal(t, 1, code, "--strict fails on the warning")
	require.NoError(t, os.Chmod(pw, 0o600))

	code, out, stderr = runCLI(args...)
	require.Equal(t, 0, code, "%s\n%s\n%s", out, stderr, pg.LogText())
	assert.Regexp(t, regexp.MustCompile(`login over ::1: ok \(scram-sha-256, pg_hba.conf line \d+\)`), out)
	assert.Regexp(t, regexp.MustCompile(`login over 127.0.0.1: ok \(scram-sha-256, pg_hba.conf line \d+\)`), out)
	assert.NotContains(t, stderr, "warning")

	code, out, stderr = runCLI(append(args, "--json")...)
	require.Equal(t, 0, code, stderr)
	var res struct {
		Changes []any
		HBA     struct{ Changed bool }
		Server  struct{ Major int }
		Logins  []struct {
			Via     string
			OK      bool
			HBALine int `json:"hba_line"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Empty(t, res.Changes)
	assert.False(t, res.HBA.Changed)
	assert.Equal(t, 15, res.Server.Major)
	require.Len(t, res.Logins, 2)
	assert.True(t, res.Logins[0].OK)
	assert.Positive(t, res.Logins[0].HBALine)

}

// TestUnparseableHBASaysWhy: a pg_hba.conf pgsetup can't parse is left alone, and the
// exit status 1 comes with the line and the reason on stderr (not silently).
func TestUnparseableHBASaysWhy(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	before, err := os.ReadFile(pg.HBAFile)
	require.NoError(t, err)
	bad := append(append([]byte(nil), before...), []byte("host all all ::1/128 \\\n  scram-sha-256\n")...)
	require.NoError(t, os.WriteFile(pg.HBAFile, bad, 0o600))
	code, _, stderr := runCLI("--dsn", pg.DSN(), "--check")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line continuation")
	assert.Contains(t, stderr, "left unchanged")
	after, _ := os.ReadFile(pg.HBAFile)
	assert.Equal(t, string(bad), string(after))
	assert.NoFileExists(t, fsutil.LockName(pg.HBAFile), "a refused run leaves no lock file of its own behind")
}

// TestPrintLogins: failed logins show the line they matched too, and an unknown line
// says why.
func TestPrintLogins(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	printResult(&out, &pgsetup.Result{Logins: []pgsetup.Login{
		{Via: pgsetup.ViaIPv6, OK: true, Method: "scram-sha-256", HBALine: 4},
		{Via: pgsetup.ViaIPv4, Err: pgsetup.ErrLogin, Method: "scram-sha-256", HBALine: 5},
		{Via: pgsetup.ViaSocket, Err: pgsetup.ErrLogin, HBANote: "a reject line matched; the server does not say which"},
	}})
	assert.Equal(t, "login over ::1: ok (scram-sha-256, pg_hba.conf line 4)\n"+
		"login over 127.0.0.1: FAILED (scram-sha-256, pg_hba.conf line 5): "+pgsetup.ErrLogin.Error()+"\n"+
		"login over socket: FAILED (pg_hba.conf line unknown: a reject line matched; the server does not say which): "+pgsetup.ErrLogin.Error()+"\n",
		out.String())
}

// TestDSNRefused: a --dsn key that would read a file is refused before connecting,
// naming the key and never the password.
func TestDSNRefused(t *testing.T) {
	t.Parallel()
	code, _, stderr := runCLI("--dsn", "host=::1 user=postgres password=s3cret service=prod", "--check")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `dsn: `)
	assert.Contains(t, stderr, `"service" is not supported`)
	assert.NotContains(t, stderr, "s3cret")
}
