package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder stands in for a test: it records Errorf and Fatalf (which ends the
// goroutine, as testing does) instead of failing the real test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	logs   []string
	fatal  bool
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "TestRecorded/case_1" }
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// record runs fn against a recorder in its own goroutine (so Fatalf can end it).
func record(t *testing.T, fn func(tb testing.TB)) *recorder {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

const golden = `A case: the comment holds input too.
family=v6only
-- input.json --
{"port": 3000}
-- out.conf --
listen [::1]:3000;
root /srv;
-- problems --
`

func writeGolden(t *testing.T, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "testdata", "case.txtar")
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
	return file
}

func outputs(conf string) []Section {
	return []Section{{Name: "out.conf", Data: conf}, {Name: "problems", Data: ""}}
}

func TestCheckPasses(t *testing.T) {
	t.Parallel()
	file := writeGolden(t, golden)
	r := record(t, func(tb testing.TB) {
		a := open(tb, file, false)
		assert.Equal(t, "A case: the comment holds input too.\nfamily=v6only\n", a.Comment())
		assert.Equal(t, []string{"input.json", "out.conf", "problems"}, a.Names())
		in, ok := a.Input("input.json")
		require.True(t, ok)
		assert.Equal(t, "{\"port\": 3000}\n", string(in))
		_, ok = a.Input("options.json")
		assert.False(t, ok)
		assert.True(t, a.Check(tb, outputs("listen [::1]:3000;\nroot /srv;\n")...))
	})
	assert.Empty(t, r.errors)
}

func TestMismatchShowsDiffAndCommand(t *testing.T) {
	t.Parallel()
	file := writeGolden(t, golden)
	r := record(t, func(tb testing.TB) {
		a := open(tb, file, false)
		a.Input("input.json")
		assert.False(t, a.Check(tb, outputs("listen [::1]:4000;\nroot /srv;\n")...))
	})
	require.Len(t, r.errors, 1)
	msg := r.errors[0]
	assert.Contains(t, msg, file+" differs from what the test produces")
	assert.Contains(t, msg, "section \"out.conf\" differs:\n@@ -1,2 +1,2 @@\n-listen [::1]:3000;\n+listen [::1]:4000;\n root /srv;\n")
	assert.Contains(t, msg, "run go test ./internal/golden -run '^TestRecorded$' -update and review git diff")
	assert.False(t, r.fatal, "a mismatch lets the test go on")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, golden, string(b), "comparing never writes")
}

func TestDiffExplainsStructure(t *testing.T) {
	t.Parallel()
	a := Parse("case.txtar", []byte(golden))
	a.Input("input.json")
	for _, tc := range []struct {
		name string
		out  []Section
		want string
	}{
		{"missing section", append(outputs("listen [::1]:3000;\nroot /srv;\n"), Section{Name: "budget", Data: "web 2×5\n"}),
			"section \"budget\" is missing; the test produces:\n  web 2×5\n"},
		{"stray section", []Section{{Name: "out.conf", Data: "listen [::1]:3000;\nroot /srv;\n"}},
			"section \"problems\" is neither read by the test nor produced by it\n"},
		{"order", []Section{{Name: "problems", Data: ""}, {Name: "out.conf", Data: "listen [::1]:3000;\nroot /srv;\n"}},
			"the sections are in the order\n  input.json\n  out.conf\n  problems\nthe test produces them in the order\n  input.json\n  problems\n  out.conf\n"},
		{"final newline", outputs("listen [::1]:3000;\nroot /srv;\n\n"),
			"section \"out.conf\" differs:\n@@ -1,2 +1,3 @@\n listen [::1]:3000;\n root /srv;\n+\n"},
		{"twice", append(outputs("x\n"), Section{Name: "problems", Data: ""}), "section \"problems\" is produced twice\n"},
		{"no newline", outputs("listen [::1]:3000;"), "section \"out.conf\" does not end in a newline, which txtar would add: end it with one\n"},
		{"marker", outputs("a\n-- problems --\n"), "section \"out.conf\" holds the line \"-- problems --\", which txtar reads as a section marker\n"},
		{"bad name", []Section{{Name: " x", Data: ""}}, "section \" x\" has a name txtar cannot hold (empty, blank-padded or multi-line)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, a.Diff(tc.out...))
		})
	}
	assert.Empty(t, a.Diff(outputs("listen [::1]:3000;\nroot /srv;\n")...))
}

func TestDiffUnreadInputIsStray(t *testing.T) {
	t.Parallel()
	a := Parse("case.txtar", []byte(golden))
	assert.Equal(t, "section \"input.json\" is neither read by the test nor produced by it\n",
		a.Diff(outputs("listen [::1]:3000;\nroot /srv;\n")...))
	_, _ = a.Section("input.json") // reading without marking is not enough
	assert.NotEmpty(t, a.Diff(outputs("listen [::1]:3000;\nroot /srv;\n")...))
}

func TestDiffNonCanonicalFile(t *testing.T) {
	t.Parallel()
	// The last section lacks its newline: txtar reads it with one, but -update would
	// change the file's bytes, so Check fails.
	a := Parse("case.txtar", []byte("c\n-- out --\nx"))
	assert.Equal(t, "the file is not as txtar writes it (a last section without its final newline?):\n  only the end differs: golden ends \"…- out --\\nx\", test ends \"… out --\\nx\\n\"\n",
		a.Diff(Section{Name: "out", Data: "x\n"}))
	// The comment lacks its newline.
	a = Parse("case.txtar", []byte("c"))
	assert.Equal(t, "the file is not as txtar writes it (a last section without its final newline?):\n  only the end differs: golden ends \"c\", test ends \"c\\n\"\n", a.Diff())
}

func TestUpdateRewrites(t *testing.T) {
	t.Parallel()
	stale := strings.Replace(golden, "-- problems --\n", "-- stale --\nold\n-- problems --\nwarning\n", 1)
	file := writeGolden(t, stale)
	r := record(t, func(tb testing.TB) {
		a := open(tb, file, true)
		a.Input("input.json")
		assert.True(t, a.Check(tb, outputs("listen [::1]:4000;\nroot /srv;\n")...))
	})
	assert.Empty(t, r.errors)
	assert.Equal(t, []string{"golden: rewrote " + file}, r.logs)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	// The comment and the input stay, the outputs are replaced, the stray section goes.
	assert.Equal(t, strings.Replace(golden, "3000;\nroot", "4000;\nroot", 1), string(b))

	// Now a comparing run passes, and another -update run leaves the file alone.
	st, err := os.Stat(file)
	require.NoError(t, err)
	r = record(t, func(tb testing.TB) {
		a := open(tb, file, false)
		a.Input("input.json")
		assert.True(t, a.Check(tb, outputs("listen [::1]:4000;\nroot /srv;\n")...))
		a = open(tb, file, true)
		a.Input("input.json")
		assert.True(t, a.Check(tb, outputs("listen [::1]:4000;\nroot /srv;\n")...))
	})
	assert.Empty(t, r.errors)
	assert.Empty(t, r.logs, "nothing rewritten")
	st2, err := os.Stat(file)
	require.NoError(t, err)
	assert.True(t, st.ModTime().Equal(st2.ModTime()), "an unchanged golden file is not rewritten")
}

func TestUpdateIsIdenticalWhenNothingChanged(t *testing.T) {
	t.Parallel()
	file := writeGolden(t, golden)
	r := record(t, func(tb testing.TB) {
		a := open(tb, file, true)
		a.Input("input.json")
		a.Check(tb, outputs("listen [::1]:3000;\nroot /srv;\n")...)
	})
	assert.Empty(t, r.errors)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, golden, string(b))
}

func TestUpdateRefusesWhatTxtarCannotHold(t *testing.T) {
	t.Parallel()
	file := writeGolden(t, golden)
	r := record(t, func(tb testing.TB) {
		a := open(tb, file, true)
		a.Input("input.json")
		assert.False(t, a.Check(tb, outputs("no newline")...))
	})
	require.Len(t, r.errors, 1)
	assert.Contains(t, r.errors[0], `section "out.conf" does not end in a newline`)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, golden, string(b), "nothing written")
}

func TestMissingFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "testdata", "new", "case.txtar")
	r := record(t, func(tb testing.TB) {
		open(tb, file, false)
		t.Error("Open went on after a missing file")
	})
	assert.True(t, r.fatal)
	require.Len(t, r.errors, 1)
	assert.Equal(t, "golden: "+file+" does not exist: run go test ./internal/golden -run '^TestRecorded$' -update to create it, then review it", r.errors[0])

	// Under -update the file (and its directory) is created.
	r = record(t, func(tb testing.TB) {
		a := open(tb, file, true)
		a.SetComment("go run ./x: the whole output")
		assert.True(t, a.Check(tb, Section{Name: "stdout", Data: "ok\n"}, Section{Name: "stderr", Data: ""}))
	})
	assert.Empty(t, r.errors)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "go run ./x: the whole output\n-- stdout --\nok\n-- stderr --\n", string(b))
}

func TestCheckComparesTheGivenComment(t *testing.T) {
	t.Parallel()
	file := writeGolden(t, "old words\n-- stdout --\nok\n")
	r := record(t, func(tb testing.TB) {
		assert.True(t, check(tb, file, "old words", false, []Section{{Name: "stdout", Data: "ok\n"}}))
		assert.False(t, check(tb, file, "new words", false, []Section{{Name: "stdout", Data: "ok\n"}}))
	})
	require.Len(t, r.errors, 1)
	assert.Contains(t, r.errors[0], "the comment differs:\n@@ -1,1 +1,1 @@\n-old words\n+new words\n")
}

func TestFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.txtar"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txtar"), nil, 0o644))
	var got []string
	r := record(t, func(tb testing.TB) { got = Files(tb, filepath.Join(dir, "*.txtar")) })
	assert.Empty(t, r.errors)
	assert.Equal(t, []string{filepath.Join(dir, "a.txtar"), filepath.Join(dir, "b.txtar")}, got)
	r = record(t, func(tb testing.TB) { Files(tb, filepath.Join(dir, "*.json")) })
	assert.True(t, r.fatal)
	assert.Equal(t, []string{"golden: no file matches " + filepath.Join(dir, "*.json")}, r.errors)
}

func TestCommand(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "go test ./internal/golden -run '^TestCommand$' -update", Command(t))
	t.Run("sub case", func(t *testing.T) {
		assert.Equal(t, "go test ./internal/golden -run '^TestCommand$' -update", Command(t))
	})
}

func TestUpdatingIsOffByDefault(t *testing.T) {
	t.Parallel()
	if !Updating() {
		r := record(t, func(tb testing.TB) { assert.False(t, Open(tb, filepath.Join(t.TempDir(), "x.txtar")) == nil) })
		assert.True(t, r.fatal, "Open compares (and so fails on a missing file) without -update")
	}
}
