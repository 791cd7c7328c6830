package main

import (
	"fmt"
	"io"

	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/report"
)

func finish(stdout, stderr io.Writer, ps report.Problems, strict bool, do func() error) int {
	for _, p := range ps.Sorted() {
		fmt.Fprintf(stderr, "v6-pgsetup: %s\n", p.Error())
	}
	if ps.Err() != nil {
		return 1
	}
	if strict && ps.Strict() != nil {
		return 1
	}
	if err := do(); err != nil {
		if !printed(err, ps) && !cli.IsStdoutErr(stdout, err) { // a failed stdout: cli.Main says it
			fmt.Fprintf(stderr, "v6-pgsetup: %v\n", err)
		}
		return 1
	}
	return 0
}

// printed reports whether every problem err carries is already among ps (and so was
// printed above); a plain error, or problems the result does not hold (pg_hba.conf
// parse errors, lines the server rejected), are not.
func printed(err error, ps report.Problems) bool {
	list := report.AsProblems(err)
	if list == nil {
		return false
	}
	for _, p := range list {
		found := false
		for _, q := range ps {
			if p.Path == q.Path && p.Message == q.Message {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func printResult(w io.Writer, r *pgsetup.Result) {
	verb := "changed"
	if r.DryRun {
		verb = "would change"
	}
	if r.Server.Version != "" {
		fmt.Fprintf(w, "server: PostgreSQL %s, max_connections %d, hba_file %s\n", r.Server.Version, r.Server.MaxConnections, r.Server.HBAFile)
	}
	if r.HBA.Diff != "" {
		fmt.Fprint(w, r.HBA.Diff)
	}
	for _, c := range r.Changes {
		fmt.Fprintf(w, "%s: %s: %s\n", verb, c.What, c.Detail)
	}
	if len(r.Changes) == 0 && r.Server.Version != "" {
		fmt.Fprintln(w, "nothing to change")
	}
	if r.Budget.Formula != "" {
		fmt.Fprintf(w, "budget: %s\n", r.Budget.Formula)
	}
	for _, l := range r.Logins {
		state := "ok"
		if !l.OK {
			state = "FAILED"
		}
		switch {
		case l.HBALine > 0:
			fmt.Fprintf(w, "login over %s: %s (%s, pg_hba.conf line %d)", l.Via, state, l.Method, l.HBALine)
		case l.HBANote != "":
			fmt.Fprintf(w, "login over %s: %s (pg_hba.conf line unknown: %s)", l.Via, state, l.HBANote)
		default:
			fmt.Fprintf(w, "login over %s: %s", l.Via, state)
		}
		if !l.OK {
			fmt.Fprintf(w, ": %v", l.Err)
		}
		fmt.Fprintln(w)
	}
}
