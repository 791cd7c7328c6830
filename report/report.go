// Package report is the validation report every v6kit package returns: a list of
// [Problem] values, each with a user-facing path, a severity, a message that says how
// to fix it, and the underlying sentinel error.
//
// It exists so that a Validate call reports every problem at once, in a stable order,
// in the same shape for .env.production, systemd units, nginx sites and pg_hba rules,
// and so that CLIs can print them alike and fail on warnings only under --strict.
// [Problems.Err] is nil unless at least one problem is an [Error].
package report

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Severity says whether a problem stops a write ([Error]) or is advice ([Warning]).
type Severity int

const (
	// Error makes Validate fail: the artifact is not written.
	Error Severity = iota
	// Warning is reported but does not fail, except under a CLI's --strict.
	Warning
	// Info is a note (a conversion that was made, a default that was chosen).
	Info
)

// String returns "error", "warning" or "info".
func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	case Info:
		return "info"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText makes a Severity print as its name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Problem is one finding of a validation.
type Problem struct {
	// Path names the offending field or place, as the user wrote it:
	// "LOCAL_DOMAIN", ".env.production:12", "sidekiq[1].queues[0]".
	Path string `json:"path"`
	// Severity says whether the problem blocks a write.
	Severity Severity `json:"severity"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
	// Err is the underlying sentinel (from the package's errors.go), if any.
	Err error `json:"-"`
}

// Error formats the problem as "path: message" for an error and "path: severity:
// message" for a warning or a note.
func (p Problem) Error() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	if p.Severity != Error {
		b.WriteString(p.Severity.String())
		b.WriteString(": ")
	}
	msg := p.Message
	if msg == "" && p.Err != nil {
		msg = p.Err.Error()
	}
	b.WriteString(msg)
	return b.String()
}

// Unwrap returns the underlying sentinel, so errors.Is(problem, pkg.ErrX) works.
func (p Problem) Unwrap() error { return p.Err }

// Problems is a validation report. The zero value is an empty report, ready to use.
type Problems []Problem

// Add appends a problem.
func (ps *Problems) Add(p Problem) { *ps = append(*ps, p) }

// Errorf appends an error at path, wrapping sentinel, with a formatted message.
func (ps *Problems) Errorf(path string, sentinel error, format string, args ...any) {
	ps.Add(Problem{Path: path, Severity: Error, Message: fmt.Sprintf(format, args...), Err: sentinel})
}

// Warnf appends a warning at path, wrapping sentinel, with a formatted message.
func (ps *Problems) Warnf(path string, sentinel error, format string, args ...any) {
	ps.Add(Problem{Path: path, Severity: Warning, Message: fmt.Sprintf(format, args...), Err: sentinel})
}

// Infof appends a note at path.
func (ps *Problems) Infof(path string, format string, args ...any) {
	ps.Add(Problem{Path: path, Severity: Info, Message: fmt.Sprintf(format, args...)})
}

// Append adds every problem of other, with prefix joined in front of each path
// ("sidekiq[1]" + "queues[0]" → "sidekiq[1].queues[0]").
func (ps *Problems) Append(prefix string, other Problems) {
	for _, p := range other {
		p.Path = JoinPath(prefix, p.Path)
		ps.Add(p)
	}
}

// JoinPath joins a parent and a child path with a dot, leaving index suffixes
// ("[2]") and line suffixes (":12") attached.
func JoinPath(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case strings.HasPrefix(child, "[") || strings.HasPrefix(child, ":"):
		return parent + child
	}
	return parent + "." + child
}

// Errors returns only the problems of severity Error.
func (ps Problems) Errors() Problems { return ps.filter(func(s Severity) bool { return s == Error }) }

// Warnings returns only the problems of severity Warning.
func (ps Problems) Warnings() Problems {
	return ps.filter(func(s Severity) bool { return s == Warning })
}

func (ps Problems) filter(keep func(Severity) bool) Problems {
	var out Problems
	for _, p := range ps {
		if keep(p.Severity) {
			out = append(out, p)
		}
	}
	return out
}

// HasErrors reports whether any problem is an Error.
func (ps Problems) HasErrors() bool { return len(ps.Errors()) > 0 }

// Err returns nil when no problem is an Error, and otherwise an error that lists the
// errors (warnings and notes left out) and unwraps to each of them in order.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &ListError{Problems: errs}
}

// Strict is Err with warnings counted as errors (a CLI's --strict).
func (ps Problems) Strict() error {
	bad := ps.filter(func(s Severity) bool { return s != Info })
	if len(bad) == 0 {
		return nil
	}
	return &ListError{Problems: bad}
}

// Sorted returns a copy ordered by severity, then path, then message: a stable order for
// output that does not depend on the order checks ran in.
func (ps Problems) Sorted() Problems {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Severity, b.Severity), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return out
}

// String lists the problems one per line.
func (ps Problems) String() string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

// ListError is the error returned by [Problems.Err] and [Problems.Strict].
type ListError struct {
	Problems Problems
}

// Error lists every problem, one per line after the first.
func (e *ListError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].Error()
	}
	return fmt.Sprintf("%d problems:\n%s", len(e.Problems), strings.TrimSuffix(e.Problems.String(), "\n"))
}

// Unwrap returns each problem, so errors.Is finds any sentinel in the list.
func (e *ListError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// AsProblems extracts the problem list from an error returned by [Problems.Err],
// or returns nil if err is not one.
func AsProblems(err error) Problems {
	var le *ListError
	if errors.As(err, &le) {
		return le.Problems
	}
	return nil
}
