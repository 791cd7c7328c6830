// Command v6-install runs the install steps of a v6kit bundle on this host: the steps
// NEXT-STEPS.md lists, read from the bundle's INSTALL-STEPS.json. Each step is checked
// first and run only when it is not done; a re-run finds every step done.
//
//	v6-install --bundle ./site --plan    # print each step and whether it is done; change nothing
//	v6-install --bundle ./site --apply   # run the steps not done yet, stop at the first failure
//
// Run it as root from anywhere: every command starts in the bundle directory. Exit 0
// when every step is done, 1 on a failure (step, command, output and the fix are
// printed), 2 on usage errors.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/v6kit/v6kit/bundle"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("v6-install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("bundle", "", "the bundle directory (holds INSTALL-STEPS.json and the files)")
	plan := fs.Bool("plan", false, "print each step and whether it is done; change nothing")
	apply := fs.Bool("apply", false, "run every step that is not done yet")
	only := fs.String("only", "", "comma-separated step ids to consider (default: all)")
	jsonOut := fs.Bool("json", false, "print the results as JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *dir == "" || *plan == *apply || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: v6-install --bundle DIR (--plan | --apply) [--only IDS] [--json]")
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "v6-install: --bundle: %v\n", err)
		return 2
	}
	steps, err := bundle.ReadSteps(abs)
	if err != nil {
		fmt.Fprintf(stderr, "v6-install: %v\n", err)
		return 1
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
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "v6-install: %v\n", err)
		return 1
	}
	if *apply {
		fmt.Fprintf(stdout, "every step is done (%d)\n", len(res))
	}
	return 0
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
