package bundle

import (
	"bytes"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
)

// testHost is the allinone example's host.
func testHost() Host {
	return Host{
		LocalDomain: "example.org", WebDomain: "social.example.org",
		AdminEmail: "admin@example.org", Owner: "admin",
		SMTP:  envfile.SMTP{Server: "relay.example.org", Port: 25, AuthMethod: "none", OpenSSLVerifyMode: "none", FromAddress: "notifications@example.org"},
		NAT64: netip.MustParsePrefix(mastodon.NAT64WellKnownPrefix),
	}
}

func compose(t testing.TB, h Host) (*Tree, Info) {
	tr := New("", t.TempDir())
	info := h.Compose(tr)
	return tr, info
}

// bashArgv parses each line as bash does and returns the argv of each: every line is
// run as `argv LINE` with argv a function that prints its arguments NUL-separated, in
// a temporary directory with an empty environment, after `bash -n` accepted the whole.
func bashArgv(t *testing.T, lines []string) [][]string {
	t.Helper()
	bash := testenv.Tool(t, "bash", "bash")
	script := strings.Join(lines, "\n") + "\n"
	n := exec.Command(bash, "-n")
	n.Stdin = strings.NewReader(script)
	out, err := n.CombinedOutput()
	require.NoError(t, err, "bash -n: %s\n%s", out, script)
	var b strings.Builder
	b.WriteString("set -f\nargv() { printf '%s\\0' \"$@\"; printf '\\1\\0'; }\n")
	for _, l := range lines {
		b.WriteString("argv " + l + "\n")
	}
	cmd := exec.Command(bash, "--norc", "--noprofile")
	cmd.Dir, cmd.Env = t.TempDir(), []string{"PATH=/usr/bin:/bin"}
	cmd.Stdin = strings.NewReader(b.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	require.Empty(t, stderr.String())
	var res [][]string
	var cur []string
	for _, f := range strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00") {
		if f == "\x01" {
			res = append(res, cur)
			cur = nil
			continue
		}
		cur = append(cur, f)
	}
	require.Len(t, res, len(lines))
	return res
}

// expectedCommands is every command of the steps in NEXT-STEPS.md's order.
func expectedCommands(h Host, info Info) (code, checks [][]string) {
	for _, st := range info.Steps {
		if !strings.HasPrefix(st.ID, "file:") {
			for _, c := range st.Check {
				checks = append(checks, c.Line())
			}
		}
		for _, c := range st.Run {
			code = append(code, c.Line())
		}
	}
	outside, local := h.ProbeCommands(info)
	return append(code, outside, local), checks
}

// TestNextStepsParseAsTheSteps: bash reads every command line of NEXT-STEPS.md as
// exactly the argv of the step data v6-install runs, for the example's host and for
// hosts whose values are valid but full of shell syntax.
func TestNextStepsParseAsTheSteps(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*Host){
		"example": func(*Host) {},
		"shell characters": func(h *Host) {
			h.AdminEmail = "o'neil$HOME`id`{x}|y&z#*?@example.org"
			h.Owner = "a.b-c_d"
			h.ACMEServer = "https://acme.test:14000/dir?x=$(id)&y='z'"
			h.Home = "/srv/mastodon"
			h.Source = "/srv/git/mastodon's code.git"
		},
		"dual-stack split": func(h *Host) { h.Family, h.SplitSidekiq, h.NAT64 = DualStack, true, netip.Prefix{} },
		"old release": func(h *Host) {
			h.Release = mastodon.MustLookup("4.2")
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := testHost()
			mod(&h)
			tr, info := compose(t, h)
			require.NoError(t, tr.Problems.Err())
			f, ok := tr.File(NextStepsPath)
			require.True(t, ok)
			code, checks := testenv.NextStepsCommands(string(f.Data))
			wantCode, wantChecks := expectedCommands(h, info)
			// the probe line's trailing comment is bash's: it does not reach argv
			assert.Equal(t, wantCode, bashArgv(t, code))
			assert.Equal(t, wantChecks, bashArgv(t, checks))
			for _, st := range info.Steps {
				if st.ID == "certificate" {
					assert.Contains(t, st.Run[3].Args, h.AdminEmail, "the address is one element")
				}
			}
		})
	}
}

// TestHostileValuesRefused: each value that reaches a command line with a newline, CR,
// tab or trailing backslash is refused with the field named, and nothing is written.
func TestHostileValuesRefused(t *testing.T) {
	t.Parallel()
	type field struct {
		path string
		set  func(*Host, string)
		good string
	}
	fields := []field{
		{"acme_server", func(h *Host, v string) { h.ACMEServer = v }, "https://acme.test/dir"},
		{"email", func(h *Host, v string) { h.AdminEmail = v }, "admin@example.org"},
		{"owner", func(h *Host, v string) { h.Owner = v }, "admin"},
		{"letsencrypt", func(h *Host, v string) { h.LetsEncrypt = v }, "/etc/le"},
		{"source", func(h *Host, v string) { h.Source = v }, "/srv/mastodon.git"},
	}
	for _, f := range fields {
		for _, bad := range []string{"\n", "\r", "\t", "\\", "\nExecStartPre=/bin/sh", "\x00"} {
			v := f.good + bad
			t.Run(f.path+" "+strings.ReplaceAll(strings.ReplaceAll(bad, "\n", `\n`), "\r", `\r`), func(t *testing.T) {
				t.Parallel()
				h := testHost()
				f.set(&h, v)
				tr, _ := compose(t, h)
				require.Error(t, tr.Problems.Err())
				var paths []string
				for _, p := range tr.Problems.Errors() {
					paths = append(paths, p.Path)
				}
				assert.Contains(t, paths, f.path)
				if f.path != "email" { // acme.CheckEmail's sentinel
					assert.ErrorIs(t, tr.Problems.Err(), ErrCommandValue)
				}
				_, err := Write(tr)
				require.Error(t, err, "nothing is written")
			})
		}
	}
}

// TestEmptyFlagsRefused: an explicitly empty --letsencrypt, --acme-server, --web-domain
// or --nat64 is a usage error, not a silent default that drops arguments.
func TestEmptyFlagsRefused(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"--letsencrypt", "--acme-server", "--web-domain", "--nat64"} {
		var stdout, stderr bytes.Buffer
		rc := Command("allinone", testHost(), []string{"--out", t.TempDir(), flag, ""}, &stdout, &stderr)
		assert.Equal(t, 2, rc, flag)
		assert.Contains(t, stderr.String(), "empty value", flag)
	}
}

func TestStepsCreateUserBeforeCheckoutBeforeFiles(t *testing.T) {
	t.Parallel()
	tr, info := compose(t, testHost())
	require.NoError(t, tr.Problems.Err())
	idx := map[string]int{}
	for i, s := range info.Steps {
		idx[s.ID] = i
	}
	env := "file:" + info.EnvPath
	for _, pair := range [][2]string{{"user", "checkout"}, {"checkout", env}, {env, "pgsetup"}, {"pgsetup", "db-setup"},
		{"corepack", "yarn"}, {"certificate", "site"}, {"site", "units"}, {"units", "owner"}} {
		assert.Less(t, idx[pair[0]], idx[pair[1]], "%s before %s", pair[0], pair[1])
	}
	pg := info.Steps[idx["pgsetup"]]
	assert.Equal(t, "postgres", pg.Run[0].User, "peer over the socket as postgres")
	pw := info.Steps[idx["file:"+DBPasswordPath]]
	assert.Equal(t, []string{"install", "-D", "-o", "root", "-g", "postgres", "-m", "0640", "--", DBPasswordPath, "/" + DBPasswordPath}, pw.Run[0].Args)
	for _, c := range pg.Run[0].Args {
		assert.NotContains(t, c, strings.TrimSpace(string(mustFile(t, tr, DBPasswordPath))), "the password never reaches argv")
	}
	assert.Empty(t, info.Steps[idx["corepack"]].Run[0].User, "corepack runs as root")
	assert.Equal(t, "mastodon", info.Steps[idx["yarn"]].Run[0].User)
	assert.Equal(t, "22", info.Steps[idx["node"]].Check[0].Min)
	// the JSON the installer reads is the same data
	f := mustFile(t, tr, StepsPath)
	assert.Contains(t, string(f), `"id": "units"`)
}

func mustFile(t testing.TB, tr *Tree, p string) []byte {
	f, ok := tr.File(p)
	require.True(t, ok, p)
	return f.Data
}

// shellWords is a reader of the quoting ShellQuote writes (bare words, single quotes,
// the '\” escape), for the fuzz target; TestNextStepsParseAsTheSteps uses bash itself.
func shellWords(s string) ([]string, bool) {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.IndexByte("\t\n;&|<>()$`\"*?#~!{}", c) >= 0:
			return nil, false // a character the shell would read as syntax, outside quotes
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, false
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, true
}

// FuzzCommandLine: a command of clean arguments renders to one line that reads back as
// the same argv; CheckSteps refuses every command with an argument that is not clean.
func FuzzCommandLine(f *testing.F) {
	for _, s := range [][3]string{{"v6-certs", "--email", "o'neil@example.org"}, {"a b", "", "x"}, {"https://x/d\nExecStartPre=", "--owner", "a\tb"},
		{"trail\\", "$(id)", "`id`"}, {"-", "!", "#c"}} {
		f.Add(s[0], s[1], s[2], "mastodon")
	}
	f.Fuzz(func(t *testing.T, a, b, c, user string) {
		cmd := Cmd{Args: []string{a, b, c}, User: user}
		ps := CheckSteps([]Step{{ID: "x", Check: []Cmd{cmd}}})
		clean := cleanArg(a) == "" && cleanArg(b) == "" && cleanArg(c) == "" && (user == "" || unixName.MatchString(user))
		if clean != !ps.HasErrors() {
			t.Fatalf("CheckSteps(%q) = %v, clean %v", cmd.Line(), ps, clean)
		}
		if !clean {
			return
		}
		line := ShellJoin(cmd.Line())
		if strings.ContainsAny(line, "\n\r") {
			t.Fatalf("%q renders over several lines", line)
		}
		got, ok := shellWords(line)
		if !ok || !slicesEqual(got, cmd.Line()) {
			t.Fatalf("%q reads back as %q, want %q", line, got, cmd.Line())
		}
	})
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestStepsChecksSeenUnderRealSystemd pins the fixes issue 13's nspawn world found or
// asked for (examples/e2e TestNspawnInstall runs them under a real systemd).
func TestStepsChecksSeenUnderRealSystemd(t *testing.T) {
	t.Parallel()
	h := testHost()
	tr, info := compose(t, h)
	require.NoError(t, tr.Problems.Err())
	byID := func(steps []Step, id string) Step {
		for _, s := range steps {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no step %s", id)
		return Step{}
	}
	// pgsetup is done only when nothing would change: v6-pgsetup --diff compares the
	// stored SCRAM verifier with the password file (never the password on argv).
	pg := byID(info.Steps, "pgsetup")
	last := pg.Check[len(pg.Check)-1]
	assert.Equal(t, "postgres", last.User)
	assert.Equal(t, append(slices.Clone(pg.Run[0].Args), "--diff"), last.Args)
	assert.Contains(t, last.Args, "--password-file")

	// the certificate: nginx restarted (synchronous), not reloaded, before the CA asks
	crt := byID(info.Steps, "certificate")
	obtain := slices.IndexFunc(crt.Run, func(c Cmd) bool { return len(c.Args) > 1 && c.Args[0] == "v6-certs" })
	require.Positive(t, obtain)
	assert.Equal(t, []string{"systemctl", "restart", "nginx.service"}, crt.Run[obtain-1].Args)
	for _, c := range crt.Run[:obtain] {
		assert.NotContains(t, c.Args, "reload", "a reload returns before the new workers serve the bootstrap site")
	}

	// Redis's restart step exists with a password too, and checks that Redis started
	// after the snippet and the include were installed
	for _, pw := range []string{"", "s3cret-redis"} {
		info.Redis.Password = pw
		steps := h.Steps(tr, info)
		rs := byID(steps, "redis-restart")
		assert.Equal(t, Cmd{Args: []string{"cmp", "-s", "--", RedisPath, "/" + RedisPath}}, rs.Check[0], "password %q: the bundle's snippet is installed", pw)
		assert.Equal(t, StartedAfter("redis-server.service", "/"+RedisPath, "/etc/redis/redis.conf"), rs.Check[1], "and Redis started after it")
		for _, c := range rs.Check {
			if pw != "" {
				assert.NotContains(t, strings.Join(c.Args, " "), pw, "the password never reaches argv")
			}
		}
	}
}

// TestFirewallStepChecksWhatIsLoaded: the table existing is not enough; the step is done
// only while the loaded copy is the installed file (a re-rendered ruleset reloads).
func TestFirewallStepChecksWhatIsLoaded(t *testing.T) {
	t.Parallel()
	h := testHost()
	h.Firewall = &firewall.SSH{Any: true}
	tr, info := compose(t, h)
	require.NoError(t, tr.Problems.Err())
	i := slices.IndexFunc(info.Steps, func(s Step) bool { return s.ID == "firewall" })
	require.GreaterOrEqual(t, i, 0)
	st := info.Steps[i]
	assert.Contains(t, st.Check, Cmd{Args: []string{"cmp", "-s", "--", "/" + FirewallPath, FirewallLoaded}})
	load := slices.IndexFunc(st.Run, func(c Cmd) bool { return slices.Equal(c.Args, []string{"nft", "-f", "/" + FirewallPath}) })
	require.GreaterOrEqual(t, load, 0)
	assert.Equal(t, []string{"install", "-D", "-m", "0644", "--", "/" + FirewallPath, FirewallLoaded}, st.Run[load+1].Args, "the copy is kept right after loading")
	for _, c := range st.Run {
		assert.NotEqual(t, "sed", c.Args[0], "reloading must not append the include again")
	}
	j := slices.IndexFunc(info.Steps, func(s Step) bool { return s.ID == "firewall-boot" })
	require.Equal(t, i+1, j, "the boot include is a step of its own, right after")
	assert.Equal(t, []string{"grep", "-qxF", "--", `include "/` + FirewallPath + `"`, "/etc/nftables.conf"}, info.Steps[j].Check[0].Args)
}

// TestProbeCommandsUseTheCanonicalFamily: NEXT-STEPS.md and INSTALL-STEPS.json print
// --family in the CLI conventions' one spelling (ipv6-only|dual-stack), not the
// accepted aliases v6only and dual.
func TestProbeCommandsUseTheCanonicalFamily(t *testing.T) {
	t.Parallel()
	for fam, want := range map[Family]string{IPv6Only: "ipv6-only", DualStack: "dual-stack"} {
		h := testHost()
		h.Family = fam
		if fam == DualStack {
			h.NAT64 = netip.Prefix{}
		}
		tr, info := compose(t, h)
		outside, local := h.ProbeCommands(info)
		for _, argv := range [][]string{outside, local} {
			i := slices.Index(argv, "--family")
			require.GreaterOrEqual(t, i, 0, argv)
			assert.Equal(t, want, argv[i+1], argv)
		}
		md := string(mustFile(t, tr, "NEXT-STEPS.md"))
		assert.Contains(t, md, "--family "+want)
		for _, p := range []string{"NEXT-STEPS.md", "INSTALL-STEPS.json"} {
			assert.NotRegexp(t, `--family"?,?\s*"?(v6only|dual)\b([^-]|$)`, string(mustFile(t, tr, p)), p)
		}
	}
}
