package envfile

import (
	"regexp"
	"strings"
)

// The two readers of .env.production, emulated line by line so that Validate can say
// what each process will see. Both are ports of the readers' own regular expressions
// (Go's regexp picks the same match a backtracking engine does): Ruby's dotenv 2.4
// (Dotenv::Parser, with its Variable and Command substitutions, the module layout the
// gem keeps in 3.x) and Node's dotenv 16 (lib/main.js parse). The tests check both
// emulations against the real programs.

// rubySpace is Ruby's \s (ASCII only); jsSpace is JavaScript's \s.
const (
	rubySpace = `[\t\n\v\f\r ]`
	jsSpace   = `[\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}]`
)

var (
	rubyLine     = regexp.MustCompile(`\A` + rubySpace + `*(?:export` + rubySpace + `+)?([A-Za-z0-9_.]+)(?:` + rubySpace + `*=` + rubySpace + `*|:` + rubySpace + `+?)('(?:'|[^'])*'|"(?:"|[^"])*"|[^#\n]+)?` + rubySpace + `*(?:#.*)?\z`)
	rubyQuoted   = regexp.MustCompile(`\A(['"])((?s).*)(['"])\z`)
	rubyUnescape = regexp.MustCompile(`\\([^$])`)

	nodeLine = regexp.MustCompile(`\A` + jsSpace + `*(?:export` + jsSpace + `+)?([A-Za-z0-9_.-]+)(?:` + jsSpace + `*=` + jsSpace + `*?|:` + jsSpace + `+?)(` + jsSpace + `*'(?:\\'|[^'])*'|` + jsSpace + `*"(?:\\"|[^"])*"|` + jsSpace + "*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?" + jsSpace + `*(?:#[^\n\r\x{2028}\x{2029}]*)?\z`)
)

// reading is what one reader makes of one line.
type reading struct {
	ok      bool   // the reader sets a variable from this line
	key     string // the variable it sets
	value   string // the value it sets (Rails: with $ substitutions from env; commands unrun)
	command bool   // Rails runs a $(…) command from this line
	subst   bool   // Rails substitutes a $VAR from this line
}

// readRails reads one line as Ruby's dotenv does; env holds the variables it substitutes
// ($VAR expands to env[VAR], or "" when unset).
func readRails(line string, env map[string]string) reading {
	m := rubyLine.FindStringSubmatch(line)
	if m == nil {
		return reading{}
	}
	r := reading{ok: true, key: m[1]}
	value := strings.TrimLeft(m[2], " \t\n\v\f\r")
	value = strings.TrimRight(value, " \t\n\v\f\r\x00")
	quote := byte(0)
	if q := rubyQuoted.FindStringSubmatch(value); q != nil && q[1] == q[3] {
		quote, value = q[1][0], q[2]
	}
	if quote == '"' {
		value = strings.ReplaceAll(strings.ReplaceAll(value, `\n`, "\n"), `\r`, "\r")
		value = rubyUnescape.ReplaceAllString(value, "$1")
	}
	if quote != '\'' {
		value, r.subst = rubyVariables(value, env)
		value, r.command = rubyCommands(value)
	}
	r.value = value
	return r
}

func isRubyName(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// rubyVariables is Dotenv::Substitutions::Variable:
// /(\\)?(\$)(?!\()\{?([A-Z0-9_]+)?\}?/i, replaced by the variable's value, or by the
// match without its backslash when escaped, or left alone when no name follows.
func rubyVariables(s string, env map[string]string) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, false
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		esc := s[i] == '\\' && i+1 < len(s) && s[i+1] == '$'
		dollar := i
		if esc {
			dollar = i + 1
		}
		if s[dollar] != '$' || dollar+1 < len(s) && s[dollar+1] == '(' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := dollar + 1
		if j < len(s) && s[j] == '{' {
			j++
		}
		n := j
		for n < len(s) && isRubyName(s[n]) {
			n++
		}
		name := s[j:n]
		if n < len(s) && s[n] == '}' {
			n++
		}
		match := s[i:n]
		switch {
		case esc:
			b.WriteString(match[1:])
			changed = true
		case name != "":
			b.WriteString(env[name])
			changed = true
		default:
			b.WriteString(match)
		}
		i = n
	}
	return b.String(), changed
}

// rubyCommands finds Dotenv::Substitutions::Command's /(\\)?\$(\(([^()]|\g<cmd>)+\))/:
// an escaped one loses its backslash; an unescaped one is a command Rails runs (left in
// place here, reported by the caller).
func rubyCommands(s string) (string, bool) {
	if !strings.Contains(s, "$(") {
		return s, false
	}
	var b strings.Builder
	found := false
	for i := 0; i < len(s); {
		esc := s[i] == '\\' && i+2 < len(s) && s[i+1] == '$' && s[i+2] == '('
		d := i
		if esc {
			d = i + 1
		}
		if s[d] == '$' && d+1 < len(s) && s[d+1] == '(' {
			if end := matchParens(s, d+1); end > 0 {
				if esc {
					b.WriteString(s[d:end])
				} else {
					b.WriteString(s[i:end])
					found = true
				}
				i = end
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), found
}

// matchParens returns the index after the balanced group opening at s[i]=='(' whose every
// group holds at least one character, or -1.
func matchParens(s string, i int) int {
	j, n := i+1, 0
	for j < len(s) {
		switch s[j] {
		case '(':
			k := matchParens(s, j)
			if k < 0 {
				return -1
			}
			j, n = k, n+1
		case ')':
			if n == 0 {
				return -1
			}
			return j + 1
		default:
			j, n = j+1, n+1
		}
	}
	return -1
}

// readStreaming reads one line as Node's dotenv does.
func readStreaming(line string) reading {
	m := nodeLine.FindStringSubmatch(line)
	if m == nil {
		return reading{}
	}
	value := strings.TrimFunc(m[2], isJSSpace)
	quote := byte(0)
	if value != "" {
		quote = value[0]
	}
	if len(value) >= 2 && (quote == '\'' || quote == '"' || quote == '`') && value[len(value)-1] == quote {
		value = value[1 : len(value)-1]
	}
	if quote == '"' {
		value = strings.ReplaceAll(strings.ReplaceAll(value, `\n`, "\n"), `\r`, "\r")
	}
	return reading{ok: true, key: m[1], value: value}
}

func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
