package testenv

import (
	"bytes"
	"maps"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// BashArgv parses each line as bash does and returns the argv of each: after `bash -n`
// accepted the whole script, every line is run as `argv LINE` with argv a function that
// prints its arguments NUL-separated, under set -f, in a temporary directory with an
// empty environment. A line that is not one simple command (a second command after ;,
// a redirection, an expansion) shows up as a different argv, a different count of
// lines, or output on stderr, and fails the test.
func BashArgv(t testing.TB, lines []string) [][]string {
	t.Helper()
	bash := Tool(t, "bash", "bash")
	script := strings.Join(lines, "\n") + "\n"
	n := exec.Command(bash, "-n")
	n.Stdin = strings.NewReader(script)
	if out, err := n.CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v: %s\n%s", err, out, script)
	}
	var b strings.Builder
	b.WriteString("set -f\nargv() { printf '%s\\0' \"$@\"; printf '\\1\\0'; }\n")
	for _, l := range lines {
		b.WriteString("argv " + l + "\n")
	}
	cmd := exec.Command(bash, "--norc", "--noprofile")
	cmd.Dir, cmd.Env = t.TempDir(), []string{"PATH=/usr/bin:/bin"}
	cmd.Stdin = strings.NewReader(b.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("bash: %v: %s\n%s", err, stderr.String(), script)
	}
	var res [][]string
	var cur []string
	for _, f := range strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00") {
		if f == "\x01" {
			res = append(res, cur)
			cur = nil
			continue
		}
		cur = append(cur, f)
	}
	if len(res) != len(lines) {
		t.Fatalf("bash read %d commands from %d lines:\n%s", len(res), len(lines), script)
	}
	return res
}

var checkLine = regexp.MustCompile("^- `(.*?)` (succeeds|prints .*)$")

// NextStepsCommands extracts from a NEXT-STEPS.md the lines of its ```sh blocks (code)
// and the commands of its "Done when" checks (checks), in order.
func NextStepsCommands(md string) (code, checks []string) {
	in := false
	for _, l := range strings.Split(md, "\n") {
		switch {
		case l == "```sh":
			in = true
		case l == "```":
			in = false
		case in:
			code = append(code, l)
		default:
			if m := checkLine.FindStringSubmatch(l); m != nil {
				checks = append(checks, m[1])
			}
		}
	}
	return code, checks
}

// HostileValues returns the hostile-value classes every sweep sends through a tool's
// flags (each appended to a valid value, or for "empty" alone): line breaks, NUL, tab,
// a trailing backslash, shell syntax, quotes, a comment, 10 KB and empty, plus the
// classes in extra (a sweep's own, such as "$(…)" or a brace).
func HostileValues(extra map[string]string) map[string]string {
	m := map[string]string{
		"newline": "\n", "CR": "\r", "NUL": "\x00", "tab": "\t", "trailing backslash": `\`,
		"semicolon": ";", "dollar": "$x", "backtick": "`id`", "single quote": "'", "double quote": `"`,
		"hash": "#c", "10 KB": strings.Repeat("a", 10<<10), "empty": "",
	}
	maps.Copy(m, extra)
	return m
}
