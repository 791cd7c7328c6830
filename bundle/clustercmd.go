package bundle

import (
	"flag"
	"io"
	"path/filepath"

	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/mastodon"
)

// ClusterCommand is the command line of a multi-host installer built on this package
// (examples/split and examples/ha are two), with the conventions of every v6kit tool:
// -h and --help, --mastodon, --no-wait, an unknown or empty flag as a usage error
// (exit 2) naming the flag as typed, and --out DIR required, its parent existing.
// It registers --out (one subdirectory per host) and --diff; the installer adds its own
// flags to Flags before Parse, then makes each host's tree with Tree.
//
//	cmd := bundle.NewClusterCommand("myha", "myha --out DIR [--diff] [flags]", &c.Release, stdout, stderr)
//	cmd.Flags.StringVar(&c.Zone, "zone", c.Zone, "internal DNS zone")
//	if code, ok := cmd.Parse(args); !ok {
//		return code
//	}
//	web1 := cmd.Tree("web1")
type ClusterCommand struct {
	// Flags is the flag set; add the installer's flags to it before Parse.
	Flags *flag.FlagSet
	// Out is --out, the directory holding one subdirectory per host.
	Out string
	// Diff is --diff: print what would change and write nothing ([Tree.ReadOnly]).
	Diff bool

	cmd  *cli.Command
	lock *cli.Lock
}

// NewClusterCommand makes the command line called name, with synopsis as its usage line,
// binding --mastodon to rel (the newest release when not given).
func NewClusterCommand(name, synopsis string, rel *mastodon.Release, stdout, stderr io.Writer) *ClusterCommand {
	c := &ClusterCommand{cmd: cli.New(name, synopsis, stdout, stderr)}
	c.Flags = c.cmd.Flags
	c.Flags.StringVar(&c.Out, "out", "", "`DIR` to write the bundles into, one subdirectory per host (required; its parent must exist, DIR is created)")
	c.Flags.BoolVar(&c.Diff, "diff", false, "print what would change in every host's bundle (unified diff, secrets masked) and write nothing; exit 1 when something would")
	c.cmd.Release(rel)
	c.lock = c.cmd.NoWait()
	return c
}

// Parse parses args and checks --out. ok false: -h was asked for or the command line is
// wrong (the reason is printed); return code.
func (c *ClusterCommand) Parse(args []string) (code int, ok bool) {
	if code, ok := c.cmd.Parse(args); !ok {
		return code, false
	}
	if c.Out == "" {
		return c.Usage("--out DIR is required"), false
	}
	return c.cmd.Out("--out", c.Out)
}

// Usage prints a usage error (the message, then how to get -h) and returns exit code 2.
func (c *ClusterCommand) Usage(format string, a ...any) int { return c.cmd.Usage(format, a...) }

// NoWait reports whether --no-wait was given.
func (c *ClusterCommand) NoWait() bool { return c.lock.NoWait() }

// Waiting says on stderr, once a run finds a tree's lock busy, whom it waits for: a
// Tree's Waiting.
func (c *ClusterCommand) Waiting(lock string, pid int) { c.lock.Waiting(lock, pid) }

// Tree is host's bundle tree, Out/host, with --no-wait and --diff applied.
func (c *ClusterCommand) Tree(host string) *Tree {
	t := New(host, filepath.Join(c.Out, host))
	t.NoWait, t.Waiting = c.NoWait(), c.Waiting
	if c.Diff {
		t.ReadOnly()
	}
	return t
}
