package apitest

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/mastodon"
)

// build compiles the main package in dir (a directory of this module, or another
// module's root) into the test's temp dir.
func build(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build in %s:\n%s", dir, out)
	return bin
}

// buildOutside builds the main package at the root of the module in dir the way its
// own author would: that module's go.mod and go.sum as they are (-mod=readonly, so a
// stale go.sum fails instead of being rewritten), no go.work, and it checks first
// that the go command really is in that module and not in v6kit's.
func buildOutside(t *testing.T, dir, module, name string) string {
	t.Helper()
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	list := exec.Command("go", "list", "-m")
	list.Dir, list.Env = dir, env
	out, err := list.CombinedOutput()
	require.NoError(t, err, "go list -m in %s:\n%s", dir, out)
	require.Equal(t, module, strings.TrimSpace(string(out)), "%s must be a module of its own", dir)

	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir, cmd.Env = dir, env
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "go build in %s (its own module):\n%s", dir, out)
	return bin
}

// summary returns the files a bundle run's summary lists ("  unchanged 0644 PATH",
// "  written   0600 PATH  (secrets)"), by path, with their state.
func summary(out string) map[string]string {
	files := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  (unchanged|written) +([0-7]{4}) (\S+)`).FindAllStringSubmatch(out, -1) {
		files[m[3]] = m[1]
	}
	return files
}

func runBin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s %q:\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, stdout.String(), stderr.String())
	return stdout.String()
}

// readTree returns every regular file under root by its slash path, with its mode.
func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = info.Mode().Perm().String() + "\n" + string(b)
		return nil
	}))
	return files
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	out, err := exec.Command("cp", "-a", from, to).CombinedOutput()
	require.NoError(t, err, string(out))
}

// TestThirdPartyModule builds examples/thirdparty — a module of its own that imports
// only v6kit's public packages through a replace directive — and runs it for 1.6,
// 4.2, 4.3 and the newest line. For each, v6kit's in-module example (allinone, same
// inputs) run over a copy of that output must find every file already as it would
// write it: same bytes, same modes, nothing changed, the secrets kept, and no file
// more or less. (The secrets are random, so two fresh runs cannot be compared byte for
// byte; allinone merging into the third party's tree is the byte comparison.)
func TestThirdPartyModule(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	thirdparty := buildOutside(t, filepath.Join(root, "examples", "thirdparty"), "example.com/myinstaller", "myinstaller")
	allinone := build(t, filepath.Join(root, "examples", "allinone"), "allinone")
	for _, line := range []string{"1.6", "4.2", "4.3", mastodon.Newest().Line()} {
		t.Run(line, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ours := filepath.Join(dir, "thirdparty")
			out := runBin(t, thirdparty, "--out", ours, "--mastodon", line)
			rel := mastodon.MustLookup(line)
			assert.Contains(t, out, "Mastodon "+rel.String()+" for social.example.org")
			written := readTree(t, ours)
			require.Contains(t, written, "home/mastodon/live/.env.production")
			require.Contains(t, written, "NEXT-STEPS.md")

			theirs := filepath.Join(dir, "allinone")
			copyTree(t, ours, theirs)
			out = runBin(t, allinone, "--out", theirs, "--mastodon", line)
			assert.NotRegexp(t, regexp.MustCompile(`(?m)^\s+(written|replaced|created)\s`), out, "allinone would change a file the third party wrote")
			assert.Equal(t, written, readTree(t, theirs), "allinone's output differs from the third-party module's for the same inputs")
			// The same set of files: allinone's summary lists every file of its bundle, each
			// unchanged, and they are exactly the files the third party wrote.
			want := map[string]string{}
			for p := range written {
				want[p] = "unchanged"
			}
			assert.Equal(t, want, summary(out), "allinone's bundle and the third party's hold different files")
		})
	}
}

// TestReadmeExampleBuilds extracts the README's Go example (the block after the
// "thirdparty-example" marker) into a module of its own next to examples/thirdparty's
// go.mod and go.sum, and builds and runs it.
func TestReadmeExampleBuilds(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- thirdparty-example -->\\s*```go\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README.md has no Go block after <!-- thirdparty-example -->")

	dir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(root, "examples", "thirdparty", "go.mod"))
	require.NoError(t, err)
	mod := strings.Replace(string(gomod), "module example.com/myinstaller", "module example.com/readme", 1)
	mod = strings.Replace(mod, "=> ../..", "=> "+root, 1)
	require.NotEqual(t, string(gomod), mod)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	copyTree(t, filepath.Join(root, "examples", "thirdparty", "go.sum"), filepath.Join(dir, "go.sum"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), m[1], 0o644))

	bin := buildOutside(t, dir, "example.com/readme", "readme")
	site := filepath.Join(dir, "site")
	out := runBin(t, bin, site)
	assert.Contains(t, out, "4.3")
	assert.FileExists(t, filepath.Join(site, "home/mastodon/live/.env.production"))
}
