package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// ReadSteps reads INSTALL-STEPS.json from the bundle directory dir and checks it with
// [CheckSteps]: nothing of a file that does not pass is ever run.
func ReadSteps(dir string) ([]Step, error) {
	b, err := os.ReadFile(filepath.Join(dir, StepsPath))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSteps, err)
	}
	var f StepsFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSteps, StepsPath, err)
	}
	if err := CheckSteps(f.Steps).Err(); err != nil {
		return nil, err
	}
	return f.Steps, nil
}

// Installer runs install steps on this host, from the bundle directory Dir. The zero
// value runs commands with os/exec in the current directory and prints nothing.
type Installer struct {
	// Dir is the bundle directory every command starts in. Empty: the current directory.
	Dir string
	// Log receives each step's state and the output of the commands run. Nil: discarded.
	Log io.Writer
	// Exec runs one argv in dir and returns its standard output and both outputs
	// together. Nil: os/exec (the environment is the installer's).
	Exec func(ctx context.Context, dir string, argv []string) (stdout, combined []byte, err error)
}

// State is what the installer found or did for one step.
type State string

// The states of a step.
const (
	// Done: every check passed before anything ran.
	Done State = "done"
	// Todo: a check failed (under Plan: the step would run).
	Todo State = "to do"
	// Ran: the step's commands ran and its checks pass now.
	Ran State = "ran"
	// Failed: a command failed, or the checks still fail after running it.
	Failed State = "failed"
)

// StepResult is one step's outcome.
type StepResult struct {
	Step  Step  `json:"step"`
	State State `json:"state"`
	// Failing is the first check that failed (before running, or after).
	Failing *CheckResult `json:"failing,omitempty"`
}

// CheckResult is a check's outcome: why it did not pass.
type CheckResult struct {
	Cmd Cmd `json:"cmd"`
	// Why says what was wrong: the exit status, or what was printed instead of Want/Min.
	Why string `json:"why"`
}

// Failure is the error of Apply: the step, the command, its output and the fix.
type Failure struct {
	Step   Step
	Cmd    Cmd
	Output string
	Err    error
	Fix    string
}

func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %s (%s) failed\n  command: %s\n", f.Step.ID, f.Step.Title, ShellJoin(f.Cmd.Line()))
	if f.Err != nil {
		fmt.Fprintf(&b, "  error: %v\n", f.Err)
	}
	if out := strings.TrimSpace(f.Output); out != "" {
		fmt.Fprintf(&b, "  output:\n    %s\n", strings.ReplaceAll(out, "\n", "\n    "))
	}
	fmt.Fprintf(&b, "  fix: %s", f.Fix)
	return b.String()
}

func (in Installer) exec(ctx context.Context, c Cmd) ([]byte, []byte, error) {
	argv := c.Line()
	if in.Exec != nil {
		return in.Exec(ctx, in.Dir, argv)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = in.Dir
	var out bytes.Buffer
	all := &lockedBuffer{}
	cmd.Stdout = io.MultiWriter(&out, all)
	cmd.Stderr = all
	err := cmd.Run()
	return out.Bytes(), all.b.Bytes(), err
}

// lockedBuffer is the combined output: stdout and stderr are copied by two goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (in Installer) logf(format string, args ...any) {
	if in.Log != nil {
		fmt.Fprintf(in.Log, format, args...)
	}
}

// check runs the step's checks in order and returns the first that fails (nil: done).
func (in Installer) check(ctx context.Context, st Step) *CheckResult {
	for _, c := range st.Check {
		out, all, err := in.exec(ctx, c)
		if err != nil {
			why := err.Error()
			if o := strings.TrimSpace(string(all)); o != "" {
				why += ": " + firstLine(o)
			}
			return &CheckResult{Cmd: c, Why: why}
		}
		got := strings.TrimSpace(string(out))
		if c.Want != "" && got != c.Want {
			return &CheckResult{Cmd: c, Why: fmt.Sprintf("printed %q, want %q", got, c.Want)}
		}
		if c.Min != "" {
			v := versionIn(got)
			if v == "" {
				return &CheckResult{Cmd: c, Why: fmt.Sprintf("printed %q: no version in it", firstLine(got))}
			}
			if compareVersions(v, c.Min) < 0 {
				return &CheckResult{Cmd: c, Why: fmt.Sprintf("version %s is older than %s", v, c.Min)}
			}
		}
	}
	return nil
}

// Plan runs every step's checks (they only read) and reports which steps are done and
// which would run. It changes nothing.
func (in Installer) Plan(ctx context.Context, steps []Step) []StepResult {
	var res []StepResult
	for _, st := range steps {
		r := StepResult{Step: st, State: Done}
		if f := in.check(ctx, st); f != nil {
			r.State, r.Failing = Todo, f
		}
		in.logf("%-6s %s: %s\n", r.State, st.ID, st.Title)
		if r.Failing != nil {
			in.logf("       because %s %s\n", ShellJoin(r.Failing.Cmd.Line()), r.Failing.Why)
			for _, c := range st.Run {
				in.logf("       would run: %s\n", ShellJoin(c.Line()))
			}
		}
		res = append(res, r)
	}
	return res
}

// Apply runs each step that is not done yet, in order, and checks it again afterwards;
// it stops at the first failure and returns it as a *[Failure]. A step without
// commands (a requirement) fails when its check does. Re-running Apply finds every
// step done and runs nothing.
func (in Installer) Apply(ctx context.Context, steps []Step) ([]StepResult, error) {
	var res []StepResult
	for _, st := range steps {
		f := in.check(ctx, st)
		if f == nil {
			in.logf("done   %s: %s\n", st.ID, st.Title)
			res = append(res, StepResult{Step: st, State: Done})
			continue
		}
		if len(st.Run) == 0 {
			res = append(res, StepResult{Step: st, State: Failed, Failing: f})
			return res, &Failure{Step: st, Cmd: f.Cmd, Output: f.Why, Fix: st.Fix}
		}
		in.logf("run    %s: %s\n", st.ID, st.Title)
		for _, c := range st.Run {
			in.logf("  # %s\n", ShellJoin(c.Line()))
			_, all, err := in.exec(ctx, c)
			if len(all) > 0 {
				in.logf("%s", indent(all))
			}
			if err != nil {
				res = append(res, StepResult{Step: st, State: Failed})
				return res, &Failure{Step: st, Cmd: c, Output: string(all), Err: err, Fix: st.Fix}
			}
		}
		if f := in.check(ctx, st); f != nil {
			res = append(res, StepResult{Step: st, State: Failed, Failing: f})
			return res, &Failure{Step: st, Cmd: f.Cmd, Output: "ran, but the check still fails: " + f.Why, Fix: st.Fix}
		}
		res = append(res, StepResult{Step: st, State: Ran})
	}
	return res, nil
}

// AsFailure returns the *Failure in err's chain.
func AsFailure(err error) (*Failure, bool) {
	var f *Failure
	ok := errors.As(err, &f)
	return f, ok
}

func indent(b []byte) string {
	s := strings.TrimRight(string(b), "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

var versionRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)*`)

// versionIn is the first dotted number in s ("v22.4.1" → "22.4.1").
func versionIn(s string) string { return versionRE.FindString(s) }

// compareVersions compares dotted numbers part by part; missing parts are 0.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
