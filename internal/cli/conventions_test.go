package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/internal/fsutil"
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
	subs   []string // subcommands: "NAME SUB -h" follows the help rule too
	// lock, given a fresh directory, returns the arguments of a run that takes a write
	// lock, the lock file it takes, and the exit code documented for --no-wait finding
	// it held; nil: the tool takes no lock that can be held here without a daemon.
	lock func(dir string) (args []string, lockFile string, code int)
	// plain returns runs that print a plain-text result on stdout (no --json), each
	// against fresh files; exe is the built binary, for a run that needs another first.
	plain func(t *testing.T, exe string) []plainRun
}

// plainRun is one plain-text run: its arguments and its exit code when stdout takes
// the result (1: --diff found a change, or the probe found nothing listening).
type plainRun struct {
	args []string
	code int
}

// runs is plainRun's table builder: args, then code, repeated.
func runs(a ...any) []plainRun {
	var rs []plainRun
	for i := 0; i < len(a); i += 2 {
		rs = append(rs, plainRun{a[i].([]string), a[i+1].(int)})
	}
	return rs
}

// outRuns are the plain runs of a tool with --out and --diff: a write (its summary)
// and a diff against nothing yet (exit 1).
func outRuns(base ...string) func(*testing.T, string) []plainRun {
	return func(t *testing.T, _ string) []plainRun {
		dir := t.TempDir()
		with := func(extra ...string) []string { return append(append([]string(nil), base...), extra...) }
		return runs(with("--out", filepath.Join(dir, "a")), 0, with("--out", filepath.Join(dir, "b"), "--diff"), 1)
	}
}

// lockOut is the lock of a tool that writes --out FILE (fsutil.Update's lock).
func lockOut(base ...string) func(string) ([]string, string, int) {
	return func(dir string) ([]string, string, int) {
		target := filepath.Join(dir, "target")
		return append(append([]string(nil), base...), "--out", target), fsutil.LockName(target), 1
	}
}

// ula is the example network of the table: a ULA /64 other than fd00::/64; nothing is
// sent to it (the tools only render).
const ula = "fd7a:6b69:7400:10::"

var tools = []tool{
	{name: "v6-envgen", pkg: "./cmd/v6-envgen", base: []string{"--domain", "social.example.org"}, out: "file", diff: true, family: true,
		json: []string{"--domain", "social.example.org", "--diff", "--json"}, empty: "domain", lock: lockOut("--domain", "social.example.org"),
		plain: outRuns("--domain", "social.example.org")},
	{name: "v6-nginxgen", pkg: "./cmd/v6-nginxgen", base: []string{"--domain", "social.example.org"}, out: "file", diff: true, family: true,
		json: []string{"--domain", "social.example.org", "--json"}, empty: "domain", lock: lockOut("--domain", "social.example.org"),
		plain: func(t *testing.T, exe string) []plainRun {
			return append(runs([]string{"--domain", "social.example.org"}, 0), outRuns("--domain", "social.example.org")(t, exe)...)
		}},
	{name: "v6-unitgen", pkg: "./cmd/v6-unitgen", out: "dir", diff: true, family: true, json: []string{"--json", "--cert-renew"}, empty: "user",
		lock: func(dir string) ([]string, string, int) {
			return []string{"--out", dir}, filepath.Join(dir, ".v6kit-units.lock"), 1 // the unit set's lock, inside DIR
		},
		plain: func(t *testing.T, exe string) []plainRun { // the units printed, then --out's summary and --diff
			return append(runs([]string{"--cert-renew"}, 0), outRuns("--cert-renew")(t, exe)...)
		}},
	{name: "v6-pgsetup", pkg: "./cmd/v6-pgsetup", base: []string{"--dsn", "host=/nonexistent user=postgres"}, empty: "role",
		plain: func(*testing.T, string) []plainRun {
			return runs([]string{"--tune", "--ram", "8GiB"}, 0, []string{"--listen"}, 0)
		}},
	{name: "v6-probe", pkg: "./cmd/v6-probe", base: []string{"--domain", "social.example.org"}, family: true, empty: "domain",
		plain: func(t *testing.T, _ string) []plainRun { // the report of a run against a resolver that never answers
			pc, err := net.ListenPacket("udp6", "[::1]:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = pc.Close() })
			return runs([]string{"--domain", "social.example.org", "--resolver", pc.LocalAddr().String(), "--timeout", "2s"}, 1)
		}},
	{name: "v6-certs", pkg: "./cmd/v6-certs", empty: "", subs: []string{"obtain", "renew", "list", "import"},
		lock: func(dir string) ([]string, string, int) {
			// obtain takes the store's lock before it talks to the CA (nothing listens at [::1]:1).
			return []string{"obtain", "-d", "social.example.org", "--webroot", dir, "--dir", dir, "--server", "https://[::1]:1/directory"},
				filepath.Join(dir, ".v6-certs.lock"), 1
		},
		plain: func(t *testing.T, exe string) []plainRun { // import's report, then list's table and renew -v's
			store := certbotStore(t)
			code, _, errs := runBin(t, exe, nil, "import", "--certbot", store)
			require.Equal(t, 0, code, errs)
			return runs([]string{"import", "--certbot", certbotStore(t)}, 0, []string{"list", "--dir", store}, 0,
				[]string{"renew", "-v", "--dir", store}, 0)
		}},
	{name: "allinone", pkg: "./examples/allinone", out: "dir", diff: true, family: true, empty: "domain", lock: lockOut(), plain: outRuns()},
	{name: "dualstack", pkg: "./examples/dualstack", out: "dir", diff: true, family: true, empty: "domain", lock: lockOut(), plain: outRuns()},
	{name: "split", pkg: "./examples/split", out: "dir", diff: true, empty: "domain", lock: clusterLock("web1"), plain: outRuns()},
	{name: "ha", pkg: "./examples/ha", out: "dir", diff: true, empty: "domain", lock: clusterLock("web1"), plain: outRuns()},
	{name: "v6-egress", pkg: "./cmd/v6-egress", base: egressBase, out: "dir", json: append(append([]string(nil), egressBase...), "--check", "--json"),
		empty: "wan", subs: []string{"nat64", "proxy"}, lock: func(dir string) ([]string, string, int) {
			out := filepath.Join(dir, "egress")
			return append(append([]string(nil), egressBase...), "--out", out), filepath.Join(dir, ".v6kit-egress-egress.lock"), 1
		},
		plain: func(t *testing.T, _ string) []plainRun {
			return runs(append(append([]string(nil), egressBase...), "--out", filepath.Join(t.TempDir(), "egress")), 0,
				append(append([]string(nil), egressBase...), "--check"), 0)
		}},
	{name: "v6-firewall", pkg: "./cmd/v6-firewall", base: []string{"--ssh-from", "2001:db8:a::/48"}, out: "file", diff: true, family: true,
		json: []string{"--ssh-from", "2001:db8:a::/48", "--json"}, empty: "table", lock: lockOut("--ssh-from", "2001:db8:a::/48"),
		plain: func(t *testing.T, exe string) []plainRun { // the ruleset printed, then --out's summary and --diff
			return append(runs([]string{"--ssh-from", "2001:db8:a::/48"}, 0), outRuns("--ssh-from", "2001:db8:a::/48")(t, exe)...)
		}},
	{name: "v6-install", pkg: "./cmd/v6-install", base: []string{"--plan"}, empty: "bundle", lock: func(dir string) ([]string, string, int) {
		b := filepath.Join(dir, "bundle")
		return []string{"--bundle", b, "--apply"}, fsutil.LockName(b), 1
	},
		plain: func(t *testing.T, _ string) []plainRun { // --plan's steps, --apply's log and "every step is done"
			return runs([]string{"--bundle", stepsBundle(t), "--plan"}, 0, []string{"--bundle", stepsBundle(t), "--apply"}, 0)
		}},
}

var egressBase = []string{"nat64", "--dns64", ula + "53", "--clients", ula + "/64"}

// clusterLock is the lock of a cluster example: the tree of the host whose
// .env.production it reads first, under --out DIR/cluster.
func clusterLock(host string) func(string) ([]string, string, int) {
	return func(dir string) ([]string, string, int) {
		out := filepath.Join(dir, "cluster")
		_ = os.Mkdir(out, 0o755) // the holder's lock file sits in it
		return []string{"--out", out}, fsutil.LockName(filepath.Join(out, host)), 1
	}
}

// certbotStore is a certbot configuration directory holding one lineage (a
// self-signed certificate valid for 90 days), for v6-certs import.
func certbotStore(t *testing.T) string {
	t.Helper()
	dir, webroot := testenv.TempDir(t), testenv.TempDir(t)
	name := "a.cli.test"
	cert, key := testenv.SelfSigned(t, name)
	testenv.CertbotLineage(t, dir, name, cert, cert, key,
		"version = 2.1.0\n\n[renewalparams]\nauthenticator = webroot\nwebroot_path = "+webroot+",\nserver = https://[::1]:1/directory\n")
	return dir
}

// stepsBundle is a bundle directory whose one install step touches a file in it.
func stepsBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := bundle.StepsJSON([]bundle.Step{{ID: "marker", Section: "s", Title: "the marker file",
		Check: []bundle.Cmd{{Args: []string{"test", "-e", "marker"}}}, Run: []bundle.Cmd{{Args: []string{"touch", "marker"}}}, Fix: "f"}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.StepsPath), b, 0o644))
	return dir
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
			for _, sub := range tl.subs {
				code, out, errs := runBin(t, exe, nil, sub, "-h")
				require.Equal(t, 0, code, "%s %s -h: %s", tl.name, sub, errs)
				assert.Empty(t, errs, "%s %s -h: help goes to stdout", tl.name, sub)
				assert.True(t, strings.HasPrefix(out, "usage: "+tl.name+" "+sub), "%s -h: synopsis first:\n%s", sub, out)
				f, x := strings.Index(out, "\nflags:\n"), strings.Index(out, "\nexit codes:\n")
				assert.True(t, f > 0 && x > f, "%s -h: flags, then exit codes:\n%s", sub, out)
			}

			// --no-wait: with the lock held by another process, exit at once with the
			// documented code naming its PID; without it, wait, saying for whom.
			if tl.lock != nil {
				noWait(t, exe, tl)
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

			// A plain-text result that stdout can't take (a full disk: /dev/full) is a failed
			// write: exit 1, naming stdout and the error, where the run would have exited 0
			// (--diff's 1 and the probe's 1 stay 1, with the same message). -h included.
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			require.NoError(t, err, "the full device")
			defer full.Close()
			plain := []plainRun{{[]string{"-h"}, 0}}
			if tl.plain != nil {
				plain = append(plain, tl.plain(t, exe)...)
			}
			for _, r := range plain {
				code, out, errs := runBin(t, exe, nil, r.args...)
				require.Equal(t, r.code, code, "%s %q: %s", tl.name, r.args, errs)
				require.NotEmpty(t, out, "%s %q prints a result", tl.name, r.args)
			}
			if tl.plain != nil {
				plain = append(plain[:1], tl.plain(t, exe)...) // fresh files: the same runs, now to /dev/full
			}
			for _, r := range plain {
				code, _, errs := runBin(t, exe, full, r.args...)
				assert.Equal(t, 1, code, "%s %q >/dev/full: %s", tl.name, r.args, errs)
				assert.Contains(t, errs, tl.name+": writing to stdout: ", "%s %q >/dev/full names stdout", tl.name, r.args)
				assert.Equal(t, 1, strings.Count(errs, "no space left on device"), "%s %q >/dev/full names the error once:\n%s", tl.name, r.args, errs)
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

// noWait holds tl's lock with flock(1) in another process, then runs tl with and
// without --no-wait.
func noWait(t *testing.T, exe string, tl tool) {
	t.Helper()
	dir := t.TempDir()
	args, lockFile, want := tl.lock(dir)
	holder := exec.Command(testenv.Tool(t, "flock", "util-linux"), "-o", lockFile, "sleep", "60")
	require.NoError(t, holder.Start())
	defer func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	}()
	pid := holder.Process.Pid
	// Wait until /proc/locks shows flock(1) holding it.
	for i := 0; fsutil.LockHolder(lockFile) != pid; i++ {
		require.Less(t, i, 500, "flock(1) never took %s", lockFile)
		time.Sleep(10 * time.Millisecond)
	}

	code, _, errs := runBin(t, exe, nil, append(args, "--no-wait")...)
	assert.Equal(t, want, code, "--no-wait with the lock held: %s", errs)
	assert.Contains(t, errs, fmt.Sprintf("PID %d", pid), "--no-wait names the holder")

	w := exec.Command(exe, args...)
	w.Dir = dir
	stderr, err := w.StderrPipe()
	require.NoError(t, err)
	w.Stdout = io.Discard
	require.NoError(t, w.Start())
	sc := bufio.NewScanner(stderr)
	said := ""
	for sc.Scan() {
		said += sc.Text() + "\n"
		if strings.Contains(sc.Text(), "waiting for PID") {
			break
		}
	}
	assert.Contains(t, said, fmt.Sprintf("waiting for PID %d", pid), "without --no-wait: waits, naming the holder")
	// It is still waiting: only now is the holder ended.
	assert.Nil(t, w.ProcessState)
	_ = holder.Process.Kill()
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	_ = w.Wait()
	assert.NotEqual(t, 2, w.ProcessState.ExitCode(), said)
}
