// Package golden is the one golden-file harness of v6kit's tests. A golden file is a
// txtar archive in testdata/: a comment, then named sections. Some sections are inputs
// the test reads ([Archive.Input]); the others are the outputs it produces, compared by
// [Archive.Check] section by section with a unified diff (internal/textdiff), or
// rewritten when the test binary runs with -update:
//
//	go test ./units -update && git diff -- units/testdata
//
// The rewritten archive is the comment, the inputs in their order, then the outputs in
// the order the test passes them; sections that are neither are dropped. Check passes
// exactly when -update would leave the file's bytes unchanged, so a green run after
// -update means the golden files are what the tests produce.
//
// The -update flag is registered here, once per test binary that imports the package.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/internal/textdiff"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ (then review git diff)")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Section is one named section of an archive.
type Section struct {
	Name string
	Data string
}

// Archive is one golden file as read, plus what the test declared about it: which
// sections it read as inputs and, optionally, the comment it expects.
type Archive struct {
	file    string
	raw     []byte
	exists  bool
	comment string
	files   []txtar.File
	inputs  map[string]bool
	// wantComment, when set, is compared and written; otherwise the file's comment
	// is kept (several tests read their input from it).
	wantComment *string
	update      bool
}

// Files returns the files matching pattern (a filepath.Glob pattern such as
// "testdata/*.txtar"), failing the test when there are none.
func Files(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatalf("golden: %s: %v", pattern, err)
	}
	if len(files) == 0 {
		t.Fatalf("golden: no file matches %s", pattern)
	}
	return files
}

// Open reads the golden file. A missing file fails the test with the command that
// creates it, except under -update, where it starts empty and Check creates it.
func Open(t testing.TB, file string) *Archive {
	t.Helper()
	return open(t, file, *update)
}

func open(t testing.TB, file string, update bool) *Archive {
	t.Helper()
	b, err := os.ReadFile(file)
	switch {
	case err == nil:
	case os.IsNotExist(err) && update:
		a := Parse(file, nil)
		a.exists, a.update = false, true
		return a
	case os.IsNotExist(err):
		t.Fatalf("golden: %s does not exist: run %s to create it, then review it", file, Command(t))
	default:
		t.Fatalf("golden: %v", err)
	}
	a := Parse(file, b)
	a.update = update
	return a
}

// Parse returns the archive held in data, named file (where Check under -update writes
// it). Its update mode is off: Check compares.
func Parse(file string, data []byte) *Archive {
	ar := txtar.Parse(data)
	return &Archive{file: file, raw: data, exists: true, comment: string(ar.Comment), files: ar.Files, inputs: map[string]bool{}}
}

// File returns the archive's path.
func (a *Archive) File() string { return a.file }

// Comment returns the archive's comment, the text before the first section.
func (a *Archive) Comment() string { return a.comment }

// Names returns the names of the archive's sections, in order.
func (a *Archive) Names() []string {
	var out []string
	for _, f := range a.files {
		out = append(out, f.Name)
	}
	return out
}

// Input returns the data of the named section and marks it as an input, kept by
// -update. The boolean is false (and nothing is marked) when there is no such section.
func (a *Archive) Input(name string) ([]byte, bool) {
	data, ok := a.Section(name)
	if ok {
		a.inputs[name] = true
	}
	return data, ok
}

// Section returns the data of the named section without marking it as an input (to
// read an expected output elsewhere, say).
func (a *Archive) Section(name string) ([]byte, bool) {
	for _, f := range a.files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

// SetComment sets the comment the archive must have: Check compares it and -update
// writes it (with a final newline added, as txtar does). Without it the file's own
// comment is kept.
func (a *Archive) SetComment(comment string) {
	if comment != "" && !strings.HasSuffix(comment, "\n") {
		comment += "\n"
	}
	a.wantComment = &comment
}

// Want returns the archive as -update would write it with these outputs: the comment,
// the sections read as inputs in the file's order, then the outputs in order.
func (a *Archive) Want(outputs ...Section) []byte {
	ar := &txtar.Archive{Comment: []byte(a.comment)}
	if a.wantComment != nil {
		ar.Comment = []byte(*a.wantComment)
	}
	isOut := map[string]bool{}
	for _, o := range outputs {
		isOut[o.Name] = true
	}
	for _, f := range a.files {
		if a.inputs[f.Name] && !isOut[f.Name] {
			ar.Files = append(ar.Files, f)
		}
	}
	for _, o := range outputs {
		ar.Files = append(ar.Files, txtar.File{Name: o.Name, Data: []byte(o.Data)})
	}
	return txtar.Format(ar)
}

// Diff explains how the archive differs from what the test produced: a unified diff
// per changed section ("-" the golden file, "+" the test), missing and stray sections,
// order, and outputs txtar cannot hold. It returns "" when Check would pass.
func (a *Archive) Diff(outputs ...Section) string {
	var out strings.Builder
	seen := map[string]bool{}
	for _, o := range outputs {
		if seen[o.Name] {
			fmt.Fprintf(&out, "section %q is produced twice\n", o.Name)
		}
		seen[o.Name] = true
		if msg := storable(o); msg != "" {
			fmt.Fprintf(&out, "section %q %s\n", o.Name, msg)
		}
	}
	if out.Len() > 0 {
		return out.String()
	}
	if !a.exists {
		return fmt.Sprintf("%s does not exist\n", a.file)
	}
	if a.wantComment != nil && *a.wantComment != a.comment {
		fmt.Fprintf(&out, "the comment differs:\n%s", unified(a.comment, *a.wantComment))
	}
	for _, o := range outputs {
		data, ok := a.Section(o.Name)
		switch {
		case !ok:
			fmt.Fprintf(&out, "section %q is missing; the test produces:\n%s", o.Name, indent(o.Data))
		case string(data) != o.Data:
			fmt.Fprintf(&out, "section %q differs:\n%s", o.Name, unified(string(data), o.Data))
		}
	}
	for _, name := range a.Names() {
		if !seen[name] && !a.inputs[name] {
			fmt.Fprintf(&out, "section %q is neither read by the test nor produced by it\n", name)
		}
	}
	if out.Len() > 0 {
		return out.String()
	}
	want := a.Want(outputs...)
	if bytes.Equal(want, a.raw) {
		return ""
	}
	wantNames := txtarNames(want)
	if !slices.Equal(wantNames, a.Names()) {
		return fmt.Sprintf("the sections are in the order\n%sthe test produces them in the order\n%s",
			indent(strings.Join(a.Names(), "\n")+"\n"), indent(strings.Join(wantNames, "\n")+"\n"))
	}
	return fmt.Sprintf("the file is not as txtar writes it (a last section without its final newline?):\n%s",
		unified(string(a.raw), string(want)))
}

// Check compares the outputs with the archive and fails the test with Diff's
// explanation and the -update command; under -update it rewrites the file instead
// (atomically, creating testdata/ if needed). It reports whether the file matched or
// was rewritten.
func (a *Archive) Check(t testing.TB, outputs ...Section) bool {
	t.Helper()
	if a.update {
		for _, o := range outputs {
			if msg := storable(o); msg != "" {
				t.Errorf("golden: %s: section %q %s", a.file, o.Name, msg)
				return false
			}
		}
		res, err := fsutil.WriteFile(a.file, a.Want(outputs...), fsutil.Options{MkdirAll: true})
		if err != nil {
			t.Errorf("golden: %v", err)
			return false
		}
		if res.Changed {
			t.Logf("golden: rewrote %s", a.file)
		}
		return true
	}
	if d := a.Diff(outputs...); d != "" {
		t.Errorf("golden: %s differs from what the test produces:\n%s\nIf the change is intended, run %s and review git diff.",
			a.file, d, Command(t))
		return false
	}
	return true
}

// Check is Open, SetComment and Check in one call, for a golden file the test writes
// whole: no inputs, the given comment and the sections in order.
func Check(t testing.TB, file, comment string, sections ...Section) bool {
	t.Helper()
	return check(t, file, comment, *update, sections)
}

func check(t testing.TB, file, comment string, update bool, sections []Section) bool {
	t.Helper()
	a := open(t, file, update)
	a.SetComment(comment)
	return a.Check(t, sections...)
}

// Command returns the command that regenerates the current test's golden files:
// go test ./PKG -run '^TestX$' -update, PKG relative to the module root.
func Command(t testing.TB) string {
	top, _, _ := strings.Cut(t.Name(), "/")
	return fmt.Sprintf("go test %s -run '^%s$' -update", packageDir(), top)
}

// packageDir is the working directory (a test runs in its package's directory) as a
// ./path relative to the module root, or "." when there is no go.mod above it.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, wd)
			if err != nil || rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		if filepath.Dir(dir) == dir {
			return "."
		}
	}
}

// storable says why txtar can't hold an output section unchanged, or "".
func storable(o Section) string {
	if o.Name == "" || strings.ContainsAny(o.Name, "\n\r") || strings.TrimSpace(o.Name) != o.Name {
		return "has a name txtar cannot hold (empty, blank-padded or multi-line)"
	}
	if o.Data != "" && !strings.HasSuffix(o.Data, "\n") {
		return "does not end in a newline, which txtar would add: end it with one"
	}
	for _, l := range strings.Split(o.Data, "\n") {
		if strings.HasPrefix(l, "-- ") && strings.HasSuffix(l, " --") && len(l) > 6 {
			return fmt.Sprintf("holds the line %q, which txtar reads as a section marker", l)
		}
	}
	return ""
}

func txtarNames(b []byte) []string {
	var out []string
	for _, f := range txtar.Parse(b).Files {
		out = append(out, f.Name)
	}
	return out
}

// unified is a unified diff from want (the golden file) to got (the test), saying so
// when only the final newline differs.
func unified(want, got string) string {
	d := textdiff.Unified(textdiff.Lines(want), textdiff.Lines(got), 3)
	if d == "" {
		return fmt.Sprintf("  only the end differs: golden ends %q, test ends %q\n", tail(want), tail(got))
	}
	return d
}

func tail(s string) string {
	if len(s) > 10 {
		return "…" + s[len(s)-10:]
	}
	return s
}

func indent(s string) string {
	if s == "" {
		return "  (empty)\n"
	}
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}
