// Command v6-install runs the install steps of a v6kit bundle on this host: the steps
// NEXT-STEPS.md lists, read from the bundle's INSTALL-STEPS.json. Each step is checked
// first and run only when it is not done; a re-run finds every step done.
//
//	v6-install --bundle ./site --plan    # print each step and whether it is done; change nothing
//	v6-install --bundle ./site --apply   # run the steps not done yet, stop at the first failure
//
// Run it as root from anywhere: every command starts in the bundle directory. Exit 0
// when every step is done, 1 on a failure (step, command, output and the fix are
// printed) or when another run holds the bundle's lock under --no-wait (--apply waits
// for it otherwise, naming its PID), 2 on usage errors. The command line follows
// internal/cli's conventions.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/internal/cli"
)

func main() { os.Exit(cli.Main("v6-install", run)) }

// exits are v6-install's exit codes.
var exits = []cli.Exit{
	{Code: cli.ExitOK, What: "every step is done (--plan: the plan was printed)"},
	{Code: cli.ExitFail, What: "a step failed (step, command, output and the fix are printed), the bundle can't be read, or another run holds the bundle's lock under --no-wait"},
	{Code: cli.ExitUsage, What: "usage error: unknown or empty flag, not exactly one of --plan and --apply; nothing done"},
}

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cmd := cli.New("v6-install", "v6-install --bundle DIR (--plan | --apply) [--only IDS] [--json] [--no-wait]", stdout, stderr)
	cmd.Exits = exits
	fs := cmd.Flags
	dir := fs.String("bundle", "", "the bundle `DIR`ectory (holds INSTALL-STEPS.json and the files; required)")
	plan := fs.Bool("plan", false, "print each step and whether it is done; change nothing")
	apply := fs.Bool("apply", false, "run every step that is not done yet, under the bundle's lock (the one the example that writes DIR takes)")
	only := fs.String("only", "", "comma-separated step `IDS` to consider, a trailing * matches a prefix (default: all)")
	jsonOut := fs.Bool("json", false, "print the results as JSON")
	lock := cmd.NoWait()
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	switch {
	case *dir == "":
		return cmd.Usage("--bundle DIR is required")
	case *plan == *apply:
		return cmd.Usage("give exactly one of --plan and --apply")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return cmd.Usage("--bundle: %v", err)
	}
	if *apply {
		// Two applies of one bundle never run at once, nor an apply while the example
		// rewrites the tree: the bundle's lock is the tree's (.DIR.v6kit-lock beside it).
		lk, err := lock.Take(abs)
		if err != nil {
			return cmd.Fail(err)
		}
		defer lk.Unlock()
	}
	steps, err := bundle.ReadSteps(abs)
	if err != nil {
		return cmd.Fail(err)
	}
	if *only != "" {
		steps = filter(steps, strings.Split(*only, ","))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	in := bundle.Installer{Dir: abs}
	if !*jsonOut {
		in.Log = stdout
	}
	var res []bundle.StepResult
	if *plan {
		res = in.Plan(ctx, steps)
	} else {
		res, err = in.Apply(ctx, steps)
	}
	code := cli.ExitOK
	if err != nil {
		fmt.Fprintf(stderr, "v6-install: %v\n", err)
		code = cli.ExitFail
	}
	if *jsonOut {
		if res == nil {
			res = []bundle.StepResult{}
		}
		return cmd.JSON(code, res)
	}
	if code == cli.ExitOK && *apply {
		fmt.Fprintf(stdout, "every step is done (%d)\n", len(res))
	}
	return code
}

func filter(steps []bundle.Step, ids []string) []bundle.Step {
	var out []bundle.Step
	for _, s := range steps {
		for _, id := range ids {
			if s.ID == id || strings.HasSuffix(id, "*") && strings.HasPrefix(s.ID, strings.TrimSuffix(id, "*")) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
