package main

import (
	"github.com/v6kit/v6kit/internal/fsutil"

	"bytes"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/report"
)

// result is what v6-envgen reports; --json prints it as is. It never holds a secret value.
type result struct {
	File      string          `json:"file"`
	Mastodon  string          `json:"mastodon"`
	Written   bool            `json:"written"`
	Changed   bool            `json:"changed"`
	Backup    string          `json:"backup,omitempty"`
	Generated []string        `json:"generated,omitempty"`
	Problems  report.Problems `json:"problems"`
	Diff      string          `json:"diff,omitempty"`
	Error     string          `json:"error,omitempty"`

	cmd  *cli.Command
	mode fs.FileMode // the written file's mode, for the summary line
}

// code is 1 when the problems hold an error (or, under --strict, a warning), else 0.
func (r *result) code(strict bool) int {
	err := r.Problems.Err()
	if strict {
		err = r.Problems.Strict()
	}
	if err != nil {
		return 1
	}
	return 0
}

// finish prints the result and returns code: JSON on stdout, or the problems on stderr
// and a one-line summary on stdout.
func (r *result) finish(code int, err error, asJSON, strict bool, stdout, stderr io.Writer) int {
	if err != nil {
		r.Error = err.Error()
	}
	if r.Problems == nil {
		r.Problems = report.Problems{}
	}
	if asJSON {
		return r.cmd.JSON(code, r)
	}
	for _, p := range r.Problems.Sorted() {
		fmt.Fprintln(stderr, "v6-envgen:", p.Error())
	}
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "v6-envgen:", err)
	case r.Diff != "":
		// --diff printed the change; its exit code 1 says "something would change".
	case code != 0 && strict && !r.Problems.HasErrors():
		fmt.Fprintf(stderr, "v6-envgen: warnings are errors under --strict: %s left unchanged\n", r.File)
	case code != 0:
		fmt.Fprintf(stderr, "v6-envgen: %d error(s): %s left unchanged\n", len(r.Problems.Errors()), r.File)
	case r.Written && r.Changed:
		var what []string
		if r.mode != 0 { // the mode the file has now; not stat'ed: no guess
			what = append(what, fmt.Sprintf("mode %04o", r.mode))
		}
		if len(r.Generated) > 0 {
			what = append(what, "generated "+strings.Join(r.Generated, ", "))
		}
		line := fmt.Sprintf("wrote %s for Mastodon %s", r.File, r.Mastodon)
		if len(what) > 0 {
			line += " (" + strings.Join(what, "; ") + ")"
		}
		fmt.Fprintln(stdout, line)
		if r.Backup != "" {
			fmt.Fprintf(stdout, "previous content kept in %s\n", r.Backup)
		}
	case r.Written:
		fmt.Fprintf(stdout, "%s is up to date for Mastodon %s: nothing changed\n", r.File, r.Mastodon)
	case r.Diff == "" && !r.Changed && r.Error == "" && len(r.Problems.Errors()) == 0 && r.Generated == nil:
		fmt.Fprintf(stdout, "%s: ok for Mastodon %s\n", r.File, r.Mastodon)
	}
	return code
}

// readSecretFile reads a password from a file: one trailing newline is dropped; a value
// with another newline, a NUL or nothing at all is refused (and never echoed).
func readSecretFile(name string) (string, error) {
	b, err := fsutil.ReadInput(name) // a FIFO is refused, never read blocking
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("%s is empty", name)
	case bytes.ContainsAny(b, "\n\r\x00"):
		return "", fmt.Errorf("%s holds more than one line or a NUL byte: a password must be one line", name)
	}
	return string(b), nil
}
