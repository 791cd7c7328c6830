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

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

var split = []string{"--mastodon", "4.7", "--bind", "::", "--sidekiq", "default:8,ingress:4,fasp@25", "--sidekiq", "push,pull@10",
	"--sidekiq", "mailers@5", "--sidekiq", "scheduler@5", "--streaming", "4", "--max-connections", "200"}

func TestWriteAndRerun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errs := runCLI(append(split, "--out", dir, "--cert-renew")...)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "wrote 9 of 9 units to "+dir)
	assert.Contains(t, out, "connection budget: web 1×2×5 + sidekiq 25+10+5+5 + streaming 4×10 + reserve 5 = 100 of 197 available")
	web, err := os.ReadFile(filepath.Join(dir, "mastodon-web.service"))
	require.NoError(t, err)
	assert.Contains(t, string(web), "Environment=BIND=[::]")
	tmpl, err := os.ReadFile(filepath.Join(dir, "mastodon-streaming@.service"))
	require.NoError(t, err)
	assert.Contains(t, string(tmpl), "Environment=BIND=::\n")
	st, err := os.Stat(filepath.Join(dir, "v6-certs-renew.timer"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	code, out, _ = runCLI(append(split, "--out", dir, "--cert-renew")...)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "wrote 0 of 9 units")

	code, out, _ = runCLI(append(split, "--out", dir, "--cert-renew", "--web-threads", "8", "--diff")...)
	require.Equal(t, 1, code, "something would change")
	webFile := filepath.Join(dir, "mastodon-web.service")
	assert.Contains(t, out, "--- "+webFile+"\n+++ "+webFile+" (new)\n@@ ")
	assert.Contains(t, out, "\n-Environment=MAX_THREADS=5\n+Environment=MAX_THREADS=8\n")
	code, _, _ = runCLI(append(split, "--out", dir, "--cert-renew")...)
	require.Equal(t, 0, code)
	code, out, _ = runCLI(append(split, "--out", dir, "--cert-renew", "--diff")...)
	assert.Equal(t, 0, code, "nothing would change")
	assert.NotContains(t, out, "---")
}

func TestJSON(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI(append(split, "--json")...)
	require.Equal(t, 0, code, errs)
	var plan struct {
		Mastodon string
		Files    []struct{ Name, Content string }
		Enable   []string
		Budget   struct{ Total, Available, Headroom int }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &plan))
	assert.Equal(t, "4.7.0", plan.Mastodon)
	assert.Len(t, plan.Files, 7)
	assert.Equal(t, 100, plan.Budget.Total)
	assert.Contains(t, plan.Enable, "mastodon-streaming@4003.service")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	testenv.SystemdAnalyze(t)
	node := testenv.Tool(t, "node", "nodejs")
	// Paths that exist here, so only unit problems could fail verify.
	code, out, errs := runCLI(append(split, "--check", "--bundle", "/usr/bin/true", "--node", node)...)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "systemd-analyze verify: ok")
	// On a fresh host (no Ruby, no v6-certs) --check verifies the units with stubs.
	code, out, errs = runCLI("--check", "--mastodon", "4.3", "--bundle", "/nonexistent/bundle", "--node", "/nonexistent/node", "--cert-renew", "--certs", "/nonexistent/v6-certs")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "systemd-analyze verify: ok")
	// --check-installed checks this host's binaries: the production path of bundle does not exist here.
	code, _, errs = runCLI("--check", "--check-installed", "--mastodon", "4.3", "--bundle", "/nonexistent/bundle", "--node", node)
	require.Equal(t, 1, code)
	assert.Contains(t, errs, "/nonexistent/bundle is not executable")
}

// TestBadInput: each case exits 1 (invalid deployment) or 2 (usage) with a clear
// message and writes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"two schedulers", []string{"--sidekiq", "default,scheduler@5", "--sidekiq", "push,pull,mailers,ingress,fasp,scheduler@5"}, 1, "sidekiq[0], sidekiq[1] all serve the scheduler queue"},
		{"queue with spaces", []string{"--sidekiq", "default,my queue@5"}, 1, `sidekiq[0].queues[1]: queue name "my queue"`},
		{"concurrency zero", []string{"--sidekiq", "default@0"}, 1, "sidekiq[0].concurrency: concurrency 0"},
		{"over budget", []string{"--web-workers", "8", "--sidekiq", "default,push,pull,mailers,ingress,fasp,scheduler@60"}, 1, "over by"},
		{"relative path", []string{"--app", "live"}, 1, `--app: "live" is a relative path`},
		{"bundle with a variable", []string{"--bundle", "/opt/${RUBY}/bundle"}, 1, `--bundle: "/opt/${RUBY}/bundle" holds '$'`},
		{"user with a dollar", []string{"--user", "mast$"}, 1, "the default under paths.home"},
		{"bad user", []string{"--user", "Mast odon"}, 1, "user: \"Mast odon\" is not a valid Unix user name"},
		{"port collision", []string{"--web-port", "4001", "--streaming", "2"}, 1, "streaming.ports[1]: port 4001 is already used by web.port"},
		{"unknown version", []string{"--mastodon", "9.1"}, 2, "-mastodon: unsupported mastodon version"},
		{"unknown layout", []string{"--layout", "arch"}, 1, "layout \"arch\" is unknown"},
		{"exporter on 4.5", []string{"--mastodon", "4.5", "--exporter"}, 1, "has no prometheus exporter"},
		{"strict warning", []string{"--strict", "--sidekiq", "default,push,pull,mailers,ingress,scheduler@25"}, 1, `queue "fasp"`},
		{"bad bind", []string{"--bind", "localhost"}, 2, "--bind \"localhost\" is not an IP address"},
		{"bracketed IPv4 bind", []string{"--bind", "[127.0.0.1]"}, 2, "--bind \"[127.0.0.1]\": brackets are for IPv6 literals only: drop them (127.0.0.1)"},
		{"bad sidekiq syntax", []string{"--sidekiq", "default"}, 2, "QUEUES@CONCURRENCY"},
		{"unknown flag", []string{"--frobnicate"}, 2, "frobnicate"},
		{"apply without out", []string{"--apply"}, 2, "need --out"},
		{"apply with diff", []string{"--apply", "--diff"}, 2, "--apply cannot be combined"},
		{"apply with check", []string{"--apply", "--check"}, 2, "--apply cannot be combined"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := c.args
			if c.name != "apply without out" {
				args = append(args, "--out", dir)
			}
			code, out, errs := runCLI(args...)
			assert.Equal(t, c.code, code, errs)
			assert.Contains(t, errs, c.msg)
			assert.NotContains(t, out, "wrote")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing is written")
		})
	}
}

func TestApplyWithoutSystemd(t *testing.T) {
	t.Parallel()
	// A manager that is not there (as on the test machines, where systemd is not PID 1):
	// --apply writes the units, then fails clearly at the connection, with exit status 1.
	dir := t.TempDir()
	addr := "unix:path=" + filepath.Join(dir, "no-bus")
	code, _, errs := runCLI("--out", dir, "--apply", "--dbus-address", addr)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "apply: units: connect to "+addr)
	_, err := os.Stat(filepath.Join(dir, "mastodon-web.service"))
	assert.NoError(t, err, "the units were written before the apply step")
}

func TestApplyThroughDBus(t *testing.T) {
	t.Parallel()
	// The whole --apply sequence against a fake systemd manager on a private bus.
	addr := testenv.StartDBusDaemon(t)
	fake := testenv.NewFakeSystemd(t, addr, nil)
	dir := t.TempDir()
	code, out, errs := runCLI("--out", dir, "--apply", "--dbus-address", addr, "--cert-renew")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "applied: enabled ")
	calls := fake.Calls()
	require.NotEmpty(t, calls)
	assert.Equal(t, "Reload", calls[0], "daemon-reload comes first")
	assert.Contains(t, strings.Join(calls, "\n"), "RestartUnit mastodon-web.service replace")
	assert.Contains(t, strings.Join(calls, "\n"), "StartUnit v6-certs-renew.timer replace")
}

func TestProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errs := runCLI("--processes", "sidekiq", "--sidekiq", "push,pull@10", "--sidekiq", "mailers@5", "--out", dir, "--strict")
	require.Equal(t, 1, code, "the queues no process on this host serves are warnings, fatal with --strict")
	assert.Contains(t, errs, `no process serves queue "default"`)
	code, out, errs = runCLI("--processes", "sidekiq", "--sidekiq", "push,pull@10", "--sidekiq", "mailers@5", "--out", dir)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "wrote 2 of 2 units")
	assert.Contains(t, out, "connection budget: web none + sidekiq 10+5 + streaming none + reserve 5 = 20")
	assert.NotContains(t, errs, "ignored", "the flags' defaults for web and streaming are not the user's settings")
	names, err := filepath.Glob(filepath.Join(dir, "*.service"))
	require.NoError(t, err)
	assert.Len(t, names, 2)

	code, out, errs = runCLI("--processes", "none", "--cert-renew", "--strict")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "# ---- v6-certs-renew.timer")
	assert.NotContains(t, out, "mastodon-")

	code, _, errs = runCLI("--processes", "sidekiq", "--web-workers", "4")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "v6-unitgen: web: ", "a typed value for a process the host doesn't run is reported")
	code, _, errs = runCLI("--processes", "web,puma")
	require.Equal(t, 1, code)
	assert.Contains(t, errs, "processes[1]: ")
}

func TestPrintWithoutOut(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI("--mastodon", "1.6", "--layout", "rhel", "--sidekiq", "default,push,pull,mailers@10")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "# ---- mastodon-sidekiq.service")
	assert.Contains(t, out, "ExecStart=/home/mastodon/.rbenv/shims/bundle exec sidekiq -c 10 -q default -q push -q pull -q mailers")
	assert.Contains(t, out, "connection budget: web 1×2×5 + sidekiq 10")
}

// TestQueueTypoAndFamilyBind: a --sidekiq queue the release doesn't have is an error
// unless --allow-unknown-queue (it was a warning with exit 0), and --bind defaults to
// the family's loopback, as v6-nginxgen and v6-probe assume (issue 12, defect 10).
func TestQueueTypoAndFamilyBind(t *testing.T) {
	t.Parallel()
	code, _, errs := runCLI("--sidekiq", "default,pusch@5", "--sidekiq", "push,pull,mailers,ingress,fasp,scheduler@5")
	assert.Equal(t, 1, code, errs)
	assert.Contains(t, errs, "--allow-unknown-queue")
	code, _, errs = runCLI("--sidekiq", "default,pusch@5", "--sidekiq", "push,pull,mailers,ingress,fasp,scheduler@5", "--allow-unknown-queue")
	assert.Equal(t, 0, code, errs)

	code, out, errs := runCLI()
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "Environment=BIND=[::1]\n")
	code, out, errs = runCLI("--family", "dual-stack")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "Environment=BIND=127.0.0.1\n")
}

// TestCertRenewReloads: the renewal unit loads what it renewed unless told otherwise
// (issue 12, defect 1: it wrote `v6-certs renew` alone and nginx never served a renewal).
func TestCertRenewReloads(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI("--processes", "none", "--cert-renew")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "ExecStart=/usr/local/bin/v6-certs renew --reload-nginx\n")
	code, out, _ = runCLI("--processes", "none", "--cert-renew-no-reload")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "ExecStart=/usr/local/bin/v6-certs renew\n")
	code, out, _ = runCLI("--processes", "none", "--cert-renew-deploy-hook", "/usr/local/sbin/deploy-certs")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "ExecStart=/usr/local/bin/v6-certs renew --deploy-hook /usr/local/sbin/deploy-certs\n")
}

// TestBindHelpNamesTheFamilysLoopback: --bind's help says what the default is, the
// family's loopback as mastodon.Release.LoopbackBind picks it (::1 on IPv6-only from
// the release whose puma reads BIND, else 127.0.0.1), and the default does that.
func TestBindHelpNamesTheFamilysLoopback(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI("--help")
	require.Equal(t, 0, code, errs)
	help := out + errs
	i := strings.Index(help, "-bind ADDR")
	require.GreaterOrEqual(t, i, 0, help)
	line := help[i:]
	line = line[:strings.Index(line, "\n  -")]
	line = strings.Join(strings.Fields(line), " ")
	assert.Contains(t, line, "default: the family's loopback: ::1 with --family ipv6-only from Mastodon "+mastodon.PumaBindSince().String()+", else 127.0.0.1")
	assert.NotContains(t, line, ":: for other hosts")

	for rel, want := range map[string]string{"2.9.3": "Environment=BIND=[::1]\n", "4.7": "Environment=BIND=[::1]\n"} {
		code, out, errs := runCLI("--mastodon", rel)
		require.Equal(t, 0, code, errs)
		assert.Contains(t, out, want, rel)
	}
}
