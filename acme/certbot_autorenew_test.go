package acme_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

const certbotConf = `# renew_before_expiry = 30 days
version = 2.1.0
archive_dir = /etc/letsencrypt/archive/social.example
cert = /etc/letsencrypt/live/social.example/cert.pem

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef
authenticator = webroot
webroot_path = /var/www/acme,
server = https://acme-v02.api.letsencrypt.org/directory
key_type = ecdsa
[[webroot_map]]
social.example = /var/www/acme
[acme_renewal_info]
ari_retry_after = 2026-11-27T00:00:00
`

func TestSetCertbotAutorenewOff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
		changed        bool
	}{
		{"added after the last key, before webroot_map", certbotConf,
			strings.Replace(certbotConf, "key_type = ecdsa\n", "key_type = ecdsa\nautorenew = False\n", 1), true},
		{"true replaced in place, comment kept", "[renewalparams]\nautorenew = True   # certbot's\nserver = x\n",
			"[renewalparams]\nautorenew = False   # certbot's\nserver = x\n", true},
		{"quoted yes", "[renewalparams]\n  autorenew='yes'\n", "[renewalparams]\n  autorenew=False\n", true},
		{"already false", "[renewalparams]\nautorenew = False\n", "[renewalparams]\nautorenew = False\n", false},
		{"already off", "[renewalparams]\nautorenew = off # by hand\n", "[renewalparams]\nautorenew = off # by hand\n", false},
		{"crlf kept", "version = 2.1.0\r\n[renewalparams]\r\nserver = x\r\n", "version = 2.1.0\r\n[renewalparams]\r\nserver = x\r\nautorenew = False\r\n", true},
		{"no final newline", "[renewalparams]\nserver = x", "[renewalparams]\nserver = x\nautorenew = False\n", true},
		{"indentation followed", "[renewalparams]\n    server = x\n", "[renewalparams]\n    server = x\n    autorenew = False\n", true},
		{"empty section before a subsection", "[renewalparams]\n[[webroot_map]]\na.example = /w\n",
			"[renewalparams]\nautorenew = False\n[[webroot_map]]\na.example = /w\n", true},
		{"autorenew in a subsection is another key", "[renewalparams]\nserver = x\n[[webroot_map]]\nautorenew = /w\n",
			"[renewalparams]\nserver = x\nautorenew = False\n[[webroot_map]]\nautorenew = /w\n", true},
		{"header with a comment", "[renewalparams] # params\nserver = x\n[other]\nautorenew = True\n",
			"[renewalparams] # params\nserver = x\nautorenew = False\n[other]\nautorenew = True\n", true},
		{"no renewalparams", "version = 2.1.0\n", "version = 2.1.0\n[renewalparams]\nautorenew = False\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, changed, err := acme.SetCertbotAutorenewOff([]byte(c.in))
			require.NoError(t, err)
			assert.Equal(t, c.changed, changed)
			assert.Equal(t, c.want, string(out))
			if !strings.Contains(c.in, "#") { // ParseCertbotConf reads no inline comments
				parsed, err := acme.ParseCertbotConf(out)
				require.NoError(t, err)
				assert.Equal(t, "False", parsed.Params["autorenew"])
			}
		})
	}
	for name, bad := range map[string]string{
		"malformed header":   "[renewalparams\nautorenew = True\n",
		"not key = value":    "[renewalparams]\njust words\n",
		"twice":              "[renewalparams]\nautorenew = True\nautorenew = True\n",
		"two sections":       "[renewalparams]\na = b\n[renewalparams]\nc = d\n",
		"multi-line value":   "[renewalparams]\npre_hook = '''a\nb'''\n",
		"unterminated quote": "[renewalparams]\nautorenew = \"True\n",
		"text after quotes":  "[renewalparams]\nautorenew=''0",
		"too deep":           "[renewalparams]\n[[[x]]]\n",
	} {
		_, _, err := acme.SetCertbotAutorenewOff([]byte(bad))
		assert.Error(t, err, name)
	}
}

func FuzzSetCertbotAutorenewOff(f *testing.F) {
	f.Add([]byte(certbotConf))
	f.Add([]byte("[renewalparams]\nautorenew = True # c\r\n[[webroot_map]]\na = b"))
	f.Add([]byte("[ renewalparams ]\n\tautorenew='no'\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, changed, err := acme.SetCertbotAutorenewOff(b)
		if err != nil {
			return
		}
		if !changed {
			if !bytes.Equal(out, b) {
				t.Fatalf("unchanged but different: %q -> %q", b, out)
			}
			return
		}
		// Idempotent, and only one line differs: every other line is kept byte for byte.
		again, changed2, err := acme.SetCertbotAutorenewOff(out)
		if err != nil || changed2 || !bytes.Equal(again, out) {
			t.Fatalf("second edit: %v %v %q", err, changed2, again)
		}
		if !oneLineEdit(b, out) {
			t.Fatalf("not a one-line edit: %q -> %q", b, out)
		}
	})
}

// oneLineEdit reports whether out is in with one line changed to hold False, one
// line added, or a [renewalparams] section appended; all else byte for byte (a
// missing final newline may be added).
func oneLineEdit(in, out []byte) bool {
	lines := func(b []byte) []string {
		var l []string
		for _, x := range bytes.SplitAfter(b, []byte("\n")) {
			if len(x) > 0 {
				l = append(l, strings.TrimRight(string(x), "\r\n"))
			}
		}
		return l
	}
	a, b := lines(in), lines(out)
	if bytes.HasPrefix(out, in) && len(b) <= len(a)+2 {
		return true // appended section (after a newline ending the last line)
	}
	switch len(b) - len(a) {
	case 0:
		diff := 0
		for i := range a {
			if a[i] != b[i] {
				diff++
				if !strings.Contains(b[i], "False") {
					return false
				}
			}
		}
		return diff == 1
	case 1:
		for i := range b {
			if strings.TrimSpace(b[i]) == "autorenew = False" {
				rest := append(append([]string{}, b[:i]...), b[i+1:]...)
				if slices.Equal(rest, a) {
					return true
				}
			}
		}
	}
	return false
}

// certbotConfLineage builds a certbot 2.x lineage NAME in dir (live/ links, archive/,
// renewal/NAME.conf naming webroot) from version v and returns the conf's text.
func certbotConfLineage(t *testing.T, dir, name, webroot, server string, v acme.Version) string {
	t.Helper()
	conf := strings.NewReplacer("/etc/letsencrypt", dir, "social.example", name, "/var/www/acme", webroot,
		"https://acme-v02.api.letsencrypt.org/directory", server).Replace(certbotConf)
	conf = strings.Replace(conf, "cert = "+dir+"/live/"+name+"/cert.pem\n", "cert = "+dir+"/live/"+name+"/cert.pem\nprivkey = "+dir+"/live/"+name+
		"/privkey.pem\nchain = "+dir+"/live/"+name+"/chain.pem\nfullchain = "+dir+"/live/"+name+"/fullchain.pem\n", 1)
	testenv.CertbotLineage(t, dir, name, v.Cert, v.Chain, v.Key, conf)
	return conf
}

func TestImportSetsCertbotAutorenewOff(t *testing.T) {
	t.Parallel()
	dir, webroot := testenv.TempDir(t), testenv.TempDir(t)
	now := time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)
	conf := certbotConfLineage(t, dir, "cb.test", webroot, "https://ca.example/dir", selfSigned(t, now.Add(-time.Hour), 90*24*time.Hour, "cb.test"))
	// One conf we cannot edit (a triple-quoted hook) though import can read it.
	hookConf := certbotConfLineage(t, dir, "hook.test", webroot, "https://ca.example/dir", selfSigned(t, now.Add(-time.Hour), 90*24*time.Hour, "hook.test"))
	hookConf = strings.Replace(hookConf, "key_type = ecdsa\n", "key_type = ecdsa\npre_hook = '''systemctl stop x'''\n", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "renewal", "hook.test.conf"), []byte(hookConf), 0o640))
	// And one left alone on request, in another directory.
	keepDir := testenv.TempDir(t)
	keepConf := certbotConfLineage(t, keepDir, "keep.test", webroot, "https://ca.example/dir", selfSigned(t, now.Add(-time.Hour), 90*24*time.Hour, "keep.test"))

	st := &acme.Store{Root: dir}
	outs, ps := st.ImportCertbot(acme.ImportOptions{Now: func() time.Time { return now }})
	require.NoError(t, ps.Err())
	require.Len(t, outs, 2)
	cb, hook := outs[0], outs[1]
	assert.Equal(t, acme.Imported, cb.Action)
	assert.True(t, cb.CertbotAutorenewOff)
	assert.Equal(t, filepath.Join(dir, "renewal", "cb.test.conf.v6kit-20261127T043000Z"), cb.Backup)
	assert.Equal(t, conf, string(mustRead(t, cb.Backup)), "the backup is the old file")
	want := strings.Replace(conf, "key_type = ecdsa\n", "key_type = ecdsa\nautorenew = False\n", 1)
	assert.Equal(t, want, string(mustRead(t, filepath.Join(dir, "renewal", "cb.test.conf"))))
	st1, err := os.Stat(filepath.Join(dir, "renewal", "cb.test.conf"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st1.Mode().Perm())

	assert.Equal(t, acme.Imported, hook.Action, "a conf we cannot edit still imports")
	assert.False(t, hook.CertbotAutorenewOff)
	require.Len(t, hook.Warnings, 1)
	assert.Contains(t, hook.Warnings[0], "multi-line")
	assert.Contains(t, hook.Warnings[0], "certbot still renews hook.test")
	assert.Equal(t, hookConf, string(mustRead(t, filepath.Join(dir, "renewal", "hook.test.conf"))), "never overwritten")
	ents, _ := filepath.Glob(filepath.Join(dir, "renewal", "*.conf*"))
	assert.Len(t, ents, 3, "cb.test.conf, its backup, hook.test.conf: %v", ents)

	// Import again: kept lineages, nothing edited twice, no new backup.
	outs, ps = st.ImportCertbot(acme.ImportOptions{Now: func() time.Time { return now.Add(time.Hour) }})
	require.NoError(t, ps.Err())
	assert.Equal(t, acme.Kept, outs[0].Action)
	assert.True(t, outs[0].CertbotAutorenewOff)
	assert.Empty(t, outs[0].Backup)
	ents, _ = filepath.Glob(filepath.Join(dir, "renewal", "*.conf*"))
	assert.Len(t, ents, 3)

	outs, ps = (&acme.Store{Root: keepDir}).ImportCertbot(acme.ImportOptions{KeepCertbotAutorenew: true})
	require.NoError(t, ps.Err())
	assert.False(t, outs[0].CertbotAutorenewOff)
	assert.Equal(t, keepConf, string(mustRead(t, filepath.Join(keepDir, "renewal", "keep.test.conf"))))
}

// TestCertbotReadsAutorenewOff asks certbot's own code: its RenewableCert reads the
// edited conf as autorenew off (and the untouched one as on), and "certbot renew"
// skips the lineage although its certificate is due by certbot's 30-day rule.
func TestCertbotReadsAutorenewOff(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "certbot", "certbot") // skips locally without it, fails under CI=true
	dir, keepDir, webroot := testenv.TempDir(t), testenv.TempDir(t), testenv.TempDir(t)
	now := time.Now()
	// Ten days left: certbot renews at 30 days before expiry, so it is due.
	certbotConfLineage(t, dir, "cb.test", webroot, "https://ca.invalid/dir", selfSigned(t, now.Add(-80*24*time.Hour), 90*24*time.Hour, "cb.test"))
	certbotConfLineage(t, keepDir, "cb.test", webroot, "https://ca.invalid/dir", selfSigned(t, now.Add(-80*24*time.Hour), 90*24*time.Hour, "cb.test"))
	outs, ps := (&acme.Store{Root: dir}).ImportCertbot(acme.ImportOptions{})
	require.NoError(t, ps.Err())
	require.True(t, outs[0].CertbotAutorenewOff)
	_, ps = (&acme.Store{Root: keepDir}).ImportCertbot(acme.ImportOptions{KeepCertbotAutorenew: true})
	require.NoError(t, ps.Err())

	certbotAutorenew(t, filepath.Join(dir, "renewal", "cb.test.conf"), false)
	certbotAutorenew(t, filepath.Join(keepDir, "renewal", "cb.test.conf"), true)

	// certbot renew (no --dry-run, which renews regardless): skipped, no CA contacted.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	work := testenv.TempDir(t)
	out, err := exec.CommandContext(ctx, "certbot", "renew", "--config-dir", dir, "--work-dir", work, "--logs-dir", work,
		"--no-random-sleep-on-renew", "--non-interactive").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "not yet due for renewal", "%s", out)
	assert.Contains(t, string(out), "No renewals were attempted", "%s", out)
}

// certbotAutorenew asks certbot's own storage.RenewableCert whether it would
// autorenew the lineage of conf (scripts/deps.sh installs certbot).
func certbotAutorenew(t *testing.T, conf string, want bool) {
	t.Helper()
	dir := filepath.Dir(filepath.Dir(conf))
	script := `import sys
from certbot import configuration
from certbot._internal import cli, storage
config = configuration.NamespaceConfig(cli.prepare_and_parse_args(
    cli.plugins_disco.PluginsRegistry.find_all(),
    ["certonly", "--config-dir", sys.argv[2], "--work-dir", sys.argv[3], "--logs-dir", sys.argv[3]]))
print(storage.RenewableCert(sys.argv[1], config).autorenewal_is_enabled())
`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, certbotPython(t), "-c", script, conf, dir, testenv.TempDir(t)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want2 := "False"
	if want {
		want2 = "True"
	}
	assert.Equal(t, want2, lines[len(lines)-1], "certbot's autorenewal_is_enabled() for %s", conf)
}

// certbotPython is the interpreter certbot runs with (its #! line): the python3
// first in PATH may be another one, without certbot's modules.
func certbotPython(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("certbot")
	require.NoError(t, err)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(b), "\n")
	if f := strings.Fields(strings.TrimPrefix(line, "#!")); strings.HasPrefix(line, "#!") && len(f) > 0 {
		if f[0] == "/usr/bin/env" && len(f) > 1 {
			return f[1]
		}
		return f[0]
	}
	return "python3"
}
