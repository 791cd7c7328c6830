package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	eabDir := t.TempDir() // outside dir, which must stay empty
	eabGood, eabTwoLines := filepath.Join(eabDir, "good"), filepath.Join(eabDir, "two")
	require.NoError(t, os.WriteFile(eabGood, []byte("c2VjcmV0LWhtYWMta2V5\n"), 0o600))
	require.NoError(t, os.WriteFile(eabTwoLines, []byte("c2VjcmV0\nLWhtYWM\n"), 0o600))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"no names", []string{"obtain", "--dir", dir}, "no names"},
		{"invalid name", []string{"obtain", "--dir", dir, "-d", "bad_name.example"}, "names[0]"},
		{"wildcard http-01", []string{"obtain", "--dir", dir, "-d", "*.example.org"}, "dns-01"},
		{"webroot missing", []string{"obtain", "--dir", dir, "-d", "a.example", "--webroot", dir + "/missing"}, "webroot"},
		{"webroot and listen", []string{"obtain", "--dir", dir, "-d", "a.example", "--webroot", dir, "--listen", "[::]:80"}, "exclude"},
		{"bad listen", []string{"obtain", "--dir", dir, "-d", "a.example", "--listen", "::80"}, "--listen"},
		{"unknown dns provider", []string{"obtain", "--dir", dir, "-d", "a.example", "--challenge", "dns-01", "--dns-provider", "route66"}, "route66"},
		{"cloudflare without token", []string{"obtain", "--dir", dir, "-d", "a.example", "--challenge", "dns-01", "--dns-provider", "cloudflare"}, "CLOUDFLARE_DNS_API_TOKEN"},
		{"http CA", []string{"obtain", "--dir", dir, "-d", "a.example", "--server", "http://ca.example/dir"}, "https://"},
		{"staging and server", []string{"obtain", "--dir", dir, "-d", "a.example", "--staging", "--server", "https://ca.example/dir"}, "exclude"},
		{"key type", []string{"obtain", "--dir", dir, "-d", "a.example", "--key-type", "dsa"}, "key type"},
		{"stray argument", []string{"renew", "--dir", dir, "extra"}, "unexpected argument"},
		{"import without dir", []string{"import"}, "--certbot"},
		{"eab key file missing", []string{"obtain", "--dir", dir, "-d", "a.example", "--eab-kid", "k", "--eab-hmac-file", eabDir + "/missing"}, "--eab-hmac-file"},
		{"eab key file with two lines", []string{"obtain", "--dir", dir, "-d", "a.example", "--eab-kid", "k", "--eab-hmac-file", eabTwoLines}, "one line"},
		{"cert name with #", []string{"obtain", "--dir", dir, "-d", "site.test", "--server", "https://[::1]:9/dir", "--webroot", eabDir, "--cert-name", "site.test#c"}, `"site.test#c" has '#'`},
		{"cert name with space", []string{"obtain", "--dir", dir, "-d", "site.test", "--server", "https://[::1]:9/dir", "--webroot", eabDir, "--cert-name", "site test"}, "certificate name"},
		{"cert name dotdot", []string{"obtain", "--dir", dir, "-d", "site.test", "--server", "https://[::1]:9/dir", "--webroot", eabDir, "--cert-name", ".."}, "directory reference"},
		{"email brace", []string{"obtain", "--dir", dir, "-d", "site.test", "--server", "https://[::1]:9/dir", "--webroot", eabDir, "--email", "{"}, `invalid e-mail address "{"`},
		{"email brace on renew", []string{"renew", "--dir", dir, "--email", "{"}, `invalid e-mail address "{"`},
		{"email single label", []string{"obtain", "--dir", dir, "-d", "site.test", "--server", "https://[::1]:9/dir", "--webroot", eabDir, "--email", "admin@localhost"}, "single-label"},
		{"email literal", []string{"obtain", "--dir", dir, "-d", "site.test", "--server", "https://[::1]:9/dir", "--webroot", eabDir, "--email", "admin@[::1]"}, "address literal"},
		{"eab key without kid", []string{"obtain", "--dir", dir, "-d", "a.example", "--eab-hmac-file", eabGood}, "eab"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(c.args...)
			assert.Equal(t, 2, code, stderr)
			assert.Contains(t, stderr, c.want)
		})
	}
	// Nothing was written by any of them.
	ents, _ := os.ReadDir(dir)
	assert.Empty(t, ents)
}

func TestCLIAgainstPebble(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	dir := testenv.TempDir(t)
	common := []string{"--dir", dir, "--server", p.DirURL, "--ca-cert", p.CAFile}
	listen := fmt.Sprintf("[::1]:%d", p.HTTPPort)

	code, out, stderr := runCLI(append([]string{"obtain", "--separate", "-d", "one.cli.test", "-d", "two.cli.test", "--listen", listen, "--profile", "tlsserver"}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "issued   one.cli.test")
	assert.Contains(t, out, "issued   two.cli.test")
	assert.Contains(t, out, filepath.Join(dir, "live", "one.cli.test", "fullchain.pem"))

	code, out, stderr = runCLI("list", "--dir", dir, "--json")
	require.Equal(t, 0, code, stderr)
	var listed struct {
		Lineages []struct {
			Name  string
			Names []string
			Meta  struct{ Profile string }
			Due   struct{ Due bool }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed.Lineages, 2)
	assert.Equal(t, "tlsserver", listed.Lineages[0].Meta.Profile)
	assert.False(t, listed.Lineages[0].Due.Due)
	code, out, _ = runCLI("list", "--dir", dir)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "ARI WINDOW")

	// Nothing due: quiet and successful, cron-friendly.
	code, out, stderr = runCLI(append([]string{"renew"}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, out)
	assert.Empty(t, stderr)

	// Forced renewal runs the deploy hook once, after the check.
	marker := filepath.Join(testenv.TempDir(t), "hook")
	code, out, stderr = runCLI(append([]string{"renew", "--force", "--check-cmd", "true",
		"--deploy-hook", "echo $RENEWED_DOMAINS >> " + marker}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "renewed")
	hook, err := os.ReadFile(marker)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(hook), "\n"))
	assert.Contains(t, string(hook), "one.cli.test")

	// A failed check: exit 1, no reload.
	code, _, stderr = runCLI(append([]string{"renew", "--force", "--check-cmd", "false", "--deploy-hook", "echo no >> " + marker}, common...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "check failed")
	hook, _ = os.ReadFile(marker)
	assert.Equal(t, 1, strings.Count(string(hook), "\n"))

	// The deploy stays pending: a run with nothing due says so and tries again (the
	// check still fails: exit 1), then a run whose check passes deploys without renewing.
	code, out, stderr = runCLI(append([]string{"renew", "--check-cmd", "false", "--deploy-hook", "echo no >> " + marker}, common...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "pending  one.cli.test  version 3 live since ")
	assert.Contains(t, out, "1 failed deploy(s), last: the server configuration check failed")
	assert.Contains(t, stderr, "deploy: the server configuration check failed")
	// list shows it too, in the table's footer and in --json.
	code, out, stderr = runCLI(append([]string{"list"}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "deploy pending  one.cli.test  version 3 live since ")
	assert.Contains(t, out, "the next renew deploys it")
	code, out, stderr = runCLI(append([]string{"list", "--json"}, common...)...)
	require.Equal(t, 0, code, stderr)
	var pendingList struct {
		Lineages []struct {
			Name    string
			Pending *struct {
				Version  int
				Failures int
			} `json:"pending_deploy"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &pendingList), out)
	found := false
	for _, l := range pendingList.Lineages {
		if l.Name == "one.cli.test" {
			found = true
			require.NotNil(t, l.Pending, out)
			assert.Equal(t, 3, l.Pending.Version)
			assert.Equal(t, 2, l.Pending.Failures)
		}
	}
	assert.True(t, found, out)
	code, out, stderr = runCLI(append([]string{"renew", "--json", "--check-cmd", "true", "--deploy-hook", "echo $RENEWED_DOMAINS >> " + marker}, common...)...)
	require.Equal(t, 0, code, stderr)
	var pending struct {
		Lineages []struct{ Action string }
		Deployed bool
		Pending  []struct {
			Name     string
			Version  int
			Failures int
		} `json:"pending_deploys"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &pending), out)
	assert.True(t, pending.Deployed)
	require.Len(t, pending.Pending, 2)
	assert.Equal(t, "two.cli.test", pending.Pending[1].Name)
	assert.Equal(t, 3, pending.Pending[1].Version)
	assert.Equal(t, 2, pending.Pending[1].Failures)
	for _, l := range pending.Lineages {
		assert.Equal(t, "kept", l.Action)
	}
	hook, _ = os.ReadFile(marker)
	assert.Equal(t, "one.cli.test two.cli.test\n", strings.SplitAfter(string(hook), "\n")[1])
	code, out, stderr = runCLI(append([]string{"renew", "--check-cmd", "true", "--deploy-hook", "echo again >> " + marker}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, out+stderr, "deployed: quiet again")

	// --reload-nginx reloads nginx.service through systemd's D-Bus API, once, after the
	// check (here a fake systemd manager on a private bus).
	bus := testenv.StartDBusDaemon(t)
	fake := testenv.NewFakeSystemd(t, bus, nil)
	code, _, stderr = runCLI(append([]string{"renew", "--force", "--check-cmd", "true", "--reload-nginx", "--dbus-address", bus}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"ReloadUnit nginx.service replace"}, fake.Calls())

	// Retention: one.cli.test holds versions 1..4; --keep 1 leaves 3 and 4 and says so.
	code, out, stderr = runCLI(append([]string{"renew", "--force", "--cert-name", "one.cli.test", "--keep", "1", "--json"}, common...)...)
	require.Equal(t, 0, code, stderr)
	var renewed struct {
		Lineages []struct {
			Name     string
			Version  int
			Pruned   []int
			Warnings []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &renewed), out)
	require.Len(t, renewed.Lineages, 1)
	assert.Equal(t, 5, renewed.Lineages[0].Version)
	assert.Equal(t, []int{1, 2, 3}, renewed.Lineages[0].Pruned)
	assert.Empty(t, renewed.Lineages[0].Warnings)
	code, out, stderr = runCLI("list", "--dir", dir, "--json")
	require.Equal(t, 0, code, stderr)
	var counted struct {
		Lineages []struct {
			Name     string
			Versions int
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &counted))
	versions := map[string]int{}
	for _, l := range counted.Lineages {
		versions[l.Name] = l.Versions
	}
	assert.Equal(t, map[string]int{"one.cli.test": 2, "two.cli.test": 4}, versions)
	code, out, _ = runCLI("list", "--dir", dir)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "VERSIONS")
	code, _, stderr = runCLI("renew", "--dir", dir, "--keep", "many")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "-keep")

	// An unknown profile: exit 1, named in the message.
	code, _, stderr = runCLI(append([]string{"obtain", "-d", "three.cli.test", "--listen", listen, "--profile", "eternal"}, common...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "eternal")
}

// TestImportTurnsCertbotAutorenewOff: import adopts a certbot lineage, sets
// autorenew = False in its renewal conf with a backup, and prints the note about
// certbot only for a conf it could not edit.
func TestImportTurnsCertbotAutorenewOff(t *testing.T) {
	t.Parallel()
	dir, webroot := testenv.TempDir(t), testenv.TempDir(t)
	for _, name := range []string{"a.cli.test", "b.cli.test"} {
		cert, key := testenv.SelfSigned(t, name)
		conf := "version = 2.1.0\n\n[renewalparams]\nauthenticator = webroot\nwebroot_path = " + webroot + ",\nserver = https://ca.example/dir\n"
		if name == "b.cli.test" {
			conf += "pre_hook = '''true'''\n" // read by import, not edited
		}
		testenv.CertbotLineage(t, dir, name, cert, cert, key, conf)
	}
	code, out, stderr := runCLI("import", "--certbot", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "imported a.cli.test  a.cli.test")
	assert.Contains(t, out, "certbot autorenew = False in renewal/a.cli.test.conf (backup: "+filepath.Join(dir, "renewal", "a.cli.test.conf.v6kit-"))
	assert.Contains(t, stderr, "warning  b.cli.test: cannot use this certbot renewal configuration: line 7: multi-line")
	assert.Contains(t, stderr, "note: certbot still renews 1 of these too")
	b, err := os.ReadFile(filepath.Join(dir, "renewal", "a.cli.test.conf"))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(b), "server = https://ca.example/dir\nautorenew = False\n"), "%s", b)

	code, out, _ = runCLI("import", "--certbot", dir)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "certbot autorenew already off in renewal/a.cli.test.conf")
}

// TestPendingLines: a deploy left pending prints what its marker says; a marker that
// could not be read (the run warns about it) prints no made-up version or date.
func TestPendingLines(t *testing.T) {
	t.Parallel()
	c, err := acme.New(acme.Config{Root: t.TempDir(), Server: "https://ca.example/dir", Challenge: acme.Challenge{Webroot: t.TempDir()}})
	require.NoError(t, err)
	switched := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	rep := acme.Report{Deployed: true, DeploySteps: []string{"check passed: nginx -t -q", "reloaded nginx.service"}, Pending: []acme.PendingDeploy{
		{Name: "crashed.test", Version: 3, Switched: switched},
		{Name: "failed.test", Version: 2, Switched: switched, Failures: 2, LastError: "reload refused"},
		{Name: "garbled.test"},
	}, Warnings: []string{"/etc/letsencrypt/renewal/garbled.test.v6-certs.deploy-pending: invalid character (the deploy is still pending)"}}
	var out, stderr bytes.Buffer
	o := &opts{}
	require.Equal(t, 0, o.finish("renew", c, rep, nil, false, &out, &stderr))
	assert.Equal(t, "pending  crashed.test  version 3 live since 2026-11-27T04:00:00Z, deploying it now (the run that switched it ended before its deploy)\n"+
		"pending  failed.test  version 2 live since 2026-11-27T04:00:00Z, deploying it now (2 failed deploy(s), last: reload refused)\n"+
		"pending  garbled.test  marker unreadable, deploying it now (see the warning about it)\n"+
		"deployed: check passed: nginx -t -q, reloaded nginx.service\n", out.String())
	assert.Equal(t, "warning  "+rep.Warnings[0]+"\n", stderr.String())
}
