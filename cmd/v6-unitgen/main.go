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
// Exit status: 0 ok (--diff: nothing would change), 1 invalid deployment, failed
// check/write/apply or (--diff) something would change, 2 usage. The conventions are
// internal/cli's.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

func main() { os.Exit(cli.Main("v6-unitgen", run)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, code := parseArgs(args, stdout, stderr)
	if o == nil {
		return code
	}
	res := &result{asJSON: o.asJSON, cmd: o.cmd}
	plan, err := o.d.Render()
	var why error
	if plan != nil && !o.allowUnknownQueue && queueTypos(plan.Problems) {
		why = errors.New("a --sidekiq queue name the release doesn't have is an error (a typo would leave its jobs unrun): fix it, or give --allow-unknown-queue; nothing written")
	}
	if err == nil && why == nil && o.strict && plan.Problems.Strict() != nil {
		why = errors.New("warnings are errors under --strict: nothing written")
	}
	res.Plan, res.Problems = plan, report.AsProblems(err)
	if plan != nil {
		res.Problems = plan.Problems
	}
	res.Problems = o.cmd.FlagPaths(res.Problems, fieldFlags)
	if why != nil {
		return res.finish(1, why)
	}
	if err != nil {
		return res.finish(1, nil)
	}
	ctx := context.Background()
	switch {
	case o.check:
		verify := func() (string, error) { return plan.VerifyOffline(ctx, "", "") }
		if o.checkInstalled {
			verify = func() (string, error) { return plan.Verify(ctx, "") }
		}
		text, err := verify()
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
		text, err := diffDir(plan, o.out)
		if err != nil {
			return res.finish(1, err)
		}
		res.Diff, res.Changed = text, text != ""
		res.say("%s", text)
		res.say("connection budget: %s; headroom %d\n", plan.Budget.Formula, plan.Budget.Headroom)
		return res.finish(cli.DiffCode(res.Changed), nil)
	case o.out == "":
		for _, f := range plan.Files {
			res.say("# ---- %s\n%s\n", f.Name, f.Bytes())
		}
	default:
		if err := os.Mkdir(o.out, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return res.finish(1, fmt.Errorf("--out: %w", err))
		}
		w, err := plan.WriteDirOpts(o.out, units.WriteOptions{NoWait: o.lock.NoWait(), Waiting: o.lock.Waiting})
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

// queueTypos reports whether a process lists a queue the release doesn't have (the
// renderer's warning at sidekiq[i].queues[j]).
func queueTypos(ps report.Problems) bool {
	for _, p := range ps {
		if errors.Is(p.Err, units.ErrUnknownQueue) && strings.Contains(p.Path, ".queues[") {
			return true
		}
	}
	return false
}

// diffDir is --diff: each unit against its file in dir (missing: empty), in the one
// unified format. A file is read as --out would find it (fsutil.ReadExisting): a FIFO,
// socket or directory there is refused at once, a dangling link is an error.
func diffDir(plan *units.Plan, dir string) (string, error) {
	var b strings.Builder
	for _, f := range plan.Files {
		name := filepath.Join(dir, f.Name)
		old, _, err := fsutil.ReadExisting(name)
		if err != nil {
			return "", fmt.Errorf("--diff: %w", err)
		}
		b.WriteString(cli.Diff(name, string(old), string(f.Bytes())))
	}
	return b.String(), nil
}

// fieldFlags names the Deployment fields whose first path segment is no flag name.
var fieldFlags = map[string]string{"cert_renew": "--cert-renew", "web.port": "--web-port", "web.workers": "--web-workers",
	"web.threads": "--web-threads", "streaming.instances": "--streaming", "streaming.pool": "--streaming-pool",
	"paths.home": "--home", "paths.app": "--app", "paths.bundle": "--bundle", "paths.node": "--node", "paths.npm": "--npm",
	"paths.certs": "--certs", "paths.jemalloc": "--jemalloc", "read_write_paths": "--read-write-path"}
