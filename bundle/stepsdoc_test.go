package bundle

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRenderSteps: a document of clean steps renders so that every line of its sh
// blocks reads back (shellWords, the reader of ShellQuote's quoting) as the argv of the
// steps and the manual commands, in order; nothing a value holds adds a line or opens
// or closes a block.
func FuzzRenderSteps(f *testing.F) {
	for _, s := range [][4]string{{"o'neil$HOME`id`@example.org", "/srv/m", "a b", "```"}, {"#c", "-", "x\ny", "```sh"}, {"", "'", "\\", "## 9. x"}} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, a, b, title, comment string) {
		cmds := []Cmd{{Args: []string{"echo", a, b}}, {Args: []string{b}, User: "mastodon", Dir: "/srv/live", Env: []string{"K=" + a}}}
		st := []Step{{ID: "x", Section: "S", Title: "t", Check: cmds[:1], Run: cmds, Fix: "f"}}
		if CheckSteps(st).HasErrors() {
			return // v6-install and AddSteps refuse it
		}
		if strings.ContainsAny(title+comment, "\n\r") {
			return // titles and comments are v6kit's own text, one line each
		}
		st[0].Title = title
		d := StepsDoc{Title: "T", Steps: st, After: []ManualSection{{Heading: "H", Commands: []ManualCommand{{Argv: []string{"v6-probe", a}}}}}}
		var code []string
		in := false
		for _, l := range strings.Split(string(RenderSteps(d)), "\n") {
			switch {
			case l == "```sh":
				in = true
			case l == "```":
				in = false
			case in:
				code = append(code, l)
			}
		}
		want := [][]string{cmds[0].Line(), cmds[1].Line(), {"v6-probe", a}}
		if len(code) != len(want) {
			t.Fatalf("%d command lines, want %d:\n%s", len(code), len(want), RenderSteps(d))
		}
		for i, l := range code {
			got, ok := shellWords(l)
			if !ok || !slicesEqual(got, want[i]) {
				t.Fatalf("%q reads back as %q, want %q", l, got, want[i])
			}
		}
	})
}

// FuzzCheckArg: a value CheckArg accepts is one clean argument (cleanArg) of its kind,
// and every refusal wraps ErrCommandValue.
func FuzzCheckArg(f *testing.F) {
	for _, s := range []string{"/srv/mastodon", "https://acme.test/dir", "admin@example.org", "mastodon", "a.b-c_d", "social.example.org", "/srv/a b", "x\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for k := ArgPath; k <= ArgConfigPath; k++ {
			err := CheckArg(k, v)
			if err != nil {
				if !errors.Is(err, ErrCommandValue) {
					t.Fatalf("kind %d %q: %v does not wrap ErrCommandValue", k, v, err)
				}
				continue
			}
			if why := cleanArg(v); why != "" {
				t.Fatalf("kind %d accepts %q, which %s", k, v, why)
			}
			if k == ArgConfigPath && strings.ContainsAny(v, " ;'\"$`#{}\\") {
				t.Fatalf("ArgConfigPath accepts %q", v)
			}
		}
	})
}
