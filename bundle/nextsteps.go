package bundle

import (
	"bytes"
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
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Next steps for %s (Mastodon %s, %s)", h.webDomain(), info.Release, h.Family)
	p("")
	p("v6kit rendered and validated every file in this directory; these are the steps it leaves")
	p("to you. Run them as root on the host, from this directory: each command is one argv,")
	p("quoted for the shell. `v6-install --bundle . --plan` shows which are done already, and")
	p("`v6-install --bundle . --apply` runs the ones that are not (%s holds the same steps).", StepsPath)
	p("Steps marked *(needs the checkout)* run Mastodon's own code.")
	p("Re-rendering is safe: secrets in .env.production are kept, and unchanged files are not touched.")
	section, n := "", 0
	steps := info.Steps
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		if st.Section != section {
			section = st.Section
			n++
			p("")
			p("## %d. %s", n, section)
		}
		p("")
		if strings.HasPrefix(st.ID, "file:") {
			// consecutive file steps as one block: same check, one install line each
			j := i
			for j < len(steps) && strings.HasPrefix(steps[j].ID, "file:") {
				j++
			}
			p("The tree mirrors the host's filesystem; pg_hba.conf is v6-pgsetup's (`%s` shows the block it writes).", HBABlockPath)
			p("Each file is done when its bytes match (`cmp -s -- FILE /FILE`) and `stat -c '%%a %%U %%G' -- /FILE` prints the mode, owner and group installed here.")
			p("")
			p("```sh")
			for _, f := range steps[i:j] {
				for _, c := range f.Run {
					p("%s", ShellJoin(c.Line()))
				}
			}
			p("```")
			i = j - 1
			continue
		}
		title := st.Title
		if st.Code {
			title += " *(needs the checkout)*"
		}
		p("### %s", title)
		p("")
		p("Done when:")
		for _, c := range st.Check {
			p("- %s", checkProse(c))
		}
		if len(st.Run) == 0 {
			p("")
			p("If not: %s.", st.Fix)
			continue
		}
		p("")
		p("```sh")
		for _, c := range st.Run {
			p("%s", ShellJoin(c.Line()))
		}
		p("```")
	}
	p("")
	p("## %d. Check it from outside", n+1)
	p("")
	outside, local := h.ProbeCommands(info)
	p("```sh")
	p("%s", ShellJoin(outside))
	p("%s   # on the host itself", ShellJoin(local))
	p("```")
	return b.Bytes()
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
