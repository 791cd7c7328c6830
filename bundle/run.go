package bundle

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/units"
)

// HostFlags binds flags for every field of h a user is likely to override; the values
// already in h are the defaults shown by -h.
func HostFlags(fs *flag.FlagSet, h *Host) {
	fs.TextVar(&h.Release, "mastodon", h.Release, "Mastodon version, e.g. 4.7 or v4.5.2 (default: newest, "+mastodon.Newest().String()+")")
	fs.StringVar(&h.LocalDomain, "domain", h.LocalDomain, "LOCAL_DOMAIN: the domain in the users' handles")
	fs.Func("web-domain", "WEB_DOMAIN: the server name, when it differs from --domain", NonEmpty(&h.WebDomain))
	fs.StringVar(&h.AdminEmail, "email", h.AdminEmail, "admin e-mail: Let's Encrypt contact and the owner account")
	fs.StringVar(&h.Owner, "owner", h.Owner, "user name of the owner account")
	fs.StringVar(&h.SMTP.Server, "smtp-server", h.SMTP.Server, "SMTP relay host")
	fs.Var(cli.PortValue(&h.SMTP.Port), "smtp-port", "SMTP relay port")
	fs.StringVar(&h.SMTP.FromAddress, "smtp-from", h.SMTP.FromAddress, "SMTP_FROM_ADDRESS")
	fs.Func("nat64", "NAT64 prefix for ALLOWED_PRIVATE_ADDRESSES on an IPv6-only host, or \"none\" (default "+prefixString(h.NAT64)+")", func(s string) error {
		if s == "" {
			return ErrEmptyFlag
		}
		if s == "none" {
			h.NAT64 = netip.Prefix{}
			return nil
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return err
		}
		h.NAT64 = p
		return nil
	})
	EgressFlags(fs, &h.Egress)
	fs.BoolVar(&h.SplitSidekiq, "split", h.SplitSidekiq, "one sidekiq unit per queue group instead of one for every queue")
	fs.StringVar(&h.Home, "home", h.Home, "home of the mastodon user (default /home/mastodon)")
	fs.Func("letsencrypt", "certificate directory in certbot's layout (default /etc/letsencrypt)", NonEmpty(&h.LetsEncrypt))
	fs.Func("acme-server", "ACME directory URL (default Let's Encrypt production)", NonEmpty(&h.ACMEServer))
	fs.StringVar(&h.NginxCache, "nginx-cache", h.NginxCache, "nginx proxy_cache_path (default /var/cache/nginx)")
	fs.StringVar(&h.NginxVersion, "nginx-version", h.NginxVersion, "target nginx version (default 1.22, Debian 12)")
	fs.IntVar(&h.MaxConnections, "max-connections", h.MaxConnections, "PostgreSQL max_connections (default 100)")
	fs.Func("ram", "RAM for the PostgreSQL tuning, e.g. 8GiB (default 4GiB)", func(s string) error {
		n, err := pgsetup.ParseBytes(s)
		h.RAM = n
		return err
	})
	fs.IntVar(&h.CPUs, "cpus", h.CPUs, "CPUs for the PostgreSQL tuning (default 2)")
	sshFromFlag(fs, h)
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return "none"
	}
	return p.String()
}

// Command is the whole command line of a single-host example: --out DIR plus
// [HostFlags] over the example's defaults h, then [RunHost] (or, with --diff, [DiffHost]).
// It follows the conventions of every v6kit tool (-h exits 0; usage errors, an unknown
// --mastodon or an empty flag value exit 2; --out's parent must exist; a summary or
// diff that could not be written to stdout is exit 1, as in [Main]). It returns the
// exit code: 0 written (--diff: nothing would change), 1 problems, a write error (to
// the tree or to stdout) or (--diff) a change, 2 usage.
func Command(name string, h Host, args []string, stdout, stderr io.Writer) int {
	out := cli.CheckOutput(stdout)
	return out.Exit(name, command(name, h, args, out, stderr), stderr)
}

// Main is the main of an installer built on this package: it runs run with the
// process's arguments, its stdout and its stderr, and returns the exit code for
// os.Exit. It holds run to the output rule of every v6kit tool: a result that could not
// be written to stdout (a full disk, a closed stdout) is an error, so after a failed
// write Main names stdout and the error on stderr ("NAME: writing to stdout: …") and
// returns 1 where run returned 0; any other code (1, or 2 for a usage error) is kept.
// Once a write to stdout has failed, run's later writes to it fail at once.
//
//	func main() { os.Exit(bundle.Main("myinstaller", run)) }
func Main(name string, run func(args []string, stdout, stderr io.Writer) int) int {
	out := cli.CheckOutput(os.Stdout)
	return out.Exit(name, run(os.Args[1:], out, os.Stderr), os.Stderr)
}

func command(name string, h Host, args []string, stdout, stderr io.Writer) int {
	cmd := cli.New(name, name+" --out DIR [--diff] [flags]", stdout, stderr)
	fs := cmd.Flags
	out := fs.String("out", "", "`DIR` to write the bundle into (required; its parent must exist, DIR is created)")
	diff := fs.Bool("diff", false, "print what would change in DIR (unified diff, secrets masked) and write nothing; exit 1 when something would")
	family := cli.IPv6Only
	if h.Family == DualStack {
		family = cli.DualStack
	}
	cmd.FamilyFlag(&family, false, "the host's address family (nginx listens, Redis binds)")
	HostFlags(fs, &h)
	lock := cmd.NoWait()
	cmd.AllowEmpty("nat64") // "" is documented as none
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	if *out == "" {
		return cmd.Usage("--out DIR is required")
	}
	if code, ok := cmd.Out("--out", *out); !ok {
		return code
	}
	h.Family = IPv6Only
	if family == cli.DualStack {
		h.Family = DualStack
	}
	wait := func(t *Tree) { t.NoWait, t.Waiting = lock.NoWait(), lock.Waiting }
	if *diff {
		return diffHost(h, *out, wait, nameFlags, stdout, stderr)
	}
	return runHost(h, *out, wait, nameFlags, stdout, stderr)
}

// hostFlagPaths maps the paths under which Compose reports a Host value (its field, or
// the setting of a file it reaches) to the flag of [HostFlags] that sets it.
var hostFlagPaths = []struct{ path, flag string }{
	{"acme_server", "acme-server"}, {"owner", "owner"}, {"email", "email"}, {"home", "home"},
	{"letsencrypt", "letsencrypt"}, {"nginx_cache", "nginx-cache"},
	{SitePath + ".cache_path", "nginx-cache"}, {SitePath + ".root", "home"},
	{SitePath + ".cert", "letsencrypt"}, {SitePath + ".key", "letsencrypt"},
	{SitePath + ".nginx_version", "nginx-version"},
	{".connections", "max-connections"}, {".cpus", "cpus"},
	{".env.production.LOCAL_DOMAIN", "domain"}, {".env.production.WEB_DOMAIN", "web-domain"},
	{".env.production.SMTP_SERVER", "smtp-server"}, {".env.production.SMTP_FROM_ADDRESS", "smtp-from"}, {".env.production.SMTP_PORT", "smtp-port"},
}

// nameFlags renames the problems of a tree composed from [HostFlags] to the flag the
// user typed (the CLI conventions: errors name the flag), keeping the place in the
// message when it was a file's setting.
func nameFlags(t *Tree) {
	for i, p := range t.Problems {
		for _, m := range hostFlagPaths {
			if p.Path == m.path || (strings.HasPrefix(m.path, ".") && strings.HasSuffix(p.Path, m.path)) {
				if p.Path != strings.ReplaceAll(m.flag, "-", "_") {
					p.Message += " (in " + p.Path + ")"
				}
				p.Path = "--" + m.flag
				t.Problems[i] = p
				break
			}
		}
	}
}

// DiffHost composes h and prints, for each file of the bundle, a unified diff against
// what is in out, with secrets masked (.env.production through envfile.Diff; another
// secret file only as changed). It writes nothing and returns 0 when nothing would
// change, 1 when something would or on problems.
func DiffHost(h Host, out string, stdout, stderr io.Writer) int {
	return diffHost(h, out, func(*Tree) {}, func(*Tree) {}, stdout, stderr)
}

func diffHost(h Host, out string, wait, composed func(*Tree), stdout, stderr io.Writer) int {
	t := New("", out)
	t.ReadOnly()
	wait(t)
	h.Compose(t)
	composed(t)
	return DiffTrees(stdout, stderr, t)
}

// ReadOnly marks a tree that is only compared ([DiffTrees]), never written: its files
// are read without the tree's lock and nothing is created. Call it before composing.
func (t *Tree) ReadOnly() { t.readOnly = true }

// DiffTrees is the end of every example's --diff: it prints the problems of the
// composed trees, then for each file a unified diff against what is on disk, with
// secrets masked (.env.production through envfile.Diff; another secret file only as
// changed). It writes nothing and returns 0 when nothing would change, 1 when
// something would or on problems. Mark the trees [Tree.ReadOnly] before composing.
func DiffTrees(stdout, stderr io.Writer, trees ...*Tree) int {
	PrintProblems(stderr, trees...)
	if err := Check(trees...); err != nil {
		fmt.Fprintln(stderr, "nothing was compared: fix the errors above and run again")
		return 1
	}
	changed := false
	for _, t := range trees {
		for _, f := range t.Files() {
			name := t.local(f.Path)
			old, _, err := t.Existing(f.Path)
			if err != nil {
				fmt.Fprintf(stderr, "--diff: %v\n", err)
				return 1
			}
			if string(old) == string(f.Data) {
				continue
			}
			changed = true
			if !f.Secret {
				fmt.Fprint(stdout, cli.Diff(name, string(old), string(f.Data)))
				continue
			}
			nf, nerr := envfile.Parse(f.Data)
			var of *envfile.File
			if old != nil {
				of, err = envfile.Parse(old)
			}
			if nerr != nil || err != nil {
				fmt.Fprintf(stdout, "--- %s\n+++ %s (new)\n@@ secret file changed; content not shown @@\n", name, name)
				continue
			}
			nf.Name = name
			fmt.Fprint(stdout, envfile.Diff(of, nf))
		}
	}
	return cli.DiffCode(changed)
}

// RunHost composes h, prints every problem, and writes the bundle into out only when
// there is no error; then it prints what it wrote and the connection budget. It returns
// the exit code: 0 written, 1 problems or a write error.
func RunHost(h Host, out string, stdout, stderr io.Writer) int {
	return runHost(h, out, func(*Tree) {}, func(*Tree) {}, stdout, stderr)
}

func runHost(h Host, out string, wait, composed func(*Tree), stdout, stderr io.Writer) int {
	t := New("", out)
	wait(t)
	info := h.Compose(t)
	composed(t)
	head := []Line{
		{"Mastodon", info.Release.String() + " (" + h.Family.String() + ")"},
		{"LOCAL_DOMAIN / WEB_DOMAIN", h.LocalDomain + " / " + h.webDomain()},
		{"certificate", ShellJoin(info.CertCommand)},
	}
	trees := []*Tree{t}
	if h.Egress.Path != egress.None {
		gw := New(GatewayDir, filepath.Join(out, GatewayDir))
		wait(gw)
		h.ComposeGateway(gw)
		trees = append(trees, gw)
		head = append(head, Line{"egress", h.Egress.Path.String() + " gateway in " + filepath.Join(out, GatewayDir)})
	}
	return Finish(stdout, stderr, info.Budget, head, trees...)
}

// Line is one "label: value" line of a summary.
type Line struct{ Label, Value string }

// Finish is the common end of every example: print the problems (errors, warnings),
// stop with exit code 1 before writing anything if any is an error, otherwise write
// every tree and print the summary and the budget.
func Finish(stdout, stderr io.Writer, budget units.BudgetReport, head []Line, trees ...*Tree) int {
	PrintProblems(stderr, trees...)
	if err := Check(trees...); err != nil {
		Abandon(trees...)
		fmt.Fprintln(stderr, "nothing was written: fix the errors above and run again")
		return 1
	}
	res, err := Write(trees...)
	if err != nil {
		fmt.Fprintln(stderr, "write:", err)
		return 1
	}
	for _, l := range head {
		fmt.Fprintf(stdout, "%s: %s\n", l.Label, l.Value)
	}
	fmt.Fprintln(stdout, "files:")
	PrintSummary(stdout, res)
	PrintBudget(stdout, budget)
	fmt.Fprintf(stdout, "next: read %s\n", strings.Join(nextStepsPaths(trees), ", "))
	return 0
}

func nextStepsPaths(trees []*Tree) []string {
	var out []string
	for _, t := range trees {
		if _, ok := t.File(NextStepsPath); ok {
			out = append(out, t.local(NextStepsPath))
		}
	}
	return out
}
