package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// tool is one CLI of the table: its package, the arguments every run needs, and what
// it supports.
type tool struct {
	name   string   // binary name
	pkg    string   // package path from the module root
	base   []string // arguments every run needs (required flags)
	out    string   // how --out is named for a file ("file") or a directory ("dir"); "" none
	diff   bool     // has --diff that can run here without a daemon
	family bool     // has --family
	json   []string // arguments for a --json run that needs no daemon; nil: none here
	empty  string   // a flag that takes a value, for the empty-value rule
}

var tools = []tool{
	{name: "v6-envgen", pkg: "./cmd/v6-envgen", base: []string{"--domain", "social.example.org"}, out: "file", diff: true, family: true,
		json: []string{"--domain", "social.example.org", "--diff", "--json"}, empty: "domain"},
	{name: "v6-nginxgen", pkg: "./cmd/v6-nginxgen", base: []string{"--domain", "social.example.org"}, out: "file", diff: true, family: true,
		json: []string{"--domain", "social.example.org", "--json"}, empty: "domain"},
	{name: "v6-unitgen", pkg: "./cmd/v6-unitgen", out: "dir", diff: true, family: true, json: []string{"--json", "--cert-renew"}, empty: "user"},
	{name: "v6-pgsetup", pkg: "./cmd/v6-pgsetup", base: []string{"--dsn", "host=/nonexistent user=postgres"}, empty: "role"},
	{name: "v6-probe", pkg: "./cmd/v6-probe", base: []string{"--domain", "social.example.org"}, family: true, empty: "domain"},
	{name: "v6-certs", pkg: "./cmd/v6-certs", empty: ""},
	{name: "allinone", pkg: "./examples/allinone", out: "dir", diff: true, family: true, empty: "domain"},
	{name: "dualstack", pkg: "./examples/dualstack", out: "dir", diff: true, family: true, empty: "domain"},
}

// build compiles every CLI of the table into one directory.
func build(t *testing.T) string {
	t.Helper()
	goTool := testenv.Tool(t, "go", "golang-go")
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, tl := range tools {
		args = append(args, tl.pkg)
	}
	cmd := exec.Command(goTool, args...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dir
}

func runBin(t *testing.T, bin string, stdout *os.File, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Stderr = &e
	if stdout != nil {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = &o
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), o.String(), e.String()
	}
	require.NoError(t, err)
	return 0, o.String(), e.String()
}

var snake = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// badKeys lists every object key of a JSON document that is not snake_case.
func badKeys(v any, path string, bad *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snake.MatchString(k) {
				*bad = append(*bad, path+"."+k)
			}
			badKeys(e, path+"."+k, bad)
		}
	case []any:
		for _, e := range x {
			badKeys(e, path+"[]", bad)
		}
	}
}

// TestConventions is the one table of the CLI conventions (README "CLI conventions"),
// run against every CLI as built binaries.
func TestConventions(t *testing.T) {
	t.Parallel()
	bin := build(t)
	// v6-probe's --json keys, from a real (failing) run against a resolver that never answers.
	t.Run("v6-probe json", func(t *testing.T) {
		t.Parallel()
		pc, err := net.ListenPacket("udp6", "[::1]:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = pc.Close() })
		code, out, errs := runBin(t, filepath.Join(bin, "v6-probe"), nil, "--domain", "social.example.org", "--resolver", pc.LocalAddr().String(), "--timeout", "3s", "--json")
		require.Equal(t, 1, code, errs)
		var v any
		require.NoError(t, json.Unmarshal([]byte(out), &v), out)
		var bad []string
		badKeys(v, "", &bad)
		assert.Empty(t, bad)
	})
	for _, tl := range tools {
		t.Run(tl.name, func(t *testing.T) {
			t.Parallel()
			exe := filepath.Join(bin, tl.name)
			with := func(extra ...string) []string { return append(append([]string(nil), tl.base...), extra...) }

			// -h and --help: exit 0, a synopsis line, then flags, then exit codes, on stdout.
			for _, h := range []string{"-h", "--help"} {
				code, out, errs := runBin(t, exe, nil, h)
				require.Equal(t, 0, code, "%s %s: %s", tl.name, h, errs)
				assert.True(t, strings.HasPrefix(out, "usage: "+tl.name), "%s: synopsis first:\n%s", h, out)
				f, x := strings.Index(out, "\nflags:\n"), strings.Index(out, "\nexit codes:\n")
				assert.True(t, f > 0 && x > f, "%s: flags, then exit codes:\n%s", h, out)
				assert.Contains(t, out, "  2  ")
			}

			// An unknown --mastodon is a usage error, exit 2.
			args := with("--mastodon", "9.9")
			if tl.name == "v6-certs" {
				args = []string{"renew", "--mastodon", "9.9"}
			}
			code, _, errs := runBin(t, exe, nil, args...)
			assert.Equal(t, 2, code, "unknown --mastodon: %s", errs)

			// A flag given explicitly with an empty value is a usage error.
			if tl.empty != "" {
				code, _, errs = runBin(t, exe, nil, append(with(), "--"+tl.empty, "")...)
				assert.Equal(t, 2, code, "--%s '': %s", tl.empty, errs)
				assert.Contains(t, errs, "--"+tl.empty)
				assert.Contains(t, errs, "empty value")
			}

			// --out whose parent is missing: refused, "create it first", never a raw stat error.
			if tl.out != "" {
				missing := filepath.Join(t.TempDir(), "nope", "target")
				code, _, errs = runBin(t, exe, nil, with("--out", missing)...)
				assert.Equal(t, 2, code, errs)
				assert.Contains(t, errs, "create it first")
				assert.NotContains(t, errs, "stat ")
				_, err := os.Stat(filepath.Dir(missing))
				assert.True(t, os.IsNotExist(err), "nothing created")
			}

			// --diff: exit 1 when something would change, 0 when nothing would.
			if tl.diff {
				target := filepath.Join(t.TempDir(), "target")
				code, out, errs := runBin(t, exe, nil, with("--out", target, "--diff")...)
				require.Equal(t, 1, code, "a change: %s", errs)
				assert.Contains(t, out, "+++ ")
				assert.Contains(t, out, "@@ ")
				code, _, errs = runBin(t, exe, nil, with("--out", target)...)
				require.Equal(t, 0, code, "write: %s", errs)
				code, out, errs = runBin(t, exe, nil, with("--out", target, "--diff")...)
				assert.Equal(t, 0, code, "no change: %s%s", out, errs)
				assert.NotContains(t, out, "+++ ", "no diff when nothing would change")
			}

			// --family: one spelling (ipv6-only|dual-stack), the old ones as aliases, others exit 2.
			if tl.family {
				code, _, errs = runBin(t, exe, nil, with("--family", "ipv5")...)
				assert.Equal(t, 2, code, errs)
				assert.Contains(t, errs, "ipv6-only or dual-stack")
				if tl.name != "v6-probe" { // a valid family would start probing
					for _, f := range []string{"ipv6-only", "dual-stack", "v6only", "dual"} {
						a := with("--family", f)
						if tl.out == "dir" {
							a = append(a, "--out", filepath.Join(t.TempDir(), "o"), "--diff")
						}
						code, _, errs = runBin(t, exe, nil, a...)
						assert.Contains(t, []int{0, 1}, code, "--family %s: %s", f, errs)
						assert.NotContains(t, errs, "family", "--family %s", f)
					}
				}
			}

			// --json: snake_case keys throughout, and a stdout that can't take it is exit 1.
			if tl.json != nil {
				code, out, errs := runBin(t, exe, nil, tl.json...)
				require.Contains(t, []int{0, 1}, code, errs)
				var v any
				require.NoError(t, json.Unmarshal([]byte(out), &v), out)
				var bad []string
				badKeys(v, "", &bad)
				assert.Empty(t, bad, "keys not in snake_case")
				full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
				if err == nil {
					defer full.Close()
					code, _, errs = runBin(t, exe, full, tl.json...)
					assert.Equal(t, 1, code, "--json >/dev/full: %s", errs)
					assert.Contains(t, errs, "--json")
				}
			}
		})
	}
}
