package network

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Verdict is the report's one-line summary.
func (r *Report) Verdict() string {
	req, failed := 0, r.Failed()
	warns := 0
	for _, c := range r.Checks {
		if c.Required {
			req++
		}
		if c.State == Warn {
			warns++
		}
	}
	if len(failed) == 0 {
		s := fmt.Sprintf("PASS: %s is ready over IPv6 (%s): %d required checks passed", r.WebDomain, familyWords(r.Family), req)
		if warns > 0 {
			s += fmt.Sprintf(", %d warning(s)", warns)
		}
		return s
	}
	// Failed and skipped (or not checked) are told apart: a dead resolver fails a few
	// checks and leaves the rest unchecked, which is not the same as failing them.
	nfail, nskip := 0, 0
	ids := make([]string, 0, len(failed))
	for _, c := range failed {
		if c.State == Fail {
			nfail++
			ids = append(ids, c.ID)
		} else {
			nskip++
		}
	}
	if len(ids) > 4 {
		ids = append(ids[:4], "…")
	}
	s := fmt.Sprintf("FAIL: %d of %d required checks failed", nfail, req)
	if nskip > 0 {
		s += fmt.Sprintf(", %d skipped or not checked", nskip)
	}
	if len(ids) > 0 {
		s += " (" + strings.Join(ids, ", ") + ")"
	}
	return s
}

func familyWords(f Family) string {
	if f == DualStack {
		return "dual-stack"
	}
	return "IPv6-only"
}

// WriteText writes the report for people: a header, the verdict, the checks grouped by
// layer with their hints, then the diagnoses.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	web := r.WebDomain
	if web != r.Domain {
		web = r.Domain + " (web " + r.WebDomain + ")"
	}
	fmt.Fprintf(bw, "v6-probe %s, %s, Mastodon %s, %d ms\n", web, familyWords(r.Family), r.Release, r.Duration.Milliseconds())
	fmt.Fprintf(bw, "%s\n", r.Verdict())
	for _, g := range Groups() {
		var cs []Check
		for _, c := range r.Checks {
			if c.Group == g {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n%s\n", g)
		for _, c := range cs {
			mark := c.State.String()
			if !c.Required && (c.State == Fail) {
				mark = "fail*"
			}
			detail := c.Detail
			if detail == "" {
				detail = c.Title
			}
			fmt.Fprintf(bw, "  %-11s %-40s %s (%s)\n", mark, c.ID, detail, fmtDur(c.Duration))
			if c.Hint != "" && c.State != OK {
				fmt.Fprintf(bw, "  %-11s %-40s hint: %s\n", "", "", c.Hint)
			}
		}
	}
	if len(r.Diagnoses) > 0 {
		fmt.Fprintf(bw, "\ndiagnoses\n")
		for _, d := range r.Diagnoses {
			fmt.Fprintf(bw, "  %s [%s]\n      %s\n", d.Cause, strings.Join(d.Evidence, ", "), d.Hint)
		}
	}
	if slices.ContainsFunc(r.Checks, func(c Check) bool { return !c.Required && c.State == Fail }) {
		fmt.Fprintf(bw, "\n(fail* = optional check, does not fail the verdict)\n")
	}
	return bw.Flush()
}

func fmtDur(d time.Duration) string {
	if d < time.Millisecond {
		return "<1 ms"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// WriteJSON writes the report as indented JSON (the same struct WriteText renders).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
