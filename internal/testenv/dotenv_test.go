package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDotenvOracles pins the measured differences between the two readers of
// .env.production that envfile's tests rely on.
func TestDotenvOracles(t *testing.T) {
	t.Parallel()
	file := filepath.Join(TempDir(t), "t.env")
	src := "PW=pa$$word\nQ='pa$$word'\nBS=\"a\\\\b\"\nexport E=x # c\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ruby, node := DotenvRuby(t, file), DotenvNode(t, file)
	for _, c := range []struct{ key, ruby, node string }{
		{"PW", "pa$", "pa$$word"},
		{"Q", "pa$$word", "pa$$word"},
		{"BS", `a\b`, `a\\b`},
		{"E", "x", "x"},
	} {
		if ruby[c.key] != c.ruby || node[c.key] != c.node {
			t.Errorf("%s: Ruby %q (want %q), Node %q (want %q)", c.key, ruby[c.key], c.ruby, node[c.key], c.node)
		}
	}
	if root := ModuleRoot(t); root == "" {
		t.Error("no module root")
	}
}

// TestDotenvNodeVersions runs one file through every pinned Node dotenv version, one at a
// time and through one process, and pins the differences of the three parser families.
func TestDotenvNodeVersions(t *testing.T) {
	t.Parallel()
	file := filepath.Join(TempDir(t), "t.env")
	src := "A=abc#123\nexport B=x\nC='x'   \n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	versions := NodeDotenvVersions(t)
	all, err := StartDotenvNode(t, versions...).Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range versions {
		got := DotenvNodeVersion(t, v, file)
		if len(got) != len(all[i]) || got["A"] != all[i]["A"] {
			t.Errorf("%s: file %v, process %v", v, got, all[i])
		}
		want := map[string]string{"A": "abc", "B": "x", "C": "x"}
		switch {
		case v == "4.0.0" || v == "6.2.0":
			want = map[string]string{"A": "abc#123", "C": "x'"}
		case len(v) > 1 && v[1] == '.': // 8.x–9.x (10.0.0 below)
			want = map[string]string{"A": "abc#123", "C": "'x'"}
		case strings.HasPrefix(v, "10."):
			want = map[string]string{"A": "abc#123", "C": "'x'"}
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("Node dotenv %s reads %s=%q, want %q", v, k, got[k], w)
			}
		}
		if _, ok := got["B"]; ok != (want["B"] != "") {
			t.Errorf("Node dotenv %s: export line read: %v", v, ok)
		}
	}
}
