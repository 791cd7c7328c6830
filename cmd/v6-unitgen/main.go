// Command v6-unitgen renders the systemd units of a Mastodon host (web, sidekiq split
// by queue, streaming, prometheus exporter, certificate renewal timer) for a Mastodon
// release, checks the PostgreSQL connection budget, and writes, verifies or applies them.
//
//	v6-unitgen --mastodon 4.7 --bind :: --sidekiq default:8,ingress:4@25 --sidekiq push,pull@10 \
//	  --sidekiq mailers@5 --sidekiq scheduler@5 --streaming 4 --max-connections 200 --out /etc/systemd/system
//	v6-unitgen --processes sidekiq --sidekiq push,pull@10 --sidekiq mailers@5   # a worker-only host
//
// Without --out the units are printed. --out DIR writes them, --check runs systemd-analyze
// verify and --diff compares with DIR (both write nothing), --apply reloads, enables and
// (re)starts after writing. --json changes only the output: it prints the plan and what
// was done (each unit created, replaced or unchanged; the diff; the check; the units
// applied) as one JSON object, so --json --out DIR still writes.
//
// Exit status: 0 ok, 1 invalid deployment or failed check/write/apply, 2 usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, code := parseArgs(args, stderr)
	if o == nil {
		return code
	}
	res := &result{asJSON: o.asJSON, stdout: stdout, stderr: stderr}
	plan, err := o.d.Render()
	if err == nil && o.strict {
		err = plan.Problems.Strict()
	}
	res.Plan, res.Problems = plan, report.AsProblems(err)
	if plan != nil {
		res.Problems = plan.Problems
	}
	if err != nil && plan != nil {
		return res.finish(1, errors.New("warnings are errors under --strict: nothing written"))
	}
	if err != nil {
		return res.finish(1, nil)
	}
	ctx := context.Background()
	switch {
	case o.check:
		text, err := plan.Verify(ctx, "")
		switch {
		case errors.Is(err, units.ErrNoAnalyzer):
			res.Verify = err.Error()
		case err != nil:
			res.Verify, res.VerifyOutput = "failed", text
			return res.finish(1, err)
		default:
			res.Verify = "ok"
		}
		res.say("%d units valid; systemd-analyze verify: %s\n", len(plan.Files), res.Verify)
	case o.diff:
		text, err := plan.Diff(o.out)
		if err != nil {
			return res.finish(1, err)
		}
		res.Diff, res.Changed = text, text != ""
		res.say("%s", text)
	case o.out == "":
		for _, f := range plan.Files {
			res.say("# ---- %s\n%s\n", f.Name, f.Bytes())
		}
	default:
		w, err := plan.WriteDir(o.out)
		res.Written, res.Changed = &w, len(w.Changed()) > 0
		if err != nil {
			return res.finish(1, err)
		}
		res.say("%s\n", w)
	}
	res.say("connection budget: %s; headroom %d\n", plan.Budget.Formula, plan.Budget.Headroom)
	if o.apply {
		m, err := units.ConnectDBusManager(ctx, o.bus)
		if err == nil {
			defer m.Close()
			err = units.Apply(ctx, m, plan, units.ApplyOptions{Restart: true})
		}
		if err != nil {
			return res.finish(1, fmt.Errorf("apply: %w", err))
		}
		res.Applied = plan.Enable
		res.say("applied: enabled %s\n", strings.Join(plan.Enable, " "))
	}
	return res.finish(0, nil)
}
