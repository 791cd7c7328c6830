package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ModuleRoot returns the directory holding go.mod, walking up from the test's working
// directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// dotenvEnv is the environment the oracles run in: nothing but PATH and a UTF-8 locale,
// so Ruby's $VAR expansion sees only the file's own variables.
var dotenvEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}

// DotenvRubyScript is the Ruby program that reads a file the way Mastodon's Rails
// processes do: Dotenv::Parser.call (Debian's ruby-dotenv 2.4, whose Variable and Command
// substitutions the gem keeps in 3.x), printing the variables as JSON.
const DotenvRubyScript = `puts JSON.generate(Dotenv::Parser.call(File.read(ARGV[0], encoding: "UTF-8")))`

// DotenvRuby parses file with Ruby's dotenv, as Rails reads .env.production, and returns
// the variables. Beware: like Rails, it RUNS any $(command) in unquoted or double-quoted
// values. A missing ruby or ruby-dotenv calls [Unavailable].
func DotenvRuby(t testing.TB, file string) map[string]string {
	t.Helper()
	ruby := Tool(t, "ruby", "ruby")
	if err := exec.Command(ruby, "-rdotenv", "-rjson", "-e", "1").Run(); err != nil {
		Unavailable(t, "ruby cannot load the dotenv gem (Debian package ruby-dotenv): %v", err)
	}
	return runDotenv(t, exec.Command(ruby, "-rdotenv", "-rjson", "-e", DotenvRubyScript, file))
}

// DotenvNode parses file with Node's dotenv (pinned in internal/testenv/nodedotenv), as
// Mastodon's streaming server reads .env.production, and returns the variables. Missing
// node or node_modules call [Unavailable].
func DotenvNode(t testing.TB, file string) map[string]string {
	t.Helper()
	node := Tool(t, "node", "nodejs")
	dir := filepath.Join(ModuleRoot(t), "internal", "testenv", "nodedotenv")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "dotenv", "package.json")); err != nil {
		Unavailable(t, "Node dotenv is not installed in %s (scripts/deps.sh runs npm ci there)", dir)
	}
	return runDotenv(t, exec.Command(node, filepath.Join(dir, "parse.js"), file))
}

func runDotenv(t testing.TB, cmd *exec.Cmd) map[string]string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Env = &stdout, &stderr, dotenvEnv
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd.String(), err, stderr.String())
	}
	m := map[string]string{}
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("%s printed no JSON object: %v\n%s", cmd.String(), err, stdout.String())
	}
	return m
}
