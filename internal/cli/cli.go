// Package cli holds the command-line conventions every v6kit tool shares, implemented
// once: -h/--help (exit 0; a synopsis line, then the flags, then the exit codes), usage
// errors (exit 2, naming the flag as the user typed it, with a double dash), a flag given
// explicitly with an empty value (a usage error), --mastodon (a usage error when the
// release is unknown), --family (ipv6-only or dual-stack; the old spellings v6only and
// dual are aliases), --out (its directory must exist: "create it first"), --diff (one
// unified format; exit 1 when something would change), --json, and --no-wait (a
// second run waits for the lock holder, naming its PID, or with --no-wait fails at
// once). A result that could not be written to stdout (a full disk, a closed stdout),
// JSON or plain text, is exit 1 naming stdout and the error: every tool's main is
// [Main], whose checked stdout ([Output]) turns exit 0 into 1 after a failed write.
//
// It is for the binaries under cmd/ and the command lines of bundle and the examples;
// other libraries never import it.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/internal/textdiff"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// The exit codes every tool uses.
const (
	// ExitOK: done, nothing would change (--diff), or every required check passed.
	ExitOK = 0
	// ExitFail: invalid input found by validation, a failed check or write (a result
	// that could not be written to stdout included), or (--diff) something would change.
	ExitFail = 1
	// ExitUsage: a usage error; nothing was done.
	ExitUsage = 2
)

// Exit documents one exit code in -h.
type Exit struct {
	Code int
	What string
}

// StandardExits are the exit codes of a tool that writes and has --diff.
var StandardExits = []Exit{
	{ExitOK, "done (or nothing to change); with --diff: nothing would change"},
	{ExitFail, "invalid input, a failed check or write (nothing half-written), another run holding the lock under --no-wait; with --diff: something would change"},
	{ExitUsage, "usage error: unknown flag or --mastodon, empty flag value, missing --out directory; nothing done"},
}

// Command is one tool's command line: a flag.FlagSet plus the conventions.
type Command struct {
	// Name is the program name that starts every message ("v6-envgen").
	Name string
	// Synopsis is the usage line printed by -h after "usage: ".
	Synopsis string
	// Exits are the exit codes -h documents (nil: StandardExits).
	Exits []Exit
	// Flags are the tool's flags; bind them before Parse.
	Flags *flag.FlagSet

	Stdout, Stderr io.Writer

	allowEmpty map[string]bool
	given      map[string]bool
}

// New returns a Command whose flags are bound by the caller.
func New(name, synopsis string, stdout, stderr io.Writer) *Command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &Command{Name: name, Synopsis: synopsis, Flags: fs, Stdout: stdout, Stderr: stderr,
		allowEmpty: map[string]bool{}, given: map[string]bool{}}
}

// AllowEmpty exempts flags from the empty-value rule (a flag whose empty value means
// something, documented in its usage).
func (c *Command) AllowEmpty(names ...string) {
	for _, n := range names {
		c.allowEmpty[n] = true
	}
}

// ErrEmpty is the reason a flag given with an empty value is refused.
var ErrEmpty = errors.New("empty value: give a value or leave the flag out")

// nonEmpty wraps a flag's value so that an explicit empty value is refused.
type nonEmpty struct{ flag.Value }

func (v nonEmpty) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return ErrEmpty
	}
	return v.Value.Set(s)
}

// Get keeps flag.Getter working through the wrapper.
func (v nonEmpty) Get() any {
	if g, ok := v.Value.(flag.Getter); ok {
		return g.Get()
	}
	return nil
}

// Parse parses args. When ok is false the caller returns code at once: -h printed the
// help (0), or a usage error was printed (2). Positional arguments are a usage error
// unless the caller sets positional.
func (c *Command) Parse(args []string) (code int, ok bool) {
	return c.parse(args, false)
}

// ParsePositional is Parse for a tool that takes positional arguments (read them with
// c.Flags.Args()).
func (c *Command) ParsePositional(args []string) (code int, ok bool) {
	return c.parse(args, true)
}

func (c *Command) parse(args []string, positional bool) (int, bool) {
	c.Flags.VisitAll(func(f *flag.Flag) {
		if c.allowEmpty[f.Name] {
			return
		}
		if b, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool && b.IsBoolFlag() {
			return
		}
		if _, done := f.Value.(nonEmpty); !done {
			f.Value = nonEmpty{f.Value}
		}
	})
	err := c.Flags.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.PrintHelp(c.Stdout)
		return ExitOK, false
	}
	if err != nil {
		return c.Usage("%s", dashes(err.Error())), false
	}
	c.Flags.Visit(func(f *flag.Flag) { c.given[f.Name] = true })
	if !positional && c.Flags.NArg() > 0 {
		return c.Usage("unexpected argument %q", c.Flags.Arg(0)), false
	}
	return ExitOK, true
}

// dashes rewrites the flag package's "-name" to the "--name" the documentation uses.
func dashes(s string) string {
	for _, p := range []string{"for flag -", "not defined: -", "argument: -"} {
		s = strings.Replace(s, p, strings.TrimSuffix(p, "-")+"--", 1)
	}
	return strings.Replace(s, "for flag --", "for --", 1)
}

// Given reports whether the flag was on the command line.
func (c *Command) Given(name string) bool { return c.given[name] }

// Usage prints "NAME: message (see NAME -h)" on stderr and returns ExitUsage.
func (c *Command) Usage(format string, a ...any) int {
	fmt.Fprintf(c.Stderr, "%s: %s (see %s -h)\n", c.Name, fmt.Sprintf(format, a...), c.Name)
	return ExitUsage
}

// Fail prints "NAME: err" on stderr and returns ExitFail.
func (c *Command) Fail(err error) int {
	fmt.Fprintf(c.Stderr, "%s: %v\n", c.Name, err)
	return ExitFail
}

// PrintHelp writes the help: the synopsis, the flags, the exit codes.
func (c *Command) PrintHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\nflags:\n", c.Synopsis)
	c.Flags.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		def := f.DefValue
		if def != "" && def != "false" && def != "0" && def != "[]" && !strings.Contains(usage, "default") {
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, strings.ReplaceAll(usage, "\n", "\n      "))
	})
	exits := c.Exits
	if exits == nil {
		exits = StandardExits
	}
	fmt.Fprintln(w, "\nexit codes:")
	for _, e := range exits {
		fmt.Fprintf(w, "  %d  %s\n", e.Code, e.What)
	}
}

// Release binds --mastodon into p (flag.TextVar: an unknown release is a usage error).
func (c *Command) Release(p *mastodon.Release) {
	c.Flags.TextVar(p, "mastodon", *p, "target Mastodon `version`, e.g. 4.7 or v4.5.2 (default: the newest v6kit knows, "+mastodon.Newest().String()+")")
}

// Family is a host's address family as every tool spells it.
type Family string

const (
	// IPv6Only: the host serves and binds IPv6 only (loopback ::1, [::1]).
	IPv6Only Family = "ipv6-only"
	// DualStack: IPv6 and IPv4.
	DualStack Family = "dual-stack"
	// IPv4Only: IPv4 only (v6-certs' built-in challenge server alone accepts it).
	IPv4Only Family = "ipv4-only"
)

// familyValue is the --family flag.
type familyValue struct {
	p     *Family
	ipv4  bool
	names string
}

func (v familyValue) String() string {
	if v.p == nil {
		return ""
	}
	return string(*v.p)
}

func (v familyValue) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ipv6-only", "v6only", "ipv6only", "v6":
		*v.p = IPv6Only
	case "dual-stack", "dual", "dualstack":
		*v.p = DualStack
	case "ipv4-only", "v4only", "ipv4only", "v4":
		if !v.ipv4 {
			return fmt.Errorf("%q: an IPv4-only host is not supported here: use %s", s, v.names)
		}
		*v.p = IPv4Only
	default:
		return fmt.Errorf("%q is not a family: use %s", s, v.names)
	}
	return nil
}

// FamilyFlag binds --family into p (whose value is the default). ipv4 allows ipv4-only.
func (c *Command) FamilyFlag(p *Family, ipv4 bool, usage string) {
	names := "ipv6-only or dual-stack"
	if ipv4 {
		names = "ipv6-only, dual-stack or ipv4-only"
	}
	if *p == "" {
		*p = IPv6Only
	}
	c.Flags.Var(familyValue{p, ipv4, names}, "family", "`FAMILY`: "+names+" (v6only and dual are accepted too); "+usage)
}

// CheckOut applies the --out rule: the directory that will hold path must exist (the
// tool creates path itself, never its parents). The error names the flag and says
// "create it first".
func CheckOut(flagName, path string) error {
	if path == "" || path == "-" {
		return nil
	}
	dir := filepath.Dir(filepath.Clean(path))
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s %s: the directory %s does not exist: create it first (mkdir -p %s)", flagName, path, dir, dir)
	case err != nil:
		return fmt.Errorf("%s %s: %w", flagName, path, err)
	case !st.IsDir():
		return fmt.Errorf("%s %s: %s is not a directory", flagName, path, dir)
	}
	return nil
}

// Out checks the --out rule for path (see [CheckOut]); on a violation it prints the
// reason and returns ExitUsage and false.
func (c *Command) Out(flagName, path string) (int, bool) {
	if err := CheckOut(flagName, path); err != nil {
		fmt.Fprintf(c.Stderr, "%s: %v\n", c.Name, err)
		return ExitUsage, false
	}
	return ExitOK, true
}

// Diff returns the one diff format of every tool: a unified diff with 3 lines of
// context under "--- NAME" / "+++ NAME (new)", or "" when old and new are equal.
// Callers mask secrets before (envfile.Diff does).
func Diff(name, old, new string) string {
	if old == new {
		return ""
	}
	return fmt.Sprintf("--- %s\n+++ %s (new)\n", name, name) + textdiff.Unified(textdiff.Lines(old), textdiff.Lines(new), 3)
}

// DiffCode is the exit code of --diff: ExitFail when something would change.
func DiffCode(changed bool) int {
	if changed {
		return ExitFail
	}
	return ExitOK
}

// JSON writes v as indented JSON on stdout and returns code, or ExitFail (after
// naming the error on stderr) when stdout can't take it (a full disk, a closed pipe).
func (c *Command) JSON(code int, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		_, err = c.Stdout.Write(append(b, '\n'))
	}
	if err != nil {
		fmt.Fprintf(c.Stderr, "%s: --json: writing the result: %v\n", c.Name, err)
		if o, ok := c.Stdout.(*Output); ok {
			o.reported = true // said here; Output.Exit need not say it again
		}
		return ExitFail
	}
	return code
}

// FlagPaths returns ps with each problem's path, where the user set it by a flag, named
// as that flag: a path in fields (a library field path such as "web.addrs", matched
// with its [index] or .sub suffix) becomes the flag it maps to ("--backend"); otherwise
// a path whose first segment, with _ as -, is one of the command's flags
// ("web_domain" → "--web-domain"). Problems that become the same are kept once.
func (c *Command) FlagPaths(ps report.Problems, fields map[string]string) report.Problems {
	if ps == nil {
		return nil
	}
	out := make(report.Problems, 0, len(ps))
	seen := map[string]bool{}
	for _, p := range ps {
		p.Path = c.flagPath(p.Path, fields)
		key := p.Path + "\x00" + p.Severity.String() + "\x00" + p.Message
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

func (c *Command) flagPath(path string, fields map[string]string) string {
	for field, fl := range fields {
		if path == field || strings.HasPrefix(path, field+"[") || strings.HasPrefix(path, field+".") {
			return fl
		}
	}
	first := path
	if i := strings.IndexAny(path, ".["); i >= 0 {
		first = path[:i]
	}
	name := strings.ReplaceAll(first, "_", "-")
	if name != "" && c.Flags.Lookup(name) != nil {
		return "--" + name + path[len(first):]
	}
	return path
}

// Lock is the --no-wait flag of a tool that takes a write lock ([Command.NoWait]).
type Lock struct {
	c      *Command
	noWait bool
}

// NoWait binds --no-wait, the one lock rule of every tool that writes: without it a
// run that finds another run holding the lock of what it writes waits for it (up to
// [fsutil.DefaultLockWait]), saying once on stderr which PID it waits for; with it the
// run fails at once, exit 1, naming that PID. Hand [Lock.Options] to fsutil, or
// [Lock.NoWait] and [Lock.Waiting] to a public package's options.
func (c *Command) NoWait() *Lock {
	l := &Lock{c: c}
	c.Flags.BoolVar(&l.noWait, "no-wait", false, "fail at once, naming its PID, when another run holds the lock of what this one writes, instead of waiting for it (up to "+fsutil.DefaultLockWait.String()+")")
	return l
}

// NoWait reports whether --no-wait was given.
func (l *Lock) NoWait() bool { return l.noWait }

// Waiting prints, once a run finds the lock busy, whom it waits for.
func (l *Lock) Waiting(lock string, pid int) {
	who := "another run"
	if pid > 0 {
		who = "PID " + strconv.Itoa(pid)
	}
	fmt.Fprintf(l.c.Stderr, "%s: waiting for %s, which holds %s (up to %s; --no-wait fails at once)\n", l.c.Name, who, lock, fsutil.DefaultLockWait)
}

// Options are the fsutil lock options --no-wait asks for.
func (l *Lock) Options() fsutil.LockOptions {
	return fsutil.LockOptions{NoWait: l.noWait, Waiting: l.Waiting}
}

// Take takes the lock of target ([fsutil.LockFile]) as --no-wait says: for a tool
// whose library writes without a lock of its own.
func (l *Lock) Take(target string) (*fsutil.Lock, error) {
	return fsutil.LockFile(context.Background(), target, l.Options())
}
