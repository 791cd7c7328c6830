package nginxconf

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Directive is one nginx directive: a name, its arguments and, for block directives
// (server, location, upstream, …), the directives inside the braces.
//
// A nil Block prints `name args;`; a non-nil Block, even an empty one, prints
// `name args { … }`. A Name of "#" is a comment whose Args are joined by spaces.
type Directive struct {
	Name  string
	Args  []string
	Block []Directive
}

// D builds a simple directive: D("listen", "[::]:443", "ssl").
func D(name string, args ...string) Directive { return Directive{Name: name, Args: args} }

// B builds a block directive; its Block is never nil.
func B(name string, args []string, block ...Directive) Directive {
	if block == nil {
		block = []Directive{}
	}
	return Directive{Name: name, Args: args, Block: block}
}

// Comment builds a comment line.
func Comment(text string) Directive { return Directive{Name: "#", Args: []string{text}} }

// needsQuote reports whether an argument must be written in double quotes to stay one
// argument: empty, or holding whitespace, `;`, `{`, `}`, a quote, a backslash or `#`.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	return strings.ContainsAny(s, " \t\r\n;{}\"'\\#")
}

// badArgByte reports a byte the printer refuses in any argument: C0 controls other than
// tab, CR and LF, and DEL. nginx would read them, but they only ever arrive by mistake.
func badArgByte(s string) (byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f {
			return c, true
		}
	}
	return 0, false
}

// Quote returns s as one nginx argument: bare when that is unambiguous, otherwise in
// double quotes with `"` and `\` escaped and tab, CR and LF written as \t, \r, \n.
func Quote(s string) string {
	if !needsQuote(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Print writes directives as nginx configuration, indented by two spaces per level,
// with a blank line around block directives. Names and arguments go through [Quote], so
// each stays one word whatever it holds (a map key may be any string, even empty). It
// fails, writing nothing, on a control character other than tab, CR and LF, or a
// multi-line comment.
func Print(w io.Writer, ds []Directive) error {
	var buf bytes.Buffer
	if err := printBlock(&buf, ds, 0); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func printBlock(b *bytes.Buffer, ds []Directive, depth int) error {
	indent := strings.Repeat("  ", depth)
	for i, d := range ds {
		if i > 0 && (d.Block != nil || ds[i-1].Block != nil) {
			b.WriteByte('\n')
		}
		if d.Name == "#" {
			text := strings.Join(d.Args, " ")
			if strings.ContainsAny(text, "\r\n") {
				return fmt.Errorf("%w: comment %q spans lines", ErrPrint, text)
			}
			if c, bad := badArgByte(text); bad {
				return fmt.Errorf("%w: comment %q holds control character %#02x", ErrPrint, text, c)
			}
			b.WriteString(indent)
			b.WriteString(strings.TrimRight("# "+text, " \t"))
			b.WriteByte('\n')
			continue
		}
		if c, bad := badArgByte(d.Name); bad {
			return fmt.Errorf("%w: name %q holds control character %#02x", ErrPrint, d.Name, c)
		}
		b.WriteString(indent)
		b.WriteString(Quote(d.Name))
		for _, a := range d.Args {
			if c, bad := badArgByte(a); bad {
				return fmt.Errorf("%w: argument %q of %s holds control character %#02x", ErrPrint, a, d.Name, c)
			}
			b.WriteByte(' ')
			b.WriteString(Quote(a))
		}
		if d.Block == nil {
			b.WriteString(";\n")
			continue
		}
		if len(d.Block) == 0 {
			b.WriteString(" {}\n")
			continue
		}
		b.WriteString(" {\n")
		if err := printBlock(b, d.Block, depth+1); err != nil {
			return err
		}
		b.WriteString(indent)
		b.WriteString("}\n")
	}
	return nil
}

// Parse reads nginx configuration text into directives, following nginx's own tokenizer
// (ngx_conf_read_token): whitespace separates arguments; `;` ends a directive and `{`
// opens a block, even right after a word; `}` closes a block only between directives;
// `#` starts a comment only where a word could start; single- and double-quoted
// arguments and backslash escapes (\", \', \\, \t, \r, \n) as nginx has them. Comments
// come back as "#" directives. Includes are not followed. It exists so tests can read
// back what [Print] wrote; v6kit never edits hand-written nginx files.
func Parse(src []byte) ([]Directive, error) {
	p := &parser{src: src, line: 1}
	ds, err := p.block(0)
	if err != nil {
		return nil, err
	}
	return ds, nil
}

type parser struct {
	src  []byte
	pos  int
	line int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrParse, p.line, fmt.Sprintf(format, args...))
}

// tokenKind is what ended a read of one directive's words.
type tokenKind int

const (
	endSemicolon tokenKind = iota
	endBlockOpen
	endBlockClose
	endEOF
)

func (p *parser) block(depth int) ([]Directive, error) {
	ds := []Directive{}
	for {
		words, comment, kind, err := p.directive()
		if err != nil {
			return nil, err
		}
		if comment != nil {
			ds = append(ds, *comment)
			continue
		}
		switch kind {
		case endEOF:
			if depth > 0 {
				return nil, p.errorf(`unexpected end of file, expecting "}"`)
			}
			return ds, nil
		case endBlockClose:
			if depth == 0 {
				return nil, p.errorf(`unexpected "}"`)
			}
			return ds, nil
		case endSemicolon, endBlockOpen:
			if words[0] == "#" {
				// Only a quoted "#" gets here; the tree keeps that name for comments.
				return nil, p.errorf(`a directive named "#" (quoted): no nginx directive has that name`)
			}
		}
		switch kind {
		case endSemicolon:
			ds = append(ds, Directive{Name: words[0], Args: args(words)})
		case endBlockOpen:
			inner, err := p.block(depth + 1)
			if err != nil {
				return nil, err
			}
			ds = append(ds, Directive{Name: words[0], Args: args(words), Block: inner})
		}
	}
}

// args returns a directive's arguments, nil when there are none (as [D] builds them).
func args(words []string) []string {
	if len(words) < 2 {
		return nil
	}
	return words[1:]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// directive reads the words of one directive and what ended it, or one comment.
func (p *parser) directive() (words []string, comment *Directive, kind tokenKind, err error) {
	for {
		// Skip whitespace between words.
		for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
			if p.src[p.pos] == '\n' {
				p.line++
			}
			p.pos++
		}
		if p.pos >= len(p.src) {
			if len(words) > 0 {
				return nil, nil, 0, p.errorf("unexpected end of file, expecting \";\" or \"}\"")
			}
			return nil, nil, endEOF, nil
		}
		c := p.src[p.pos]
		switch c {
		case ';':
			p.pos++
			if len(words) == 0 {
				return nil, nil, 0, p.errorf(`unexpected ";"`)
			}
			return words, nil, endSemicolon, nil
		case '{':
			p.pos++
			if len(words) == 0 {
				return nil, nil, 0, p.errorf(`unexpected "{"`)
			}
			return words, nil, endBlockOpen, nil
		case '}':
			p.pos++
			if len(words) > 0 {
				return nil, nil, 0, p.errorf(`unexpected "}"`)
			}
			return nil, nil, endBlockClose, nil
		case '#':
			end := bytes.IndexByte(p.src[p.pos:], '\n')
			var text string
			if end < 0 {
				text = string(p.src[p.pos+1:])
				p.pos = len(p.src)
			} else {
				text = string(p.src[p.pos+1 : p.pos+end])
				p.pos += end
			}
			if len(words) > 0 {
				// A comment in the middle of a directive's arguments: nginx skips it.
				continue
			}
			text = strings.TrimPrefix(strings.TrimRight(text, " \t\r"), " ")
			return nil, &Directive{Name: "#", Args: []string{text}}, 0, nil
		case '"', '\'':
			w, err := p.quoted(c)
			if err != nil {
				return nil, nil, 0, err
			}
			words = append(words, w)
			// nginx needs a space, ";" or "{" after a quoted word (or ")").
			if p.pos < len(p.src) {
				n := p.src[p.pos]
				if !isSpace(n) && n != ';' && n != '{' && n != ')' {
					return nil, nil, 0, p.errorf("unexpected %q after a quoted argument", n)
				}
			}
		default:
			words = append(words, p.word())
		}
	}
}

// quoted reads a quoted word starting at the opening quote.
func (p *parser) quoted(q byte) (string, error) {
	start := p.pos + 1
	i := start
	for ; i < len(p.src); i++ {
		c := p.src[i]
		if c == '\\' {
			i++
			if i < len(p.src) && p.src[i] == '\n' {
				p.line++
			}
			continue
		}
		if c == '\n' {
			p.line++
		}
		if c == q {
			p.pos = i + 1
			return unescape(p.src[start:i]), nil
		}
	}
	return "", p.errorf("unexpected end of file in a quoted argument")
}

// word reads an unquoted word: it ends at whitespace, ";" or "{" (not at "}" or "#").
// "${" inside a word is a variable, not a block.
func (p *parser) word() string {
	start := p.pos
	variable := false
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '{' && variable {
			variable = false
			p.pos++
			continue
		}
		variable = false
		if c == '\\' {
			p.pos += 2
			continue
		}
		if c == '$' {
			variable = true
			p.pos++
			continue
		}
		if isSpace(c) || c == ';' || c == '{' {
			break
		}
		p.pos++
	}
	if p.pos > len(p.src) {
		p.pos = len(p.src)
	}
	return unescape(p.src[start:p.pos])
}

// unescape applies nginx's escapes: \" \' \\ become the character, \t \r \n the control
// character; any other backslash is kept.
func unescape(b []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case '"', '\'', '\\':
				out.WriteByte(b[i+1])
				i++
				continue
			case 't':
				out.WriteByte('\t')
				i++
				continue
			case 'r':
				out.WriteByte('\r')
				i++
				continue
			case 'n':
				out.WriteByte('\n')
				i++
				continue
			}
		}
		out.WriteByte(b[i])
	}
	return out.String()
}
