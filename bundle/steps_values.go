package bundle

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/v6kit/v6kit/report"
)

// Sentinels of the values that reach a command line.
var (
	// ErrCommandValue: a value that reaches a command line is not one clean argument of its kind.
	ErrCommandValue = errors.New("a value that reaches a command line must be one argument of its kind (URL, e-mail, user name, absolute path) without control characters: fix the value")
	// ErrEmptyFlag: a flag given with an empty value.
	ErrEmptyFlag = errors.New("empty value: give a value or leave the flag out for the default")
	// ErrSteps: INSTALL-STEPS.json does not hold runnable steps.
	ErrSteps = errors.New("install steps unusable: re-render the bundle (INSTALL-STEPS.json is written by v6kit, not by hand)")
)

// mastodonUsername is Account::USERNAME_RE of Mastodon (every release line):
// /[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?/i, at most 30 characters for a local account.
var mastodonUsername = regexp.MustCompile(`^[a-zA-Z0-9_]+([a-zA-Z0-9_.-]+[a-zA-Z0-9_]+)?$`)

// unixName is a portable Unix user name (useradd's default NAME_REGEX on Debian and RHEL).
var unixName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// controlChar returns the first C0 control character or DEL in s, and whether there is one.
func controlChar(s string) (rune, bool) {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return r, true
		}
	}
	return 0, false
}

// cleanArg says what is wrong with s as one command-line argument, "" if nothing.
func cleanArg(s string) string {
	switch {
	case s == "":
		return "is empty"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case len(s) > 4096:
		return fmt.Sprintf("is %d bytes long (at most 4096)", len(s))
	}
	if r, ok := controlChar(s); ok {
		return fmt.Sprintf("holds the control character %q", r)
	}
	return ""
}

func checkURLValue(v string, schemes ...string) string {
	if why := cleanArg(v); why != "" {
		return why
	}
	if strings.ContainsAny(v, " \\") {
		return "holds a space or a backslash"
	}
	u, err := url.Parse(v)
	if err != nil {
		return "is not a URL: " + err.Error()
	}
	for _, s := range schemes {
		if u.Scheme == s && (u.Host != "" || s == "file") {
			return ""
		}
	}
	return "is not an absolute " + strings.Join(schemes, " or ") + " URL with a host"
}

func checkPathValue(v string) string {
	if why := cleanArg(v); why != "" {
		return why
	}
	switch {
	case !path.IsAbs(v) || path.Clean(v) != v:
		return "is not an absolute, clean path"
	case strings.Contains(v, "\\"):
		return "holds a backslash"
	case len(v) > 4095:
		return "is longer than PATH_MAX (4095)"
	}
	return ""
}

// checkCommandValues records every Host value that reaches a command line of the
// install steps and is not one clean argument of its kind.
func (h Host) checkCommandValues(t *Tree) {
	bad := func(field, v, why, fix string) {
		t.Problems.Errorf(field, ErrCommandValue, "%q %s: %s", v, why, fix)
	}
	if h.ACMEServer != "" {
		if why := checkURLValue(h.ACMEServer, "https"); why != "" {
			bad("acme_server", h.ACMEServer, why, "give the ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory")
		}
	}
	// AdminEmail: Compose checks it as an RFC 5322 addr-spec (acme.CheckEmail), which
	// refuses control characters, spaces, quotes and backslashes.
	if h.Owner != "" && (!mastodonUsername.MatchString(h.Owner) || len(h.Owner) > 30) {
		bad("owner", h.Owner, "is not a Mastodon user name", "letters, digits and _ (with . or - inside), at most 30 characters")
	}
	for _, p := range []struct{ field, v string }{{"home", h.Home}, {"letsencrypt", h.LetsEncrypt}, {"nginx_cache", h.NginxCache}} {
		if p.v == "" {
			continue
		}
		if why := checkPathValue(p.v); why != "" {
			bad(p.field, p.v, why, "give an absolute path like /srv/mastodon")
		}
	}
	if h.Source != "" {
		if strings.HasPrefix(h.Source, "/") {
			if why := checkPathValue(h.Source); why != "" {
				bad("source", h.Source, why, "give the repository's absolute path or URL")
			}
		} else if why := checkURLValue(h.Source, "https", "http", "ssh", "git", "file"); why != "" {
			bad("source", h.Source, why, "give a git URL like "+"https://github.com/mastodon/mastodon.git")
		}
	}
}

// CheckSteps reports every problem of steps as an installer would meet it: each
// argument one clean value, users valid Unix names, directories absolute, environment
// entries KEY=VALUE, IDs unique, and every unit a step restarts or reloads (systemctl
// restart, try-restart, reload, reload-or-restart …) checked with [StartedAfter] or
// [ReloadedAfter] over the files it reads, so a changed config is never "done" while
// the daemon runs the old one. v6-install runs nothing unless it is clean.
func CheckSteps(steps []Step) report.Problems {
	var ps report.Problems
	seen := map[string]bool{}
	checkCmd := func(at string, c Cmd) {
		if len(c.Args) == 0 {
			ps.Errorf(at, ErrSteps, "no command")
		}
		for i, a := range c.Args {
			if why := cleanArg(a); why != "" {
				ps.Errorf(fmt.Sprintf("%s.args[%d]", at, i), ErrCommandValue, "%q %s", a, why)
			}
		}
		if c.User != "" && !unixName.MatchString(c.User) {
			ps.Errorf(at+".user", ErrCommandValue, "%q is not a Unix user name", c.User)
		}
		if c.Dir != "" {
			if why := checkPathValue(c.Dir); why != "" {
				ps.Errorf(at+".dir", ErrCommandValue, "%q %s", c.Dir, why)
			}
		}
		for i, e := range c.Env {
			k, v, ok := strings.Cut(e, "=")
			if !ok || !envKey.MatchString(k) {
				ps.Errorf(fmt.Sprintf("%s.env[%d]", at, i), ErrCommandValue, "%q is not KEY=VALUE", e)
			} else if r, bad := controlChar(v); bad {
				ps.Errorf(fmt.Sprintf("%s.env[%d]", at, i), ErrCommandValue, "%q holds the control character %q", e, r)
			}
		}
	}
	for i, s := range steps {
		at := fmt.Sprintf("steps[%d]", i)
		switch {
		case s.ID == "":
			ps.Errorf(at+".id", ErrSteps, "no id")
		case seen[s.ID]:
			ps.Errorf(at+".id", ErrSteps, "id %q twice", s.ID)
		}
		seen[s.ID] = true
		if len(s.Check) == 0 {
			ps.Errorf(at+".check", ErrSteps, "step %q has no check: the installer could not tell it is done", s.ID)
		}
		for j, c := range s.Check {
			checkCmd(fmt.Sprintf("%s.check[%d]", at, j), c)
		}
		for j, c := range s.Run {
			checkCmd(fmt.Sprintf("%s.run[%d]", at, j), c)
		}
		checkFreshness(&ps, at, s)
	}
	return ps
}

// NonEmpty is a flag.Func setter for a string flag that refuses an empty value: an
// empty --letsencrypt, --acme-server, --web-domain would otherwise silently mean the
// default and drop arguments from the rendered commands.
func NonEmpty(p *string) func(string) error {
	return func(s string) error {
		if s == "" {
			return ErrEmptyFlag
		}
		*p = s
		return nil
	}
}
