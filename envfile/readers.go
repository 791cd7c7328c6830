package envfile

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/v6kit/v6kit/mastodon"
)

// The two readers of .env.production, emulated over the whole file so that Validate can
// say what each process of the target release will see. Each is a port of the reader's
// own regular expressions (Go's regexp picks the match a backtracking engine picks) for
// every version a release pins ([mastodon.DotenvPair]): Ruby's dotenv gem (Rails, with its
// Variable and Command substitutions) and Node's dotenv (streaming). The tests check the
// Node ports against every pinned npm version and the Ruby ports against Debian's gem.

// rubySpace is Ruby's \s (ASCII only); jsSpace is JavaScript's \s.
const (
	rubySpace = `[\t\n\v\f\r ]`
	jsSpace   = `[\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}]`
)

var (
	// Ruby dotenv 2.2.x and Debian's 2.4.0: one line at a time, greedy quotes.
	gemLine = regexp.MustCompile(`\A` + rubySpace + `*(?:export` + rubySpace + `+)?([A-Za-z0-9_.]+)(?:` + rubySpace + `*=` + rubySpace + `*|:` + rubySpace + `+?)('(?:'|[^'])*'|"(?:"|[^"])*"|[^#\n]+)?` + rubySpace + `*(?:#.*)?\z`)
	// Ruby dotenv 2.5.0–2.7.2: the whole file, no blanks before a quote inside the group.
	gemScan25 = regexp.MustCompile(`(?m)(?:^|\A)` + rubySpace + `*(?:(export)` + rubySpace + `+)?([A-Za-z0-9_.]+)(?:` + rubySpace + `*=` + rubySpace + `*?|:` + rubySpace + `+?)('(?:\\'|[^'])*'|"(?:\\"|[^"])*"|[^#\r\n]+)?` + rubySpace + `*(?:#.*)?(?:$|\z)`)
	// Ruby dotenv 2.7.5–3.1.4.
	gemScan275 = regexp.MustCompile(`(?m)(?:^|\A)` + rubySpace + `*(?:(export)` + rubySpace + `+)?([A-Za-z0-9_.]+)(?:` + rubySpace + `*=` + rubySpace + `*?|:` + rubySpace + `+?)(` + rubySpace + `*'(?:\\'|[^'])*'|` + rubySpace + `*"(?:\\"|[^"])*"|[^#\r\n]+)?` + rubySpace + `*(?:#.*)?(?:$|\z)`)
	// Ruby dotenv 3.1.5+: separator and value optional.
	gemScan315        = regexp.MustCompile(`(?m)(?:^|\A)` + rubySpace + `*(?:(export)` + rubySpace + `+)?([A-Za-z0-9_.]+)(?:(?:` + rubySpace + `*=` + rubySpace + `*?|:` + rubySpace + `+?)(` + rubySpace + `*'(?:\\'|[^'])*'|` + rubySpace + `*"(?:\\"|[^"])*"|[^#\n]+)?)?` + rubySpace + `*(?:#.*)?(?:$|\z)`)
	gemBlankOrComment = regexp.MustCompile(`\A` + rubySpace + `*(?:#.*)?\z`)
	gemUnescape       = regexp.MustCompile(`\\([^$])`)

	// Node dotenv before 15: one line at a time.
	nodeOldLine = regexp.MustCompile(`\A` + jsSpace + `*([\w.-]+)` + jsSpace + `*=` + jsSpace + `*([^\n\r\x{2028}\x{2029}]*)?` + jsSpace + `*\z`)
	// Node dotenv 16 and 17: the whole file.
	nodeScan = regexp.MustCompile(`(?m)(?:^|^)` + jsSpace + `*(?:export` + jsSpace + `+)?([\w.-]+)(?:` + jsSpace + `*=` + jsSpace + `*?|:` + jsSpace + `+?)(` + jsSpace + `*'(?:\\'|[^'])*'|` + jsSpace + `*"(?:\\"|[^"])*"|` + jsSpace + "*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?" + jsSpace + `*(?:#[^\n\r\x{2028}\x{2029}]*)?$`)
)

// assignment is one variable a reader sets from the file.
type assignment struct {
	key, value string
	line, last int  // 0-based lines of the key and of the value's end
	quote      byte // the quote the reader took the value in (0: none)
	export     bool // the line starts with export
	subst      bool // Rails substituted a $VAR
	command    bool // Rails runs a $(…) command from this value
	dollar     bool // $( in the text Rails substitutes, before or after $VAR expansion
}

// fileReading is what one reader makes of a whole file.
type fileReading struct {
	sets  []assignment
	fatal map[int]string // line → why the reader raises (Rails does not boot)
}

// at returns the assignment whose key is on line i, and whether some assignment's value
// covers line i from an earlier line (then its index is returned in cover).
func (r fileReading) at(i int) (a assignment, ok bool, cover int) {
	cover = -1
	for j, s := range r.sets {
		if s.line == i {
			return s, true, -1
		}
		if s.line < i && s.last >= i {
			cover = j
		}
	}
	return assignment{}, false, cover
}

// lineOf returns the 0-based line of byte offset off in text.
func lineOf(text string, off int) int { return strings.Count(text[:off], "\n") }

// readGem reads text as the gem of pair p does (Rails); the process environment is
// taken to be empty, so $VAR expands to the file's earlier value or "".
func readGem(p mastodon.DotenvPair, text string) fileReading {
	out := fileReading{fatal: map[int]string{}}
	hash := map[string]string{}
	set := func(a assignment) {
		hash[a.key] = a.value
		out.sets = append(out.sets, a)
	}
	if p.GemLineByLine() {
		for i, l := range strings.Split(text, "\n") {
			if l == "" {
				continue
			}
			m := gemLine.FindStringSubmatch(l)
			if m == nil {
				f := strings.Fields(l)
				switch {
				case len(f) > 0 && f[0] == "export":
					for _, v := range f[1:] {
						if _, ok := hash[v]; !ok {
							out.fatal[i] = "Ruby's dotenv " + p.Gem.String() + " stops with Dotenv::FormatError (\"has an unset variable\") on this line, so Rails does not boot"
						}
					}
				case p.GemRefusesUnknownLines() && !gemBlankOrComment.MatchString(l):
					out.fatal[i] = "Ruby's dotenv " + p.Gem.String() + " stops with Dotenv::FormatError (\"doesn't match format\") on this line, so Rails does not boot"
				}
				continue
			}
			a := gemValue(p, m[2], hash)
			a.key, a.line, a.last, a.export = m[1], i, i, strings.HasPrefix(strings.TrimLeft(l, " \t\n\v\f\r"), "export")
			set(a)
		}
		return out
	}
	re := gemScan25
	switch {
	case p.GemExportNeedsValue():
		re = gemScan315
	case p.GemQuoteAfterBlanks():
		re = gemScan275
	}
	prev := 0
	var gaps [][2]int
	for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
		gaps = append(gaps, [2]int{prev, m[0]})
		prev = m[1]
		key := text[m[4]:m[5]]
		export := m[2] >= 0
		a := assignment{key: key, line: lineOf(text, m[4]), export: export}
		a.last = a.line
		hasValue := m[6] >= 0
		if hasValue {
			a.last = lineOf(text, m[7])
		}
		if p.GemExportNeedsValue() && export && !hasValue {
			if _, ok := hash[key]; !ok {
				out.fatal[a.line] = "Ruby's dotenv " + p.Gem.String() + " reads `export " + key + "=` with nothing after '=' as exporting a variable set before, and stops with Dotenv::FormatError (\"has an unset variable\"), so Rails does not boot"
			}
			continue
		}
		raw := ""
		if hasValue {
			raw = text[m[6]:m[7]]
		}
		v := gemValue(p, raw, hash)
		a.value, a.quote, a.subst, a.command, a.dollar = v.value, v.quote, v.subst, v.command, v.dollar
		set(a)
	}
	if !p.GemExportNeedsValue() {
		gaps = append(gaps, [2]int{prev, len(text)})
		for _, g := range gaps {
			base := lineOf(text, g[0])
			for k, l := range strings.Split(text[g[0]:g[1]], "\n") {
				if f := strings.Fields(l); len(f) > 0 && f[0] == "export" {
					for _, v := range f[1:] {
						if _, ok := hash[v]; !ok {
							out.fatal[base+k] = "Ruby's dotenv " + p.Gem.String() + " stops with Dotenv::FormatError (\"has an unset variable\") on this line, so Rails does not boot"
						}
					}
				}
			}
		}
	}
	return out
}

// rubyStrip is Ruby's String#strip.
func rubyStrip(s string) string {
	return strings.TrimRight(strings.TrimLeft(s, " \t\n\v\f\r"), " \t\n\v\f\r\x00")
}

// gemValue is Dotenv::Parser#parse_value of the gem of pair p.
func gemValue(p mastodon.DotenvPair, raw string, hash map[string]string) assignment {
	var a assignment
	v := rubyStrip(raw)
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		a.quote, v = v[0], v[1:len(v)-1]
	}
	switch {
	case a.quote == '"' && p.GemLiteralNewlines():
		v = strings.ReplaceAll(strings.ReplaceAll(v, `\n`, `\\n`), `\r`, `\\r`)
		v = gemUnescape.ReplaceAllString(v, "$1")
	case a.quote == '"':
		v = strings.ReplaceAll(strings.ReplaceAll(v, `\n`, "\n"), `\r`, "\r")
		v = gemUnescape.ReplaceAllString(v, "$1")
	case a.quote == 0 && p.GemUnescapesUnquoted():
		v = gemUnescape.ReplaceAllString(v, "$1")
	}
	if a.quote != '\'' {
		if p.GemCommandsFirst() {
			a.dollar = strings.Contains(v, "$(")
			v, a.command = rubyCommands(v)
			var expanded string
			expanded, a.subst = rubyVariables(v, hash)
			a.dollar = a.dollar || strings.Contains(expanded, "$(")
			v = expanded
		} else {
			a.dollar = strings.Contains(v, "$(")
			v, a.subst = rubyVariables(v, hash)
			a.dollar = a.dollar || strings.Contains(v, "$(")
			v, a.command = rubyCommands(v)
		}
	}
	a.value = v
	return a
}

// isRubyName reports whether r is matched by the gem's /[A-Z0-9_]/i, which folds case
// with Unicode rules: ſ (U+017F) and K (U+212A) fold to s and k.
func isRubyName(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == 0x17f || r == 0x212a
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
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			if !isRubyName(r) {
				break
			}
			n += size
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

// readNode reads text as Node's dotenv of pair p does (streaming).
func readNode(p mastodon.DotenvPair, text string) fileReading {
	out := fileReading{fatal: map[int]string{}}
	if p.NodeLineByLine() {
		for i, l := range strings.Split(text, "\n") {
			m := nodeOldLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			out.sets = append(out.sets, assignment{key: m[1], value: nodeOldValue(p, m[2]), line: i, last: i})
		}
		return out
	}
	for _, m := range nodeScan.FindAllStringSubmatchIndex(text, -1) {
		a := assignment{key: text[m[2]:m[3]], line: lineOf(text, m[2])}
		a.last = a.line
		v := ""
		if m[4] >= 0 {
			v = text[m[4]:m[5]]
			a.last = lineOf(text, m[5])
		}
		v = strings.TrimFunc(v, isJSSpace)
		first := byte(0)
		if v != "" {
			first = v[0]
		}
		if len(v) >= 2 && (first == '\'' || first == '"' || first == '`') && v[len(v)-1] == first {
			a.quote, v = first, v[1:len(v)-1]
		}
		if first == '"' {
			v = strings.ReplaceAll(strings.ReplaceAll(v, `\n`, "\n"), `\r`, "\r")
		}
		a.value = v
		out.sets = append(out.sets, a)
	}
	return out
}

// nodeOldValue is the value handling of Node's dotenv before 15.
func nodeOldValue(p mastodon.DotenvPair, v string) string {
	if p.NodeTrimsQuoted() {
		if len(v) > 0 && v[0] == '"' && v[len(v)-1] == '"' {
			v = strings.ReplaceAll(v, `\n`, "\n")
		}
		if v != "" && (v[0] == '\'' || v[0] == '"') {
			v = v[1:]
			if v == "" {
				return ""
			}
		}
		if v != "" && (v[len(v)-1] == '\'' || v[len(v)-1] == '"') {
			v = v[:len(v)-1]
		}
		return strings.TrimFunc(v, isJSSpace)
	}
	if v == "" {
		return ""
	}
	dq := v[0] == '"' && v[len(v)-1] == '"'
	sq := v[0] == '\'' && v[len(v)-1] == '\''
	if !dq && !sq {
		return strings.TrimFunc(v, isJSSpace)
	}
	if len(v) >= 2 {
		v = v[1 : len(v)-1]
	} // one character: JavaScript's substring(1, 0) is the character itself
	if dq {
		v = strings.ReplaceAll(v, `\n`, "\n")
	}
	return v
}

func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// baseline is the pair v6kit's own tests run for real: Debian's ruby-dotenv 2.4.0 (read
// one line at a time, like 2.2.x but without its FormatError on unknown lines) and Node
// dotenv 16.6.1.
var baseline = mastodon.DotenvPair{Gem: mastodon.V(2, 4, 0), Node: mastodon.V(16, 6, 1)}
