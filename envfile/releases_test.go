package envfile

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// nodePair is a pair whose Node side is version v (the gem side does not matter).
func nodePair(t testing.TB, v string) mastodon.DotenvPair {
	t.Helper()
	ver, err := mastodon.ParseVersion(v)
	require.NoError(t, err)
	return mastodon.DotenvPair{Gem: baseline.Gem, Node: ver}
}

// corpusFiles returns the texts the real readers are run on: every corpus line alone,
// the corpora as whole files, and every golden file's input and output.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, l := range append(slices.Clone(readerCorpus), releaseCorpus...) {
		out = append(out, l+"\n")
	}
	out = append(out, strings.Join(readerCorpus, "\n")+"\n", strings.Join(releaseCorpus, "\n")+"\n")
	for _, g := range loadGoldens(t) {
		for _, name := range []string{"existing", "want.env"} {
			if b, ok := g.archive.Section(name); ok && len(b) > 0 && !strings.HasPrefix(string(b), "(not writable") {
				out = append(out, string(b))
			}
		}
	}
	return out
}

// TestNodeModelsMatchPinned runs every corpus and golden file through every Node dotenv
// version a Mastodon release pins (installed from npm, each pinned by its lockfile) and
// requires envfile's model of that version to read the same variables.
func TestNodeModelsMatchPinned(t *testing.T) {
	t.Parallel()
	versions := testenv.NodeDotenvVersions(t)
	for _, p := range testPairs() {
		require.Contains(t, versions, p.Node.String(), "Node dotenv %s (pinned by a release) has no lockfile in internal/testenv/nodedotenv", p.Node)
	}
	node := testenv.StartDotenvNode(t, versions...)
	files := corpusFiles(t)
	for _, src := range files {
		real, err := node.Parse(src)
		require.NoError(t, err)
		for i, v := range versions {
			assert.Equal(t, real[i], readNode(nodePair(t, v), src).values(), "Node dotenv %s reads %q", v, src)
		}
	}
	t.Logf("%d files × %d Node dotenv versions", len(files), len(versions))
}

// TestCleanLinesReadAlike: for every release line, every line Validate passes as clean is
// read as envfile reads it by the release's real Node dotenv and by its gem's model; and
// every line the real Node reader and the gem model disagree on is reported.
func TestCleanLinesReadAlike(t *testing.T) {
	t.Parallel()
	var versions []string
	for _, p := range testPairs() {
		if !slices.Contains(versions, p.Node.String()) {
			versions = append(versions, p.Node.String())
		}
	}
	node := testenv.StartDotenvNode(t, versions...)
	clean := 0
	for _, src := range corpusFiles(t) {
		f, err := Parse([]byte(src))
		if err != nil {
			continue
		}
		real, err := node.Parse(src)
		require.NoError(t, err)
		for _, line := range mastodon.Lines() {
			rel := mastodon.MustLookup(line)
			var ps report.Problems
			f.checkLines(&ps, rel)
			flagged := map[int]bool{}
			for _, p := range ps.Errors() {
				flagged[lineNum(p.Path)] = true
			}
			for _, pair := range rel.DotenvPairs() {
				nv := real[slices.Index(versions, pair.Node.String())]
				rv := readGem(pair, src).values()
				for _, l := range f.Lines {
					if l.Kind != Entry || flagged[l.Num] || f.index(l.Key) != l.Num-1 {
						continue
					}
					clean++
					assert.Equal(t, l.Value, nv[l.Key], "Mastodon %s (%s): %q passes as clean, but streaming reads it otherwise", rel, pair, l.Raw)
					assert.Equal(t, l.Value, rv[l.Key], "Mastodon %s (%s): %q passes as clean, but Rails reads it otherwise", rel, pair, l.Raw)
				}
			}
		}
	}
	t.Logf("%d clean (line, release, pair) readings checked", clean)
}

// lineNum returns NUM from a problem path ".env.production:NUM KEY", or 0.
func lineNum(path string) int {
	_, rest, ok := strings.Cut(path, ":")
	if !ok {
		return 0
	}
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestGemFacts pins what each gem version Mastodon pins reads from the lines that tell
// them apart, measured with each gem from its source tag on Debian's Ruby 3.1, loading
// the file as Rails does (Dotenv::Environment). Debian packages only 2.4.0, which the
// oracle tests run for real; these are the facts the models must hold to.
func TestGemFacts(t *testing.T) {
	t.Parallel()
	const fails = "\x00FormatError"
	const runs = "\x00runs"
	gems := []string{"2.2.1", "2.5.0", "2.7.2", "2.7.6", "2.8.1", "3.1.4", "3.1.8", "3.2.0"}
	for _, tc := range []struct {
		src  string
		key  string
		want []string // per gem version, in the order of gems
	}{
		{"SMTP_PASSWORD=abc#123\n", "SMTP_PASSWORD", []string{"abc", "abc", "abc", "abc", "abc", "abc", "abc", "abc"}},
		{"K=abc\\def\n", "K", []string{`abc\def`, `abc\def`, `abc\def`, `abc\def`, "abcdef", "abcdef", "abcdef", "abcdef"}},
		{"K=\"a\\nb\"\n", "K", []string{"a\nb", "a\nb", "a\nb", "a\nb", "a\nb", `a\nb`, `a\nb`, `a\nb`}},
		{"K='a' # 'x'\n", "K", []string{"a' # 'x", "a", "a", "a", "a", "a", "a", "a"}},
		{"K= 'a#b'\n", "K", []string{"a#b", "'a", "'a", "a#b", "a#b", "a#b", "a#b", "a#b"}},
		{"K=p$\u017fword\n", "K", []string{"p", "p", "p", "p", "p", "p", "p", "p"}},
		{"K=p$\u212a\n", "K", []string{"p", "p", "p", "p", "p", "p", "p", "p"}},
		{"export K=\n", "K", []string{"", "", "", "", "", "", fails, fails}},
		{"export K=''\n", "K", []string{"", "", "", "", "", "", "", ""}},
		{"not a line\n", "", []string{fails, "", "", "", "", "", "", ""}},
		{"A='\\'\nB=$A$(echo pwned)\n", "B", []string{"$(echo pwned)", "$(echo pwned)", "$(echo pwned)", "$(echo pwned)", "$(echo pwned)", "$(echo pwned)", "$(echo pwned)", runs}},
		{"A='$(echo pwned)'\nB=$A\n", "B", []string{runs, runs, runs, runs, runs, runs, runs, "$(echo pwned)"}},
		{"K=\"a\" # \"$(echo pwned)\"\n", "K", []string{runs, "a", "a", "a", "a", "a", "a", "a"}},
		{"K=\"first\nsecond\"\n", "K", []string{fails, "first\nsecond", "first\nsecond", "first\nsecond", "first\nsecond", "first\nsecond", "first\nsecond", "first\nsecond"}},
	} {
		for i, g := range gems {
			gv, err := mastodon.ParseVersion(g)
			require.NoError(t, err)
			r := readGem(mastodon.DotenvPair{Gem: gv, Node: baseline.Node}, tc.src)
			got := r.values()[tc.key]
			if len(r.fatal) > 0 {
				got = fails
			}
			for _, a := range r.sets {
				if a.key == tc.key && a.command {
					got = runs
				}
			}
			if tc.key == "" && len(r.fatal) == 0 {
				got = ""
			}
			assert.Equal(t, tc.want[i], got, "Ruby dotenv %s reads %s from %q", g, tc.key, tc.src)
		}
	}
}

// TestReleaseVerdicts pins what Validate says per release about the lines whose reading
// changes between releases.
func TestReleaseVerdicts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src      string
		release  string
		sentinel error  // nil: clean
		says     string // part of the message
	}{
		{"SMTP_PASSWORD=abc#123\n", "1.6", ErrReadersDisagree, "has no inline comments"},
		{"SMTP_PASSWORD=abc#123\n", "2.9", ErrReadersDisagree, "has no inline comments"},
		{"SMTP_PASSWORD=abc#123\n", "3.5", nil, ""},
		{"export DB_PASS=secret\n", "1.6", ErrReadersDisagree, "ignores every line starting with export"},
		{"export DB_PASS=secret\n", "4.7", nil, ""},
		{"KEY: value\n", "2.9", ErrReadersDisagree, "ignores KEY: value lines"},
		{"KEY: value\n", "4.0", nil, ""},
		{"KEY='x'   \n", "2.9", ErrReadersDisagree, "keeps the quotes"},
		{"DB_PASS=\" spaced \"\n", "1.6", ErrReadersDisagree, "trims blanks"},
		{"DB_PASS=\" spaced \"\n", "2.9", nil, ""},
		{"SMTP_PASSWORD=abc\\def\n", "3.5.3", nil, ""},
		{"SMTP_PASSWORD=abc\\def\n", "3.5", ErrReadersDisagree, "may run Ruby dotenv 2.8.1"}, // 3.5.4+ not read: conservative,
		{"SMTP_PASSWORD=abc\\def\n", "4.0", ErrReadersDisagree, "removes backslashes from unquoted values"},
		{"KEY=\"a\\nb\"\n", "4.3", ErrReadersDisagree, "keeps \\n in double quotes"},
		{"KEY=p$\u017fword\n", "4.7", ErrReadersDisagree, "ſ and K"},
		{"export KEY=\n", "4.3", nil, ""},
		{"export KEY=\n", "4.4", ErrRailsFails, "unset variable"},
		{"A='\\'\nB=$A$(echo pwned)\n", "4.5", ErrCommandSubstitution, "$( before or after $VAR expansion"},
		{"A='\\'\nB=$A$(echo pwned)\n", "4.6", ErrCommandSubstitution, "3.2.0 runs the $(…)"},
		{"A='$(echo pwned)'\nB=$A\n", "4.5", ErrCommandSubstitution, "3.1.8 runs the $(…)"},
		{"A='$(echo pwned)'\nB=$A\n", "4.6", ErrCommandSubstitution, "$( before or after"},
		{"KEY='a' # 'x'\n", "1.6", ErrReadersDisagree, `both read "a' # 'x"`},
		{"KEY='a' # 'x'\n", "3.5", nil, ""},
		{"KEY= 'a#b'\n", "2.9.0", ErrReadersDisagree, "quote after blanks"},
		{"KEY= 'a#b'\n", "3.5", nil, ""},
		{"not a line\n", "1.6", nil, ""}, // Parse refuses it (ErrSyntax) before Validate
		{"KEY=`tick`\n", "2.9", nil, ""},
		{"KEY=`tick`\n", "3.5", ErrReadersDisagree, "backticks"},
	} {
		t.Run(tc.release+" "+tc.src, func(t *testing.T) {
			t.Parallel()
			f, err := Parse([]byte(tc.src))
			if err != nil {
				require.Nil(t, tc.sentinel, "Parse: %v", err)
				return
			}
			var ps report.Problems
			f.checkLines(&ps, mastodon.MustLookup(tc.release))
			if tc.sentinel == nil {
				assert.Empty(t, ps.Errors(), "want clean")
				return
			}
			var hit *report.Problem
			for i, p := range ps {
				if errors.Is(p, tc.sentinel) {
					hit = &ps[i]
				}
			}
			require.NotNil(t, hit, "want %v, got %s", tc.sentinel, ps)
			assert.Contains(t, hit.Message, tc.says)
			if errors.Is(hit, ErrCommandSubstitution) {
				assert.NotContains(t, hit.Message, "Rails reads", "a command line's reading is never shown")
			}
		})
	}
}

// TestWriteForRelease: rewriting drops export, never writes `export KEY=`, refuses blank
// ends for 1.6 with the reason, and what is written reads back byte for byte with every
// pinned Node dotenv of the release.
func TestWriteForRelease(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte("export V6_VALUE=old\nexport V6_EMPTY=x\n"))
	require.NoError(t, err)
	f.Set("V6_VALUE", "abc")
	f.Set("V6_EMPTY", "")
	b, err := f.Bytes()
	require.NoError(t, err)
	assert.Equal(t, "V6_VALUE=abc\nV6_EMPTY=\n", string(b))

	old := &File{Release: mastodon.MustLookup("1.6")}
	for _, v := range []string{" spaced ", "x\t", "\u00a0x", "x\u3000", "\ufeffx"} {
		old.Set("DB_PASS", v)
		_, err := old.Bytes()
		require.ErrorIs(t, err, ErrUnwritable, "%q", v)
		assert.Contains(t, err.Error(), "Node dotenv 4.0.0")
	}
	_, ps := New(Config{LocalDomain: "example.com", DB: DB{Password: " spaced "}}, Options{Release: mastodon.MustLookup("1.6")})
	assert.True(t, slices.ContainsFunc(ps.Errors(), func(p report.Problem) bool { return errors.Is(p, ErrUnwritable) && p.Path == "DB_PASS" }), "New reports it: %s", ps)

	var versions []string
	for _, p := range testPairs() {
		if !slices.Contains(versions, p.Node.String()) {
			versions = append(versions, p.Node.String())
		}
	}
	node := testenv.StartDotenvNode(t, versions...)
	values := []string{"plain", "pa$$word", "it's", "a b", "#", "`x`", `\`, `"q"`, " lead", "trail ", "ü", "\t", "'", "$(id)", "${X}", "a'b#c", "\u00a0x\u00a0", "\ufeff", "abc#123", "'x'", `"`, "x'", `C:\path`, "a=b", "::1", "[::1]:6379"}
	for _, line := range mastodon.Lines() {
		rel := mastodon.MustLookup(line)
		w := &File{Release: rel}
		var want []string
		for i, v := range values {
			key := "V" + string(rune('A'+i))
			w.Set(key, v)
			if _, err := w.Bytes(); err != nil {
				require.ErrorIs(t, err, ErrUnwritable, "%s: %q", rel, v)
				w.Delete(key)
				continue
			}
			want = append(want, key)
		}
		b, err := w.Bytes()
		require.NoError(t, err)
		real, err := node.Parse(string(b))
		require.NoError(t, err)
		for _, p := range rel.DotenvPairs() {
			nv := real[slices.Index(versions, p.Node.String())]
			rv := readGem(p, string(b)).values()
			for _, k := range want {
				v, _ := w.Get(k)
				assert.Equal(t, v, nv[k], "Mastodon %s: Node dotenv %s reads back %s", rel, p.Node, k)
				assert.Equal(t, v, rv[k], "Mastodon %s: Ruby dotenv %s reads back %s", rel, p.Gem, k)
			}
		}
		var ps report.Problems
		w.checkLines(&ps, rel)
		assert.Empty(t, ps.Errors(), "Mastodon %s: what Write wrote validates clean", rel)
	}
}
