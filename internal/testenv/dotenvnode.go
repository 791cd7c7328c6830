package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// nodeDotenvRootVersion is the version pinned in internal/testenv/nodedotenv itself; every
// other pinned version has its own directory vX.Y.Z there, each with its package-lock.json.
const nodeDotenvRootVersion = "16.6.1"

// NodeDotenvVersions lists the Node dotenv versions pinned under internal/testenv/nodedotenv
// (the versions Mastodon's releases pin), in no particular order.
func NodeDotenvVersions(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join(ModuleRoot(t), "internal", "testenv", "nodedotenv")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	out := []string{nodeDotenvRootVersion}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "v") {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "package-lock.json")); err == nil {
				out = append(out, strings.TrimPrefix(e.Name(), "v"))
			}
		}
	}
	return out
}

// nodeDotenvDir returns the directory of a pinned version, calling [Unavailable] when node
// or its node_modules are missing.
func nodeDotenvDir(t testing.TB, version string) string {
	t.Helper()
	dir := filepath.Join(ModuleRoot(t), "internal", "testenv", "nodedotenv")
	if version != nodeDotenvRootVersion {
		dir = filepath.Join(dir, "v"+version)
	}
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err != nil {
		t.Fatalf("Node dotenv %s is not pinned (no %s/package-lock.json)", version, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "dotenv", "package.json")); err != nil {
		Unavailable(t, "Node dotenv %s is not installed in %s (scripts/deps.sh runs npm ci there)", version, dir)
	}
	return dir
}

// DotenvNodeVersion parses file with the pinned Node dotenv version, as that version in
// Mastodon's streaming server reads .env.production, and returns the variables.
func DotenvNodeVersion(t testing.TB, version, file string) map[string]string {
	t.Helper()
	node := Tool(t, "node", "nodejs")
	dir := nodeDotenvDir(t, version)
	script := filepath.Join(ModuleRoot(t), "internal", "testenv", "nodedotenv", "read.js")
	return runDotenv(t, exec.Command(node, script, "--file", file, dir))
}

// NodeDotenv is one node process that holds several pinned Node dotenv versions and parses
// texts sent to it, for tests (and fuzz targets) that read many files.
type NodeDotenv struct {
	// Versions are the versions it reads with, in the order Parse returns them.
	Versions []string
	mu       sync.Mutex
	in       io.WriteCloser
	out      *bufio.Reader
}

// StartDotenvNode starts one node process reading with the given pinned versions; it
// stops when the test ends. Missing node or node_modules call [Unavailable].
func StartDotenvNode(t testing.TB, versions ...string) *NodeDotenv {
	t.Helper()
	node := Tool(t, "node", "nodejs")
	args := []string{filepath.Join(ModuleRoot(t), "internal", "testenv", "nodedotenv", "read.js")}
	for _, v := range versions {
		args = append(args, nodeDotenvDir(t, v))
	}
	cmd := exec.Command(node, args...)
	cmd.Env, cmd.Stderr = dotenvEnv, os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	return &NodeDotenv{Versions: slices.Clone(versions), in: in, out: bufio.NewReaderSize(out, 1<<16)}
}

// Parse returns what each version reads from src (as from a file holding src), in the
// order of Versions.
func (n *NodeDotenv) Parse(src string) ([]map[string]string, error) {
	b, err := json.Marshal(src)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.in.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("node dotenv: write: %w", err)
	}
	line, err := n.out.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("node dotenv: read: %w", err)
	}
	var res []map[string]string
	if err := json.Unmarshal(line, &res); err != nil || len(res) != len(n.Versions) {
		return nil, fmt.Errorf("node dotenv: bad answer %q: %v", line, err)
	}
	return res, nil
}
