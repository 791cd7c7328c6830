package envfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/v6kit/v6kit/mastodon"
)

// FuzzParse: Parse never panics; whatever it accepts, Write renders, and
// Parse(Write(x)) == x with Write(Parse(Write(x))) == Write(x) byte for byte.
func FuzzParse(f *testing.F) {
	for _, line := range readerCorpus {
		f.Add([]byte(line + "\n"))
	}
	names, _ := filepath.Glob("testdata/*.txtar")
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("A='x\nB=\"y\\\"\"\r\nexport C: d # e\n\xef\xbb\xbf"))
	f.Fuzz(func(t *testing.T, src []byte) {
		x, err := Parse(src)
		if err != nil {
			return
		}
		out, err := x.Bytes()
		if err != nil {
			t.Fatalf("a parsed file must render: %v\n%q", err, src)
		}
		y, err := Parse(out)
		if err != nil {
			t.Fatalf("Write's output does not parse: %v\n%q", err, out)
		}
		if len(x.Lines) != len(y.Lines) {
			t.Fatalf("line count %d → %d\n%q\n%q", len(x.Lines), len(y.Lines), src, out)
		}
		for i := range x.Lines {
			a, b := x.Lines[i], y.Lines[i]
			if a.Kind != b.Kind || a.Text != b.Text || a.Key != b.Key || a.Value != b.Value || a.Export != b.Export {
				t.Fatalf("line %d: %+v → %+v", i+1, a, b)
			}
		}
		again, err := y.Bytes()
		if err != nil || string(again) != string(out) {
			t.Fatalf("second write differs: %v\n%q\n%q", err, out, again)
		}
		_ = x.Validate(Options{}) // never panics
	})
}

// FuzzFormatValue: every value FormatValue accepts is read back unchanged by envfile,
// by the Ruby dotenv emulation (Rails, no substitution or command) and by the Node dotenv
// emulation (streaming); a file holding it round-trips.
func FuzzFormatValue(f *testing.F) {
	for _, v := range []string{"", "plain", "pa$$word", "it's", "a b", "#", "`x`", `\`, `"q"`, " lead", "trail ", "ü", "\t", "'", "$(id)", "${X}", "a'b#c", "\u00a0x\u00a0", "\ufeff"} {
		f.Add(v)
	}
	pairs := testPairs()
	f.Fuzz(func(t *testing.T, v string) {
		form, err := FormatValue(v)
		if err != nil {
			if !strings.Contains(err.Error(), "Rails") && !strings.Contains(err.Error(), ".env") && !strings.Contains(err.Error(), "UTF-8") {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		line := "KEY=" + form
		l, perr := parseLine(line)
		if perr != nil || l.Value != v {
			t.Fatalf("envfile reads %q from %q, want %q (%v)", l.Value, line, v, perr)
		}
		for _, p := range pairs {
			r, n, rok, nok := readOne(p, line)
			if !rok || r.subst || r.command || r.dollar || r.value != v {
				t.Fatalf("Rails (%s) reads %+v from %q, want %q", p, r, line, v)
			}
			blankEnds := strings.TrimFunc(v, isJSSpace) != v
			if !nok || n.value != v && !(p.NodeTrimsQuoted() && blankEnds) {
				t.Fatalf("streaming (%s) reads %+v from %q, want %q", p, n, line, v)
			}
		}
		var file File
		file.Set("KEY", v)
		b, err := file.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		old := File{Release: mastodon.MustLookup("1.6")}
		old.Set("KEY", v)
		if _, err := old.Bytes(); (err != nil) != (strings.TrimFunc(v, isJSSpace) != v) {
			t.Fatalf("for 1.6, %q: %v (a value with blank ends, and only such, is refused)", v, err)
		}
		g, err := Parse(b)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if got, _ := g.Get("KEY"); got != v {
			t.Fatalf("round trip %q → %q", v, got)
		}
	})
}
