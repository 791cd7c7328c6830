package bundle

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/envfile"
)

// StepsDoc is a NEXT-STEPS.md: a heading and paragraphs, then the install steps (the
// same data as INSTALL-STEPS.json), then sections of commands run by hand (checks from
// elsewhere, which v6-install does not run). [RenderSteps] renders it; every command
// is one argv quoted element by element.
type StepsDoc struct {
	// Title is the first heading, without "# ".
	Title string
	// Intro are the lines under the heading (a blank line separates paragraphs).
	Intro []string
	// FilesNote is the sentence above the block of file installs. Empty: "The tree
	// mirrors the host's filesystem."
	FilesNote string
	// Steps are the install steps, in order.
	Steps []Step
	// After are the sections after the steps, numbered on from them.
	After []ManualSection
}

// ManualSection is a section of commands the user runs by hand.
type ManualSection struct {
	// Heading is the section's title, without its number.
	Heading string
	// Text is the paragraph above the commands (may be empty).
	Text string
	// Literal is shown in a plain block (not commands: lines of a file, records),
	// before the commands.
	Literal []string
	// Commands are the command lines, each one argv.
	Commands []ManualCommand
	// Footer is the paragraph after the blocks (may be empty).
	Footer string
}

// ManualCommand is one command line run by hand, with an optional trailing comment.
type ManualCommand struct {
	Argv    []string
	Comment string
}

// RenderSteps renders d as NEXT-STEPS.md.
func RenderSteps(d StepsDoc) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# %s", d.Title)
	if len(d.Intro) > 0 {
		p("")
	}
	for _, l := range d.Intro {
		p("%s", l)
	}
	n := writeSteps(&b, d.Steps, cmpOr(d.FilesNote, "The tree mirrors the host's filesystem."))
	for _, s := range d.After {
		n++
		p("")
		p("## %d. %s", n, s.Heading)
		p("")
		if s.Text != "" {
			p("%s", s.Text)
			p("")
		}
		if len(s.Literal) > 0 {
			p("```")
			for _, l := range s.Literal {
				p("%s", l)
			}
			p("```")
			if len(s.Commands) > 0 {
				p("")
			}
		}
		if len(s.Commands) > 0 {
			p("```sh")
			for _, c := range s.Commands {
				if c.Comment != "" {
					p("%s   # %s", ShellJoin(c.Argv), c.Comment)
				} else {
					p("%s", ShellJoin(c.Argv))
				}
			}
			p("```")
		}
		if s.Footer != "" {
			p("")
			p("%s", s.Footer)
		}
	}
	return b.Bytes()
}

// writeSteps renders the steps under numbered sections and returns the number of
// sections written.
func writeSteps(b *bytes.Buffer, steps []Step, filesNote string) int {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	section, n := "", 0
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
			p("%s", filesNote)
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
	return n
}

// AddSteps checks d.Steps as v6-install would ([CheckSteps], problems under "steps")
// and adds NEXT-STEPS.md rendered from d and INSTALL-STEPS.json holding d.Steps.
func (t *Tree) AddSteps(d StepsDoc) {
	t.Problem("steps", CheckSteps(d.Steps))
	t.Add(File{Path: NextStepsPath, Data: RenderSteps(d), Mode: 0o644})
	b, err := StepsJSON(d.Steps)
	if err != nil {
		t.Problems.Errorf(StepsPath, ErrSteps, "%v", err)
		return
	}
	t.Add(File{Path: StepsPath, Data: b, Mode: 0o644})
}

// FileSteps are the steps that install the tree's files where they belong on the
// host, in the tree's order: files under home are owned by user, Redis's by group
// redis, the database password root:postgres 0640, the rest root:root; each keeps its
// mode. NEXT-STEPS.md, INSTALL-STEPS.json, pg_hba.conf (v6-pgsetup's) and the paths in
// skip are left out. home "" means no file is the user's.
func (t *Tree) FileSteps(home, user string, skip ...string) []Step {
	var s []Step
	homeRel := strings.TrimPrefix(home, "/")
	for _, f := range t.Files() {
		if f.Path == NextStepsPath || f.Path == StepsPath || f.Path == HBABlockPath || f.Path == HBAPath || contains(skip, f.Path) {
			continue
		}
		dst := "/" + f.Path
		owner, group, mode := "root", "root", f.Mode.Perm()
		switch {
		case homeRel != "" && strings.HasPrefix(f.Path, homeRel+"/"):
			owner, group = user, user
		case strings.HasPrefix(f.Path, "etc/redis/"):
			group = "redis"
		case f.Path == DBPasswordPath:
			// v6-pgsetup runs as postgres (peer over the socket): the password file is
			// readable by root and the postgres group only, never on a command line.
			group, mode = "postgres", 0o640
		}
		s = append(s, Step{ID: "file:" + f.Path, Section: "The files in place", Title: dst,
			Changes: fmt.Sprintf("installs %s as %s:%s mode %04o", dst, owner, group, mode),
			Check: []Cmd{{Args: []string{"cmp", "-s", "--", f.Path, dst}},
				{Args: []string{"stat", "-c", "%a %U %G", "--", dst}, Want: fmt.Sprintf("%o %s %s", mode, owner, group)}},
			Run: []Cmd{{Args: []string{"install", "-D", "-o", owner, "-g", group, "-m", fmt.Sprintf("%04o", mode), "--", f.Path, dst}}},
			Fix: "run it from the bundle directory, as root"})
	}
	return s
}

// ArgKind is the kind of a value that reaches a command line of the install steps.
type ArgKind int

// The kinds [CheckArg] knows.
const (
	// ArgPath is an absolute, clean path (at most PATH_MAX, no backslash).
	ArgPath ArgKind = iota + 1
	// ArgHTTPSURL is an https URL with a host (an ACME directory).
	ArgHTTPSURL
	// ArgEmail is an RFC 5322 addr-spec ([acme.CheckEmail]).
	ArgEmail
	// ArgUnixUser is a portable Unix user name (useradd's default NAME_REGEX).
	ArgUnixUser
	// ArgMastodonUser is a local Mastodon user name (Account::USERNAME_RE, 30 characters).
	ArgMastodonUser
	// ArgHostName is a DNS host name as LOCAL_DOMAIN takes it ([envfile.NormalizeDomain]).
	ArgHostName
	// ArgConfigPath is an ArgPath that config files take verbatim too (nginx's root and
	// certificate paths, units' directories, .env.production): letters, digits and
	// / . _ - + @ ~ , = : alone, as nginxconf accepts them.
	ArgConfigPath
)

// CheckArg says whether v is one clean command-line argument of its kind: nil, or an
// error wrapping [ErrCommandValue] (acme.ErrEmail, envfile.ErrDomain for those kinds)
// that names the value, what is wrong and what to give instead.
func CheckArg(kind ArgKind, v string) error {
	bad := func(why, fix string) error {
		return &argError{msg: fmt.Sprintf("%q %s: %s", clipArg(v), why, fix), errs: []error{ErrCommandValue}}
	}
	switch kind {
	case ArgPath:
		if why := checkPathValue(v); why != "" {
			return bad(why, "give an absolute path like /srv/mastodon")
		}
	case ArgConfigPath:
		if why := checkPathValue(v); why != "" {
			return bad(why, "give an absolute path like /srv/mastodon")
		}
		for _, c := range v {
			if !(unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("/._-+@~,=:", c)) {
				return bad(fmt.Sprintf("holds %q, which nginx or a unit would read as syntax, a variable or a separator", c),
					"use letters, digits and / . _ - + @ ~ , = : only (rename the directory)")
			}
		}
	case ArgHTTPSURL:
		if why := checkURLValue(v, "https"); why != "" {
			return bad(why, "give the ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory")
		}
	case ArgEmail:
		if err := acme.CheckEmail(v); err != nil {
			return &argError{msg: err.Error(), errs: []error{ErrCommandValue, err}}
		}
	case ArgUnixUser:
		if !unixName.MatchString(v) {
			return bad("is not a Unix user name", "lower-case letters, digits, _ and -, starting with a letter or _, at most 32 characters")
		}
	case ArgMastodonUser:
		if !mastodonUsername.MatchString(v) || len(v) > 30 {
			return bad("is not a Mastodon user name", "letters, digits and _ (with . or - inside), at most 30 characters")
		}
	case ArgHostName:
		if why := cleanArg(v); why != "" {
			return bad(why, "give a host name like social.example.org")
		}
		if _, err := envfile.NormalizeDomain(v); err != nil {
			return &argError{msg: err.Error(), errs: []error{ErrCommandValue, err}}
		}
	default:
		return bad("has no known kind", "this is a bug in the caller")
	}
	return nil
}

// argError is CheckArg's error: its message alone, wrapping ErrCommandValue and the
// kind's own sentinel.
type argError struct {
	msg  string
	errs []error
}

func (e *argError) Error() string   { return e.msg }
func (e *argError) Unwrap() []error { return e.errs }

// clipArg shortens a long value for an error message.
func clipArg(v string) string {
	if len(v) > 80 {
		return v[:60] + fmt.Sprintf("… (%d bytes)", len(v))
	}
	return v
}
