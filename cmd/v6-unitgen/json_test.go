package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// jsonResult is what --json prints, as a machine reads it.
type jsonResult struct {
	Mastodon string
	Files    []struct{ Name, Content string }
	Enable   []string
	Budget   struct{ Total, Headroom int }
	Problems []struct{ Path, Severity, Message string }
	Written  *struct {
		Dir   string
		Files []struct{ Name, State string }
	}
	Changed      bool
	Diff         string
	Verify       string
	VerifyOutput string `json:"verify_output"`
	Applied      []string
	Error        string
}

func runJSON(t *testing.T, args ...string) (int, jsonResult, string) {
	t.Helper()
	code, out, errs := runCLI(append(args, "--json")...)
	var r jsonResult
	require.NoError(t, json.Unmarshal([]byte(out), &r), "stdout is one JSON object:\n%s\nstderr:\n%s", out, errs)
	return code, r, errs
}

func states(r jsonResult) map[string]string {
	m := map[string]string{}
	for _, f := range r.Written.Files {
		m[f.Name] = f.State
	}
	return m
}

// TestJSONWithOutWrites: --json is an output format, not a mode: with --out the units
// are written and the JSON says, per unit, what was done.
func TestJSONWithOutWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, r, errs := runJSON(t, append(split, "--out", dir)...)
	require.Equal(t, 0, code, errs)
	require.NotNil(t, r.Written, "the JSON says what was written")
	assert.Equal(t, dir, r.Written.Dir)
	assert.True(t, r.Changed)
	require.Len(t, r.Written.Files, 7)
	for _, f := range r.Files {
		assert.Equal(t, "created", states(r)[f.Name], f.Name)
		got, err := os.ReadFile(filepath.Join(dir, f.Name))
		require.NoError(t, err, "%s is written", f.Name)
		assert.Equal(t, f.Content, string(got), "the JSON shows what is on disk")
	}
	assert.Equal(t, 100, r.Budget.Total)

	code, r, errs = runJSON(t, append(split, "--out", dir)...)
	require.Equal(t, 0, code, errs)
	assert.False(t, r.Changed)
	for name, st := range states(r) {
		assert.Equal(t, "unchanged", st, name)
	}

	code, r, errs = runJSON(t, append(split, "--out", dir, "--web-threads", "8")...)
	require.Equal(t, 0, code, errs)
	assert.True(t, r.Changed)
	assert.Equal(t, "replaced", states(r)["mastodon-web.service"])
	assert.Equal(t, "unchanged", states(r)["mastodon-sidekiq-push-pull.service"])
	web, err := os.ReadFile(filepath.Join(dir, "mastodon-web.service"))
	require.NoError(t, err)
	assert.Contains(t, string(web), "Environment=MAX_THREADS=8")
}

// TestJSONDiffAndCheckWriteNothing: with --diff or --check, --json reports and nothing
// is written.
func TestJSONDiffAndCheckWriteNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, r, errs := runJSON(t, append(split, "--out", dir, "--diff")...)
	require.Equal(t, 1, code, errs)
	assert.True(t, r.Changed)
	assert.Contains(t, r.Diff, "+++ "+filepath.Join(dir, "mastodon-web.service")+" (new)\n")
	assert.Nil(t, r.Written)

	testenv.SystemdAnalyze(t)
	node := testenv.Tool(t, "node", "nodejs")
	code, r, errs = runJSON(t, append(split, "--out", dir, "--check", "--bundle", "/usr/bin/true", "--node", node)...)
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "ok", r.Verify)
	assert.Nil(t, r.Written)

	code, r, _ = runJSON(t, "--out", dir, "--check", "--check-installed", "--mastodon", "4.3", "--bundle", "/nonexistent/bundle", "--node", node)
	require.Equal(t, 1, code)
	assert.Equal(t, "failed", r.Verify)
	assert.Contains(t, r.VerifyOutput, "/nonexistent/bundle is not executable")
	assert.Contains(t, r.Error, "systemd-analyze verify found problems")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "--diff and --check write nothing")
}

// TestJSONErrors: an invalid deployment, or a warning under --strict, gives exit 1, the
// problems in the JSON, and nothing written.
func TestJSONErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, r, _ := runJSON(t, "--out", dir, "--sidekiq", "default@0")
	require.Equal(t, 1, code)
	require.NotEmpty(t, r.Problems)
	assert.Equal(t, "--sidekiq[0].concurrency", r.Problems[0].Path)
	assert.Equal(t, "error", r.Problems[0].Severity)
	assert.Empty(t, r.Files, "no plan when the deployment is invalid")
	assert.Nil(t, r.Written)

	code, r, _ = runJSON(t, "--out", dir, "--strict", "--sidekiq", "default,push,pull,mailers,ingress,scheduler@25")
	require.Equal(t, 1, code)
	assert.Contains(t, r.Error, "--strict")
	assert.Nil(t, r.Written)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is written")
}

// TestJSONApply: --json --out --apply writes, applies and says so; a missing manager is
// an error in the JSON, after the units were written.
func TestJSONApply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, r, _ := runJSON(t, "--out", dir, "--apply", "--dbus-address", "unix:path="+filepath.Join(dir, "no-bus"))
	require.Equal(t, 1, code)
	assert.Contains(t, r.Error, "apply: units: connect to")
	assert.Empty(t, r.Applied)
	require.NotNil(t, r.Written)
	assert.Equal(t, "created", states(r)["mastodon-web.service"])

	addr := testenv.StartDBusDaemon(t)
	fake := testenv.NewFakeSystemd(t, addr, nil)
	dir = t.TempDir()
	code, r, errs := runJSON(t, "--out", dir, "--apply", "--dbus-address", addr, "--cert-renew")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, r.Enable, r.Applied)
	assert.Contains(t, r.Applied, "v6-certs-renew.timer")
	assert.Equal(t, "created", states(r)["v6-certs-renew.timer"])
	calls := strings.Join(fake.Calls(), "\n")
	assert.Contains(t, calls, "RestartUnit mastodon-web.service replace")
}
