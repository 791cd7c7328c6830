package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Output is a tool's checked stdout: it remembers the first write that failed (a full
// disk, a closed stdout) and from then on writes nothing more, so that the run ends
// with [Output.Exit] saying so instead of exit 0 over a result nobody got. Every tool
// gets one from [Main]; bundle.Command and bundle.Main give the examples theirs.
type Output struct {
	w        io.Writer
	err      error
	reported bool
}

// CheckOutput returns w as an *Output: w itself when it is one already (a run wrapped
// twice reports a failed write once).
func CheckOutput(w io.Writer) *Output {
	if o, ok := w.(*Output); ok {
		return o
	}
	return &Output{w: w}
}

// Write writes p, or returns the first error again once a write has failed.
func (o *Output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		o.err = err
	}
	return n, err
}

// Err is the first write error, nil when every write succeeded.
func (o *Output) Err() error { return o.err }

// Exit is the exit code of a run that returned code with o as its stdout. When a write
// failed, a result was lost: it prints "NAME: writing to stdout: ERROR" on stderr (once,
// and not when [Command.JSON] already said so) and turns ExitOK into ExitFail; every
// other code (ExitFail, --diff's "changed", ExitUsage) is kept.
func (o *Output) Exit(name string, code int, stderr io.Writer) int {
	if o.err == nil {
		return code
	}
	if !o.reported {
		o.reported = true
		fmt.Fprintf(stderr, "%s: writing to stdout: %v\n", name, o.err)
	}
	if code == ExitOK {
		return ExitFail
	}
	return code
}

// Main is every tool's main: it runs run with the process's arguments, stdin, a checked
// stdout ([Output]) and stderr, and returns the exit code for os.Exit, ExitFail when
// run returned ExitOK but a write to stdout failed ([Output.Exit]).
//
//	func main() { os.Exit(cli.Main("v6-envgen", run)) }
func Main(name string, run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int) int {
	out := CheckOutput(os.Stdout)
	return out.Exit(name, run(os.Args[1:], os.Stdin, out, os.Stderr), os.Stderr)
}

// IsStdoutErr reports whether err is the failed write w recorded, w being a tool's
// checked stdout ([Output]): [Output.Exit] names it ("NAME: writing to stdout: …"), so a
// tool that sees it returns [ExitFail] without saying it a second time.
func IsStdoutErr(w io.Writer, err error) bool {
	o, ok := w.(*Output)
	return ok && o.err != nil && errors.Is(err, o.err)
}
