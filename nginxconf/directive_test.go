package nginxconf

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"plain":                 "plain",
		"$host":                 "$host",
		"":                      `""`,
		"a b":                   `"a b"`,
		"max-age=63072000; inc": `"max-age=63072000; inc"`,
		`say "hi"`:              `"say \"hi\""`,
		`back\slash`:            `"back\\slash"`,
		"line\nbreak":           `"line\nbreak"`,
		"{":                     `"{"`,
		"}":                     `"}"`,
		"#comment":              `"#comment"`,
		"it's":                  `"it's"`,
		"tab\there":             `"tab\there"`,
	}
	for in, want := range cases {
		assert.Equal(t, want, Quote(in), "Quote(%q)", in)
	}
}

func TestPrintParseRoundTrip(t *testing.T) {
	t.Parallel()
	tree := []Directive{
		Comment("header"),
		B("map", []string{"$http_upgrade", "$connection_upgrade"}, D("default", "upgrade"), D("", "close")),
		B("events", nil),
		B("server", nil,
			D("listen", "[::]:443", "ssl", "http2"),
			D("add_header", "Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
			D("x", "a;b", "c{d", "e}f", `g"h`, `i\j`, "k\nl", "m'n", "#o", ""),
			B("location", []string{"~", "^/(a|b)"}, D("try_files", "$uri", "@proxy")),
		),
	}
	var buf bytes.Buffer
	require.NoError(t, Print(&buf, tree))
	got, err := Parse(buf.Bytes())
	require.NoError(t, err, buf.String())
	assert.Equal(t, tree, got)
	assert.Contains(t, buf.String(), "events {}\n")
	assert.Contains(t, buf.String(), "  \"\" close;\n")
}

func TestPrintRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	for _, d := range []Directive{
		D("root", "/a\x00b"),
		D("root", "/a\x1bb"),
		D("x\x7f"),
		Comment("two\nlines"),
	} {
		var buf bytes.Buffer
		err := Print(&buf, []Directive{B("server", nil, d)})
		assert.ErrorIs(t, err, ErrPrint, "%q", d)
		assert.Zero(t, buf.Len(), "nothing written for %q", d)
	}
}

// TestParseFollowsNginx pins the tokenizer to nginx's own rules (ngx_conf_read_token).
func TestParseFollowsNginx(t *testing.T) {
	t.Parallel()
	ok := map[string][]Directive{
		// "}" and "#" inside a word are part of it; ";" ends it.
		"a b}c d#e;": {D("a", "b}c", "d#e")},
		// "${" is a variable inside a word, not a block.
		"set $x ${y}z;": {D("set", "$x", "${y}z")},
		// A quoted word may touch ";".
		`a "b c";`:       {D("a", "b c")},
		`a 'b\'c';`:      {D("a", "b'c")},
		"a b{}":          {B("a", []string{"b"})},
		"# c\na;\n# d  ": {Comment("c"), D("a"), Comment("d")},
		`a \;b;`:         {D("a", `\;b`)}, // the backslash protects ";" and stays
		"":               {},
	}
	for src, want := range ok {
		got, err := Parse([]byte(src))
		require.NoError(t, err, src)
		assert.Equal(t, want, got, src)
	}
	for _, src := range []string{"a", "a {", "}", ";", "{", `a "b"c;`, `a "unterminated;`, "a { b; } }", "a b }"} {
		_, err := Parse([]byte(src))
		assert.ErrorIs(t, err, ErrParse, src)
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Version{
		"1.22":                         {1, 22, 0},
		"1.22.1":                       {1, 22, 1},
		"nginx/1.26.3":                 {1, 26, 3},
		"nginx version: nginx/1.22.1":  {1, 22, 1},
		"nginx version: nginx/1.25.1 ": {1, 25, 1},
		"1.31.2":                       {1, 31, 2},
	} {
		got, err := ParseVersion(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "1", "1.21.6", "1.18", "2.0", "1.32", "banana", "1.22.x", "1.022", "1.-22", "1.22.1.1"} {
		_, err := ParseVersion(bad)
		assert.ErrorIs(t, err, ErrNginxVersion, bad)
	}
	v, _ := ParseVersion("1.25.0")
	assert.False(t, v.HasHTTP2Directive())
	v, _ = ParseVersion("1.25.1")
	assert.True(t, v.HasHTTP2Directive())
	assert.Equal(t, "1.25.1", v.String())
}

func FuzzPrintArgument(f *testing.F) {
	for _, s := range []string{"", "a", "a b", `"`, `\`, "x;y", "{", "}", "#", "$host", "a\nb", "\\n", "${x}", "'", "\x00", "é"} {
		f.Add("name", s)
	}
	f.Fuzz(func(t *testing.T, name, arg string) {
		if name == "#" {
			return // the comment marker
		}
		tree := []Directive{B("server", nil, D(name, arg, "tail"))}
		var buf bytes.Buffer
		if err := Print(&buf, tree); err != nil {
			require.ErrorIs(t, err, ErrPrint)
			_, n := badArgByte(name)
			_, a := badArgByte(arg)
			require.True(t, n || a, "refused without a control character: %v", err)
			return
		}
		got, err := Parse(buf.Bytes())
		require.NoError(t, err, "printed text must parse:\n%s", buf.String())
		require.Equal(t, tree, got, "one directive, the same words:\n%s", buf.String())
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a b;", "server { listen [::]:80; }", `a "b\"c" 'd';`, "# x\n", "a b}c;", "set $a ${b};", "a {", "}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ds, err := Parse(src)
		if err != nil {
			require.ErrorIs(t, err, ErrParse)
			return
		}
		var buf bytes.Buffer
		if err := Print(&buf, ds); err != nil {
			return // control characters or a multi-line comment: refused, never printed
		}
		again, err := Parse(buf.Bytes())
		require.NoError(t, err, buf.String())
		require.Equal(t, ds, again, "Parse(Print(x)) == x")
		// Printing is a fixed point.
		var buf2 bytes.Buffer
		require.NoError(t, Print(&buf2, again))
		require.Equal(t, buf.String(), buf2.String())
		require.False(t, strings.Contains(buf.String(), "\x00"))
	})
}
