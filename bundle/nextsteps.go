package bundle

import (
	"fmt"
	"strings"

	"net/netip"

	"github.com/v6kit/v6kit/units"
)

// ShellQuote quotes s for a POSIX shell when it needs it.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+[]", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes and joins argv for a shell.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// InstallLines are the commands that copy the tree's files to their place on the host,
// each with its mode (and the mastodon owner for files under the home directory).
func (t *Tree) InstallLines(home string, skip ...string) []string {
	var out []string
	homeRel := strings.TrimPrefix(home, "/")
	for _, f := range t.Files() {
		if f.Path == NextStepsPath || contains(skip, f.Path) {
			continue
		}
		owner := ""
		if strings.HasPrefix(f.Path, homeRel+"/") {
			owner = "-o mastodon -g mastodon "
		}
		if strings.HasPrefix(f.Path, "etc/redis/") {
			owner = "-g redis "
		}
		out = append(out, fmt.Sprintf("install -D %s-m %04o %s %s", owner, f.Mode, ShellQuote(f.Path), ShellQuote("/"+f.Path)))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// NextSteps renders NEXT-STEPS.md from the install steps (info.Steps): for each step,
// how to tell it is done and the commands that do it, each command one argv quoted for
// the shell element by element, so the lines run from a root shell in the bundle
// directory exactly as v6-install runs them.
func (h Host) NextSteps(t *Tree, info Info) []byte {
	return RenderSteps(h.stepsDoc(info))
}

// stepsDoc is the host's NEXT-STEPS.md as data.
func (h Host) stepsDoc(info Info) StepsDoc {
	outside, local := h.ProbeCommands(info)
	return StepsDoc{
		Title: fmt.Sprintf("Next steps for %s (Mastodon %s, %s)", h.webDomain(), info.Release, h.Family),
		Intro: []string{
			"v6kit rendered and validated every file in this directory; these are the steps it leaves",
			"to you. Run them as root on the host, from this directory: each command is one argv,",
			"quoted for the shell. `v6-install --bundle . --plan` shows which are done already, and",
			"`v6-install --bundle . --apply` runs the ones that are not (" + StepsPath + " holds the same steps).",
			"Steps marked *(needs the checkout)* run Mastodon's own code.",
			"Re-rendering is safe: secrets in .env.production are kept, and unchanged files are not touched.",
		},
		FilesNote: "The tree mirrors the host's filesystem; pg_hba.conf is v6-pgsetup's (`" + HBABlockPath + "` shows the block it writes).",
		Steps:     info.Steps,
		After: []ManualSection{{Heading: "Check it from outside",
			Commands: []ManualCommand{{Argv: outside}, {Argv: local, Comment: "on the host itself"}}}},
	}
}

// checkProse is one check in words: the command in backquotes and what it must print.
func checkProse(c Cmd) string {
	cmd := "`" + ShellJoin(c.Line()) + "`"
	switch {
	case c.Min != "":
		return cmd + " prints version " + c.Min + " or newer"
	case c.Want != "":
		return cmd + " prints `" + strings.ReplaceAll(c.Want, "\n", " ") + "`"
	}
	return cmd + " succeeds"
}

func bindOf(d units.Deployment) netip.Addr {
	if d.Bind.IsValid() {
		return d.Bind
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
