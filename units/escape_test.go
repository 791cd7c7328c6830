package units

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
)

var hostile = []string{
	"a b", `"quoted"`, "it's", "100%", "%n", "%%", "$HOME", "${HOME}", "$$", `back\slash`, `trailing\`,
	`\n`, "semi;colon", "ünïcödé", "#hash", " leading space", "=eq", `mixed "q" 'q' $x %i \t`, "",
}

// unquoteWords splits a unit value into words the way systemd does for Environment= and
// command lines (double and single quotes, backslash escapes), undoing %% — the test's
// independent model of systemd's reader.
func unquoteWords(t *testing.T, s string) []string {
	t.Helper()
	// Specifiers are resolved first, over the whole value.
	var spec strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			require.Less(t, i+1, len(s), "dangling %% in %q", s)
			require.Equal(t, byte('%'), s[i+1], "unexpanded specifier in %q", s)
			i++
		}
		spec.WriteByte(s[i])
	}
	s = spec.String()
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' && !inWord:
			continue
		case c == ' ':
			out = append(out, cur.String())
			cur.Reset()
			inWord = false
		case c == '"' || c == '\'':
			inWord = true
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && c == '"' {
					j++
				}
				cur.WriteByte(s[j])
			}
			require.Less(t, j, len(s), "unterminated quote in %q", s)
			i = j
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func TestQuoteRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range hostile {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			t.Parallel()
			w, err := envAssignment("env", "X", v)
			require.NoError(t, err)
			assert.Equal(t, []string{"X=" + v}, unquoteWords(t, w))
			opts, err := unit.DeserializeOptions(bytes.NewReader([]byte("[Service]\nEnvironment=" + w + "\n")))
			require.NoError(t, err)
			require.Len(t, opts, 1, "one option, no injected line")
			assert.Equal(t, w, opts[0].Value)
		})
	}
}

func TestQuoteRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"a\nExecStartPre=/bin/false", "cr\r", "tab\there", "nul\x00", "del\x7f", "\xff\xfe"} {
		_, err := envAssignment("env[0].value", "X", v)
		require.ErrorIs(t, err, ErrValue, "%q", v)
		assert.Contains(t, err.Error(), "env[0].value")
		_, at, err := execLine("cert_renew.args", "/bin/true", "ok", v)
		require.ErrorIs(t, err, ErrValue, "%q", v)
		assert.Equal(t, "cert_renew.args[1]", at)
	}
	_, _, err := execLine("cert_renew.args", "/bin/true", ";")
	require.ErrorIs(t, err, ErrValue)
	_, err = envAssignment("env", "X", strings.Repeat("x", maxValue+1))
	require.ErrorIs(t, err, ErrValue)
}

// TestEscapingWithSystemd renders hostile values into Environment=, a command line and
// paths, and asks systemd itself (systemd --test) what it parsed.
func TestEscapingWithSystemd(t *testing.T) {
	t.Parallel()
	var env []Var
	for i, v := range hostile {
		env = append(env, Var{Name: fmt.Sprintf("HOSTILE_%d", i), Value: v})
	}
	d := Deployment{
		Release: mastodon.MustLookup("4.7"),
		Env:     env,
		// A user with a trailing '$' (valid for systemd's User=) and paths with '$' and
		// '%' where systemd expands no variables: WorkingDirectory=, ReadWritePaths=.
		User:           "mast$",
		Paths:          Paths{App: "/srv/mast%don/$live/${HOME}", Bundle: "/usr/local/bin/bundle"},
		ReadWritePaths: []string{"/srv/100%media", "/srv/$media/${HOME}"},
		CertRenew:      &CertRenew{Args: hostile, NoReload: true},
	}
	plan, err := d.Render()
	require.NoError(t, err)
	dir := testenv.TempDir(t)
	_, err = plan.WriteDir(dir)
	require.NoError(t, err)

	web := testenv.SystemdTest(t, dir, WebUnit)
	for _, v := range env {
		assert.Contains(t, web.Environment, v.Name+"="+v.Value)
	}
	assert.Contains(t, web.Dump, "\tUser: mast$\n")
	assert.Contains(t, web.Dump, "\tWorkingDirectory: /srv/mast%don/$live/${HOME}\n")
	assert.Contains(t, web.Dump, "\tReadWritePaths: /srv/mast%don/$live/${HOME} /srv/100%media /srv/$media/${HOME}\n")
	require.Len(t, web.CommandLines, 2, web.Dump)
	assert.Equal(t, []string{"/usr/local/bin/bundle", "exec", "puma", "-C", "config/puma.rb"}, dumpWords(t, web.CommandLines[0]))
	assert.Equal(t, []string{"/bin/kill", "-SIGUSR1", "$MAINPID"}, dumpWords(t, web.CommandLines[1], "$MAINPID"))

	renew := testenv.SystemdTest(t, dir, CertRenewUnit)
	require.Len(t, renew.CommandLines, 1, renew.Dump)
	got := dumpWords(t, renew.CommandLines[0])
	want := append([]string{"/usr/local/bin/v6-certs", "renew"}, hostile...)
	assert.Equal(t, want, got)

	// The template keeps its specifier: PORT=%i is expanded per instance.
	inst := testenv.SystemdTest(t, dir, "mastodon-streaming@4000.service")
	assert.Contains(t, inst.Environment, "PORT=4000")
}

// dumpWords decodes a "Command Line:" of systemd's dump (words quoted with "…" and
// backslash escapes) and applies what systemd does to argv when it runs the command
// (replace_env_argv): "$$" becomes "$"; a word "$NAME" and any "${NAME}" would expand.
// Any such expansion fails the test, except the words listed in expand (ExecReload's
// $MAINPID, meant to expand). The first word is also the path systemd runs, which it
// never expands: it must hold no '$' at all, or argv[0] and the program would differ.
func dumpWords(t *testing.T, s string, expand ...string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
			require.Less(t, i, len(s))
			cur.WriteByte(s[i])
			in = true
		case c == '"':
			quoted = !quoted
			in = true
		case c == ' ' && !quoted:
			if in {
				out = append(out, cur.String())
			}
			cur.Reset()
			in = false
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	require.NotEmpty(t, out, "empty command line")
	assert.NotContains(t, out[0], "$", "systemd expands $ in argv[0] but not in the path it runs: %q", s)
	for i, w := range out {
		if slices.Contains(expand, w) {
			continue
		}
		out[i] = replaceEnvLiteral(t, w)
	}
	return out
}

// replaceEnvLiteral is systemd's replace_env for one argv word, failing the test where
// it would substitute a variable: a whole word "$NAME" (split into words) and "${…}".
func replaceEnvLiteral(t *testing.T, w string) string {
	t.Helper()
	if len(w) > 1 && w[0] == '$' && w[1] != '$' && w[1] != '{' {
		t.Errorf("systemd expands the word %q as a variable", w)
		return w
	}
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] == '$' && i+1 < len(w) {
			switch w[i+1] {
			case '$':
				i++
			case '{':
				t.Errorf("systemd expands ${…} in %q", w)
			}
		}
		b.WriteByte(w[i])
	}
	return b.String()
}

func FuzzQuote(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		w, err := envAssignment("env", "X", v)
		if err != nil {
			return
		}
		opts, err := unit.DeserializeOptions(bytes.NewReader([]byte("[Service]\nEnvironment=" + w + "\n")))
		if err != nil {
			t.Fatalf("%q: %v", w, err)
		}
		if len(opts) != 1 || opts[0].Value != w {
			t.Fatalf("%q re-parsed as %v", w, opts)
		}
		if got := unquoteWords(t, w); len(got) != 1 || got[0] != "X="+v {
			t.Fatalf("%q unquoted to %q", w, got)
		}
	})
}

func TestWriteDirUnwritable(t *testing.T) {
	t.Parallel()
	plan, err := Deployment{}.Render()
	require.NoError(t, err)
	_, err = plan.WriteDir(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	_, err = plan.WriteDir(f)
	require.Error(t, err)
}

// TestExecPathsKeepPercent renders executables whose paths hold '%' (bundle under the
// home, kill, v6-certs) and asks systemd what it parsed: the command must name the path
// as given, not one with a specifier expanded.
func TestExecPathsKeepPercent(t *testing.T) {
	t.Parallel()
	d := Deployment{
		Release:   mastodon.MustLookup("4.7"),
		Paths:     Paths{Home: "/srv/m%ix", Kill: "/opt/k%nill/kill", Certs: "/opt/c%i/v6-certs"},
		CertRenew: &CertRenew{},
		Exporter:  &Exporter{},
	}
	plan, err := d.Render()
	require.NoError(t, err)
	dir := testenv.TempDir(t)
	_, err = plan.WriteDir(dir)
	require.NoError(t, err)

	exporter := testenv.SystemdTest(t, dir, ExporterUnit)
	require.Len(t, exporter.CommandLines, 2, exporter.Dump)
	assert.Equal(t, "/srv/m%ix/.rbenv/shims/bundle", dumpWords(t, exporter.CommandLines[0])[0])
	assert.Equal(t, "/opt/k%nill/kill", dumpWords(t, exporter.CommandLines[1], "$MAINPID")[0])

	web := testenv.SystemdTest(t, dir, WebUnit)
	require.Len(t, web.CommandLines, 2, web.Dump)
	assert.Equal(t, []string{"/srv/m%ix/.rbenv/shims/bundle", "exec", "puma", "-C", "config/puma.rb"}, dumpWords(t, web.CommandLines[0]))
	assert.Equal(t, "/opt/k%nill/kill", dumpWords(t, web.CommandLines[1], "$MAINPID")[0])

	renew := testenv.SystemdTest(t, dir, CertRenewUnit)
	require.Len(t, renew.CommandLines, 1, renew.Dump)
	assert.Equal(t, []string{"/opt/c%i/v6-certs", "renew", "--reload-nginx"}, dumpWords(t, renew.CommandLines[0]))
}

// FuzzExecArg: any argument execLine accepts reaches the program unchanged, through
// systemd's unquoting, specifier resolution and exec-time variable substitution.
func FuzzExecArg(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		line, _, err := execLine("args", "/bin/true", v)
		if err != nil {
			return
		}
		words := unquoteWords(t, line)
		if len(words) != 2 || words[0] != "/bin/true" {
			t.Fatalf("%q split into %q", line, words)
		}
		if got := replaceEnvLiteral(t, words[1]); got != v {
			t.Fatalf("%q reaches the program as %q, not %q", line, got, v)
		}
	})
}
