package testenv

import (
	"os"
	"path/filepath"
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
