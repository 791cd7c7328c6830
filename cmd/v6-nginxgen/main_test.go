package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestStdout(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI("--domain", "social.example.org", "--family", "dual-stack", "--mastodon", "4.2")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "listen 80;\n")
	assert.Contains(t, out, "listen [::]:443 ssl http2;\n")
	assert.Contains(t, out, "client_max_body_size 99m;")
}

func TestBackends(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI("--domain", "social.example.org", "--backend", "fd00:1::31", "--backend", "fd00:1::32", "--streaming-instances", "2")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "upstream backend {\n  server [fd00:1::31]:3000 fail_timeout=0;\n  server [fd00:1::32]:3000 fail_timeout=0;\n}\n")
	assert.Contains(t, out, "  least_conn;\n  server [fd00:1::31]:4000 fail_timeout=0;\n  server [fd00:1::31]:4001 fail_timeout=0;\n"+
		"  server [fd00:1::32]:4000 fail_timeout=0;\n  server [fd00:1::32]:4001 fail_timeout=0;\n}\n")
	code, _, errs = runCLI("--domain", "social.example.org", "--backend", "fd00:1::31", "--backend", "fd00:1::31")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "v6-nginxgen: invalid value \"fd00:1::31\" for --backend: fd00:1::31 is given twice")
	assert.NotContains(t, errs, "addrs[")
	// An IPv4-mapped address names the flag and the real reason, not a field path or a "zone".
	code, _, errs = runCLI("--domain", "social.example.org", "--backend", "::ffff:127.0.0.1")
	assert.Equal(t, 1, code)
	assert.Equal(t, "v6-nginxgen: --backend: upstream address ::ffff:127.0.0.1: an IPv4-mapped IPv6 address: nginx would connect over IPv6, where puma and streaming don't listen for it; write the IPv4 address 127.0.0.1\n", errs)
	code, _, _ = runCLI("--domain", "social.example.org", "--backend", "web1.example")
	assert.Equal(t, 2, code, "not an IP literal")
	// An IPv6 literal in brackets, as nginx writes it, is the same backend (issue 20).
	code, bracketed, errs := runCLI("--domain", "social.example.org", "--backend", "[fd00:1::31]", "--backend", "[fd00:1::32]", "--streaming-instances", "2")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, out, bracketed)
	code, _, errs = runCLI("--domain", "social.example.org", "--backend", "[127.0.0.1]")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `invalid value "[127.0.0.1]" for --backend: "[127.0.0.1]": brackets are for IPv6 literals only: drop them (127.0.0.1)`)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"--bogus"}, {"--domain", "a.example", "extra"}, {"--domain", "a.example", "--family", "v4only"}, {"--domain", "a.example", "--diff"}, {"--domain", "a.example", "--mastodon", "9.9"}} {
		code, _, _ := runCLI(args...)
		assert.Equal(t, 2, code, "%q", args)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"domain":        {"--domain", "social.example.org;\n"},
		"web_domain":    {"--domain", "social.example.org", "--web-domain", "SOCIAL.example.org"},
		"nginx_version": {"--domain", "social.example.org", "--nginx-version", "1.18"},
		"root":          {"--domain", "social.example.org", "--root", "/srv/a b"},
		"https_port":    {"--domain", "social.example.org", "--https-port", "80"},
		"cert":          {"--domain", "social.example.org", "--cert", "/etc/$ssl"},
	}
	for field, args := range cases {
		dir := t.TempDir()
		out := filepath.Join(dir, "site.conf")
		code, stdout, errs := runCLI(append(args, "--out", out)...)
		assert.Equal(t, 1, code, field)
		assert.Contains(t, errs, "v6-nginxgen: --"+strings.ReplaceAll(field, "_", "-")+": ", field)
		assert.Empty(t, stdout, field)
		_, err := os.Stat(out)
		assert.True(t, os.IsNotExist(err), "no file written for %s", field)
	}
}

func TestWriteDiffAndJSON(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "mastodon.conf")
	code, stdout, errs := runCLI("--domain", "social.example.org", "--mastodon", "4.5", "--out", out)
	require.Equal(t, 0, code, errs)
	assert.Equal(t, out+": written\n", stdout)
	code, stdout, _ = runCLI("--domain", "social.example.org", "--mastodon", "4.5", "--out", out)
	require.Equal(t, 0, code)
	assert.Equal(t, out+": unchanged\n", stdout)

	before, err := os.ReadFile(out)
	require.NoError(t, err)
	code, stdout, errs = runCLI("--domain", "social.example.org", "--mastodon", "4.6", "--out", out, "--diff")
	require.Equal(t, 1, code, "something would change: %s", errs)
	assert.Contains(t, stdout, "--- "+out)
	assert.Contains(t, stdout, "-  location @proxy {\n")
	assert.Contains(t, stdout, "+  location @mastodon {\n")
	assert.Contains(t, stdout, "+  proxy_read_timeout 120;\n")
	after, _ := os.ReadFile(out)
	assert.Equal(t, before, after, "--diff writes nothing")

	code, stdout, _ = runCLI("--domain", "social.example.org", "--mastodon", "4.6", "--out", out, "--json")
	require.Equal(t, 0, code)
	var res struct {
		Changed  bool
		Backup   string
		Problems []struct{ Path, Severity, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.True(t, res.Changed)
	assert.NotEmpty(t, res.Backup)

	code, stdout, _ = runCLI("--domain", "bad;name.example", "--json")
	assert.Equal(t, 1, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.NotEmpty(t, res.Problems)
	assert.Equal(t, "--domain", res.Problems[0].Path)
	assert.Equal(t, "error", res.Problems[0].Severity)
	assert.Contains(t, res.Problems[0].Message, "';'")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "nginx", "nginx")
	dir := testenv.TempDir(t)
	missing := []string{"--domain", "social.example.org", "--cert", filepath.Join(dir, "nope.pem"), "--key", filepath.Join(dir, "nope.key"), "--check"}
	code, _, errs := runCLI(missing...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "certificate or key file missing")
	assert.Contains(t, errs, "nope.pem")

	cert, key := testenv.NginxSelfSignedCert(t, dir, "social.example.org")
	ports := []string{"--http-port", strconv.Itoa(testenv.FreePort(t)), "--https-port", strconv.Itoa(testenv.FreePort(t))}
	args := append([]string{"--domain", "social.example.org", "--cert", cert, "--key", key, "--check", "--strict", "--mastodon", "4.4"}, ports...)
	code, stdout, errs := runCLI(args...)
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `^nginx 1\.\d+\.\d+: the site is valid\n$`, stdout)

	// A key that doesn't match the certificate: nginx -t itself says no.
	_, otherKey := testenv.NginxSelfSignedCert(t, t.TempDir(), "other.example")
	args = append([]string{"--domain", "social.example.org", "--cert", cert, "--key", otherKey, "--check"}, ports...)
	code, _, errs = runCLI(args...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "key values mismatch")

	// A target newer than the installed nginx can't be checked here, and says so.
	args = append([]string{"--domain", "social.example.org", "--cert", cert, "--key", key, "--check", "--nginx-version", "1.26"}, ports...)
	code, _, errs = runCLI(args...)
	assert.Equal(t, 1, code)
	if strings.Contains(errs, "can't parse it") {
		assert.Contains(t, errs, "http2 on;")
	}
}

func TestInstalledNginxVersion(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "nginx", "nginx")
	code, out, errs := runCLI("--domain", "social.example.org", "--nginx-version", "installed")
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `\n# Mastodon \S+ \(template \S+\), nginx 1\.\d+\.\d+\.`, out)
}

func TestStrictFailsOnWarnings(t *testing.T) {
	t.Parallel()
	args := []string{"--domain", "social.example.org", "--mastodon", "3.5", "--streaming-instances", "2"}
	code, _, errs := runCLI(args...)
	assert.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "--streaming-instances: warning:")
	code, _, _ = runCLI(append(args, "--strict")...)
	assert.Equal(t, 1, code)
}

// TestFamilyDefaults: the upstreams default to where v6-unitgen binds puma and streaming
// for the family (issue 12, defect 10): [::1] on an IPv6-only host, 127.0.0.1 on a
// dual-stack one.
func TestFamilyDefaults(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI("--domain", "social.example.org")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "server [::1]:3000 fail_timeout=0;")
	assert.Contains(t, out, "server [::1]:4000 fail_timeout=0;")
	code, out, errs = runCLI("--domain", "social.example.org", "--family", "dual-stack")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "server 127.0.0.1:3000 fail_timeout=0;")
}

// TestNonRootRefusedLeavesNothing (issue 20): v6-nginxgen --out run as another user
// (nobody) on root's site, in root's directory or in a world-writable one, is refused
// with the real reason (the directory or the site, its owner, the fix) and leaves the
// directory exactly as it was: no .v6kit-backup/, no temp file, no lock file.
func TestNonRootRefusedLeavesNothing(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	for _, c := range []struct {
		name    string
		dirMode os.FileMode
		want    func(dir, site string) string
	}{
		{"root's directory", 0o755, func(dir, _ string) string {
			return dir + " is owned by uid 0, gid 0 (mode 0755) and uid 65534 cannot create files in it"
		}},
		{"root's site", 0o777, func(_, site string) string {
			return site + " is owned by 0:0 and replacing it as uid 65534 would change that"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(testenv.TempDir(t), "sites-available")
			require.NoError(t, os.Mkdir(dir, c.dirMode))
			require.NoError(t, os.Chmod(dir, c.dirMode))
			site := filepath.Join(dir, "mastodon")
			require.NoError(t, os.WriteFile(site, []byte("# root's site\n"), 0o644))
			require.NoError(t, os.Chmod(site, 0o666)) // nobody may write it, not own it
			cmd := testenv.SelfAs(t, 65534, 65534, []string{"V6KIT_RUN_NGINXGEN=1"}, "--domain", "social.example.org", "--out", site)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "%s", out)
			assert.Equal(t, 1, cmd.ProcessState.ExitCode(), "%s", out)
			assert.Contains(t, string(out), c.want(dir, site))
			assert.Contains(t, string(out), "run as root or as its owner")
			assert.NotContains(t, string(out), ".v6kit-backup")
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			assert.Equal(t, []string{"mastodon"}, names, "a refused run leaves nothing behind")
			b, _ := os.ReadFile(site)
			assert.Equal(t, "# root's site\n", string(b))
		})
	}
}
