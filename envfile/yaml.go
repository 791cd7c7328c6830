package envfile

import (
	"regexp"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// yamlTyped matches the plain scalars Ruby's YAML (Psych, YAML 1.1) reads as something
// other than a string: null, booleans, integers (also hex, binary, octal, with _ and
// sexagesimal 1:30), floats (also .inf, .nan) and dates or times, plus a lone "-" (a
// sequence entry). Psych matches null, booleans, .inf and .nan in any case: "NuLL" is nil
// (found by FuzzYAMLRule against Ruby; the crasher is kept as a seed). It errs on the side of matching: 'y' and 'n', which Psych 4 keeps as
// text, are matched too.
var yamlTyped = regexp.MustCompile(`^(?:~|-|(?i:null|y|n|yes|no|true|false|on|off)|[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-9_]+)*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|(?i:\.inf|\.nan))|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*)$`)

// yamlSafeChars are the characters a value pasted unquoted into YAML may hold. Every other
// one can be YAML syntax somewhere (# a comment, ": " a key, quotes, & * ! anchors, aliases
// and tags, { [ flow collections, , | > % `), or is a space, a control character or not ASCII.
const yamlSafeChars = "_+/.=-:@~"

// yamlRawProblem says why v, pasted unquoted as the value of a YAML mapping, would not
// read back as Rails expects (kind), or returns "" when it would. The reason never
// quotes v, so it serves secrets too.
func yamlRawProblem(v string, kind mastodon.YAMLKind) string {
	switch kind {
	case mastodon.YAMLInt:
		if !regexp.MustCompile(`^(?:0|[1-9][0-9]{0,8})$`).MatchString(v) {
			return "Rails expects a decimal number there, without a sign or leading zeros (YAML reads 0123 as 83, 1_0 as 10, 1:30 as 5400)"
		}
		return ""
	case mastodon.YAMLBool:
		if v != "true" && v != "false" {
			return "Rails expects true or false there (YAML reads yes, on, no and off as booleans too, and anything else as text)"
		}
		return ""
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(yamlSafeChars, c)) {
			return "it holds a character other than letters, digits and " + strings.Join(strings.Split(yamlSafeChars, ""), " ") + ", which YAML may read as syntax (a comment, a key, a quote, an anchor or alias, a flow collection)"
		}
	}
	switch c := v[0]; {
	case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_'):
		return "it starts with '" + string(c) + "', which YAML reads as syntax or a symbol: start with a letter, a digit, '/' or '_'"
	case strings.HasSuffix(v, ":"):
		return "it ends with ':', which makes it a YAML key (Rails does not boot)"
	case yamlTyped.MatchString(v):
		return "YAML reads it as a number, boolean, date or null, not as text"
	}
	return ""
}

// checkYAML reports every variable the release pastes unquoted into a YAML file Rails
// loads ([mastodon.Release.YAMLSlot]) whose value YAML would read as something else, or
// that stops Rails from booting. DB_HOST's two IPv6 forms get their own fix in
// checkNetwork.
func (f *File) checkYAML(ps *report.Problems, rel mastodon.Release) {
	for _, name := range rel.YAMLPasted() {
		l, ok := f.Entry(name)
		if !ok || l.Value == "" {
			continue
		}
		if (name == "DB_HOST" || name == "REPLICA_DB_HOST") && strings.HasPrefix(l.Value, ":") || strings.HasPrefix(l.Value, "[") && name == "DB_HOST" {
			continue
		}
		slot, _ := rel.YAMLSlot(name)
		why := yamlRawProblem(l.Value, slot.Kind)
		if why == "" {
			continue
		}
		if name == "DB_PASS" {
			ps.Errorf(f.where(l), ErrDBPassYAML, "DB_PASS: Mastodon %s pastes it unquoted into %s and %s, so Rails sends PostgreSQL another password or does not boot: change the role's password (ALTER ROLE … PASSWORD) to one of letters, digits and %s that starts with a letter, or use the socket directory with peer authentication and no DB_PASS",
				rel.Line(), slot.File, why, strings.Join(strings.Split(yamlSafeChars, ""), " "))
			continue
		}
		ps.Errorf(f.where(l), ErrYAMLValue, "%s=%s: Mastodon %s pastes %s unquoted into %s, and %s, so Rails reads another value or does not boot: change the value (the %s it is, written plainly)",
			name, show(name, l.Value), rel, name, slot.File, why, slot.Kind)
	}
}
