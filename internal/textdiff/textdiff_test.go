package textdiff

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

func TestOps(t *testing.T) {
	t.Parallel()
	ops := Ops([]string{"a", "b", "c"}, []string{"a", "x", "c", "d"})
	var got []string
	for _, o := range ops {
		got = append(got, string(o.Kind)+o.Text)
	}
	assert.Equal(t, []string{" a", "-b", "+x", " c", "+d"}, got)
	assert.True(t, Changed(ops))
	assert.False(t, Changed(Ops([]string{"a"}, []string{"a"})))
	assert.Nil(t, Lines(""))
	assert.Equal(t, []string{"a", ""}, Lines("a\n\n"))
}

func TestUnified(t *testing.T) {
	t.Parallel()
	a := Lines("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n")
	b := Lines("1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n")
	assert.Equal(t, "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n", Unified(a, b, 3))
	assert.Equal(t, "@@ -5,1 +5,1 @@\n-5\n+five\n", Unified(a, b, 0))
	assert.Equal(t, "@@ -0,0 +1,1 @@\n+new\n", Unified(nil, []string{"new"}, 3))
	assert.Equal(t, "@@ -2,0 +3,1 @@\n+x\n", Unified([]string{"a", "b"}, []string{"a", "b", "x"}, 0))
	assert.Empty(t, Unified(a, a, 3))
}

// TestUnifiedAppliesWithPatch proves the hunks are what patch(1) expects, including
// pure insertions and deletions with no context.
func TestUnifiedAppliesWithPatch(t *testing.T) {
	t.Parallel()
	patch := testenv.Tool(t, "patch", "patch")
	cases := [][2]string{
		{"a\nb\nc\n", "a\nx\nc\nd\n"},
		{"a\nb\n", "a\nb\nc\n"},
		{"a\nb\nc\n", "b\n"},
		{"", "x\ny\n"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "0\n1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n12\n"},
	}
	for _, ctx := range []int{0, 3} {
		for _, c := range cases {
			dir := t.TempDir()
			f := filepath.Join(dir, "f")
			require.NoError(t, os.WriteFile(f, []byte(c[0]), 0o644))
			d := "--- f\n+++ f\n" + Unified(Lines(c[0]), Lines(c[1]), ctx)
			cmd := exec.Command(patch, "-s", "-p0", "--no-backup-if-mismatch", f)
			cmd.Stdin = strings.NewReader(d)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s\n%s", d, out)
			got, _ := os.ReadFile(f)
			assert.Equal(t, c[1], string(got), d)
		}
	}
}
