package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/internal/testenv"
)

// hostile are the value classes of issue 19's sweep, each appended to a good value (or,
// for "empty", alone).
var hostile = testenv.HostileValues(map[string]string{"command": "$(touch pwned)"})

// TestHostileSteps hands v6-install an INSTALL-STEPS.json with each hostile class in
// each field a command takes: it is refused before anything runs (exit 1, the field's
// path named), or it reaches the command as exactly that value: the check prints it
// back (printf %s ARG, printenv KEY, pwd) and --plan finds the step done, and nothing
// a shell would have run did run.
func TestHostileSteps(t *testing.T) {
	t.Parallel()
	type field struct {
		path string
		cmd  func(base, v string) bundle.Cmd
	}
	fields := []field{
		{"check[0].args[2]", func(_, v string) bundle.Cmd {
			return bundle.Cmd{Args: []string{"printf", "%s", "x" + v}, Want: "x" + v}
		}},
		{"check[0].env[0]", func(_, v string) bundle.Cmd {
			return bundle.Cmd{Env: []string{"X=x" + v}, Args: []string{"printenv", "X"}, Want: "x" + v}
		}},
		{"check[0].dir", func(base, v string) bundle.Cmd {
			return bundle.Cmd{Dir: base + "/d" + v, Args: []string{"pwd"}, Want: base + "/d" + v}
		}},
		{"check[0].user", func(_, v string) bundle.Cmd { return bundle.Cmd{User: "nobody" + v, Args: []string{"true"}} }},
		{"check[0].args[0]", func(_, v string) bundle.Cmd { return bundle.Cmd{Args: []string{"true" + v}} }},
	}
	var tried, refused, accepted atomic.Int64
	t.Run("sweep", func(t *testing.T) {
		for _, f := range fields {
			for class, bad := range hostile {
				t.Run(f.path+" "+class, func(t *testing.T) {
					t.Parallel()
					tried.Add(1)
					dir := t.TempDir()
					c := f.cmd(dir, bad)
					_ = os.Mkdir(c.Dir, 0o755) // the dir case: it exists, unless the kernel refuses the name
					if class == "empty" {
						c = f.cmd(dir, "")
						switch f.path {
						case "check[0].args[2]":
							c.Args[2], c.Want = "", ""
						case "check[0].args[0]":
							c.Args[0] = ""
						}
					}
					b, err := bundle.StepsJSON([]bundle.Step{{ID: "x", Section: "s", Title: "t", Check: []bundle.Cmd{c}, Fix: "f"}})
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.StepsPath), b, 0o644))
					rc, out, errOut := runCLI("--bundle", dir, "--plan", "--json")
					assert.NoFileExists(t, filepath.Join(dir, "pwned"), "no shell ran the value")
					var res []bundle.StepResult
					if rc != 0 {
						refused.Add(1)
						assert.Equal(t, 1, rc, errOut)
						assert.Contains(t, errOut, "steps[0]."+strings.SplitN(f.path, "[", 2)[0], "the field is named")
						return
					}
					accepted.Add(1)
					t.Logf("accepted: %s %q", f.path, clip(bad))
					require.NoError(t, json.Unmarshal([]byte(out), &res))
					require.Len(t, res, 1)
					if f.path != "check[0].args[0]" && f.path != "check[0].user" {
						assert.Equal(t, bundle.Done, res[0].State, "the command got the value as one argument: %+v", res[0].Failing)
					}
				})
			}
		}
	})
	t.Logf("v6-install: %d (field, value) pairs tried, %d refused, %d accepted and safe", tried.Load(), refused.Load(), accepted.Load())
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
