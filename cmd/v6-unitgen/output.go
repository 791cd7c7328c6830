package main

import (
	"fmt"

	"github.com/v6kit/v6kit/internal/cli"

	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

// result is what v6-unitgen did; --json prints it. The plan's fields (mastodon, files,
// enable, start, budget) are at the top level; they are absent when rendering failed.
type result struct {
	*units.Plan
	// Problems are the deployment's problems, errors included when rendering failed.
	Problems report.Problems `json:"problems"`
	// Written says, per unit, what --out did (created, replaced, unchanged).
	Written *units.WriteResult `json:"written,omitempty"`
	// Changed is true when --out replaced or created a unit, or --diff found one to.
	Changed bool `json:"changed"`
	// Diff is what --diff found, in its text form.
	Diff string `json:"diff,omitempty"`
	// Verify is --check's outcome: ok, failed, or why systemd-analyze did not run.
	Verify string `json:"verify,omitempty"`
	// VerifyOutput is what systemd-analyze verify printed when it failed.
	VerifyOutput string `json:"verify_output,omitempty"`
	// Applied lists the units --apply enabled, after daemon-reload, and (re)started.
	Applied []string `json:"applied,omitempty"`
	// Error is the failure that ended the run, other than the problems.
	Error string `json:"error,omitempty"`

	asJSON bool
	cmd    *cli.Command
}

// say prints a line of the human form on stdout; --json prints only the result.
func (r *result) say(format string, a ...any) {
	if !r.asJSON {
		fmt.Fprintf(r.cmd.Stdout, format, a...)
	}
}

// finish prints the result and returns code: the JSON on stdout, or the problems and
// the error on stderr.
func (r *result) finish(code int, err error) int {
	if err != nil {
		r.Error = err.Error()
	}
	if r.Problems == nil {
		r.Problems = report.Problems{}
	}
	if r.asJSON {
		return r.cmd.JSON(code, r)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(r.cmd.Stderr, "v6-unitgen: %s\n", p.Error())
	}
	switch {
	case err != nil && r.VerifyOutput != "":
		fmt.Fprintf(r.cmd.Stderr, "v6-unitgen: %v:\n%s", err, r.VerifyOutput)
	case err != nil:
		fmt.Fprintf(r.cmd.Stderr, "v6-unitgen: %v\n", err)
	}
	return code
}
