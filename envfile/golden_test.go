package envfile

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
)

// seeded is a deterministic random source for golden files.
type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func newSeeded(seed string) seeded {
	var k [32]byte
	copy(k[:], seed)
	return seeded{rand.NewChaCha8(k)}
}

// goldenCase is one testdata/*.txtar: inputs "mastodon" (target release), "config.json"
// (a Config), optional "existing" (a file to merge into), "options.json" (Rotate,
// ConfirmLoss, NAT64); outputs "want.env" (the file written), "want.problems" (sorted
// problems) and "want.diff" (the masked diff from existing).
type goldenCase struct {
	name    string
	archive *golden.Archive
}

// input returns an input section (kept by -update).
func (g goldenCase) input(name string) (string, bool) {
	b, ok := g.archive.Input(name)
	return string(b), ok
}

// want returns an expected output section.
func (g goldenCase) want(name string) string {
	b, _ := g.archive.Section(name)
	return string(b)
}

func loadGoldens(t *testing.T) []goldenCase {
	t.Helper()
	var out []goldenCase
	for _, n := range golden.Files(t, "testdata/*.txtar") {
		out = append(out, goldenCase{name: n, archive: golden.Open(t, n)})
	}
	return out
}

// run executes a golden case and returns its outputs.
func (g goldenCase) run(t *testing.T) (existing, result *File, env string, problems, diff string) {
	t.Helper()
	ver, ok := g.input("mastodon")
	require.True(t, ok, "%s: no mastodon section", g.name)
	rel, err := mastodon.Lookup(strings.TrimSpace(ver))
	require.NoError(t, err)
	var cfg Config
	if s, ok := g.input("config.json"); ok {
		require.NoError(t, json.Unmarshal([]byte(s), &cfg), "%s: config.json", g.name)
	}
	opt := Options{Release: rel, Rand: newSeeded(filepath.Base(g.name))}
	if s, ok := g.input("options.json"); ok {
		require.NoError(t, json.Unmarshal([]byte(s), &opt), "%s: options.json", g.name)
		opt.Release, opt.Rand = rel, newSeeded(filepath.Base(g.name))
	}
	if s, ok := g.input("existing"); ok {
		existing, err = Parse([]byte(s))
		require.NoError(t, err, "%s: existing", g.name)
		result, ps := Merge(existing, cfg, opt)
		return existing, result, render(t, result), ps.Sorted().String(), Diff(existing, result)
	}
	result, ps := New(cfg, opt)
	return nil, result, render(t, result), ps.Sorted().String(), Diff(nil, result)
}

func render(t *testing.T, f *File) string {
	t.Helper()
	b, err := f.Bytes()
	if err != nil {
		return "(not writable: " + err.Error() + ")\n"
	}
	return string(b)
}

func TestGolden(t *testing.T) {
	for _, g := range loadGoldens(t) {
		t.Run(filepath.Base(g.name), func(t *testing.T) {
			_, result, env, problems, diff := g.run(t)
			g.archive.Check(t,
				golden.Section{Name: "want.env", Data: env},
				golden.Section{Name: "want.problems", Data: problems},
				golden.Section{Name: "want.diff", Data: diff})

			// Parse(Write(x)) == x, and writing again gives the same bytes.
			if !strings.HasPrefix(env, "(not writable") {
				back, err := Parse([]byte(env))
				require.NoError(t, err)
				assertSameContent(t, result, back)
				assert.Equal(t, env, render(t, back))
			}
		})
	}
}

// assertSameContent compares two files line by line, ignoring line numbers and the
// remembered raw text.
func assertSameContent(t *testing.T, a, b *File) {
	t.Helper()
	require.Equal(t, len(a.Lines), len(b.Lines), "line count")
	for i := range a.Lines {
		x, y := a.Lines[i], b.Lines[i]
		assert.Equal(t, x.Kind, y.Kind, "line %d kind", i+1)
		assert.Equal(t, x.Text, y.Text, "line %d text", i+1)
		assert.Equal(t, x.Key, y.Key, "line %d key", i+1)
		assert.Equal(t, x.Value, y.Value, "line %d value of %s", i+1, x.Key)
		assert.Equal(t, x.Export, y.Export, "line %d export", i+1)
	}
}

// TestGoldenOracles has Ruby's and Node's dotenv read every golden output (and every
// existing input that validates) and requires that both agree with envfile.
func TestGoldenOracles(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	for _, g := range loadGoldens(t) {
		env := g.want("want.env")
		if env == "" || strings.HasPrefix(env, "(not writable") {
			continue
		}
		f, err := Parse([]byte(env))
		require.NoError(t, err)
		if disagrees(f) {
			continue // the readers' disagreement is what that case shows; see TestReadersMatchOracles
		}
		file := filepath.Join(dir, filepath.Base(g.name)+".env")
		require.NoError(t, os.WriteFile(file, []byte(env), 0o600))
		want := f.Env()
		assert.Equal(t, want, testenv.DotenvRuby(t, file), "%s: Ruby's dotenv (Rails)", g.name)
		assert.Equal(t, want, testenv.DotenvNode(t, file), "%s: Node's dotenv (streaming)", g.name)
	}
}

func disagrees(f *File) bool {
	for _, p := range f.Validate(Options{}) {
		if errors.Is(p, ErrReadersDisagree) || errors.Is(p, ErrCommandSubstitution) {
			return true
		}
	}
	return false
}
