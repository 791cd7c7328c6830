// Package envfile reads, merges, validates and writes Mastodon's .env.production, the one
// file that holds an instance's secrets.
//
// It exists because Mastodon reads that file twice, with two different parsers: Rails
// (web, sidekiq, tootctl) with Ruby's dotenv gem, which expands $VAR and runs $(command)
// in unquoted and double-quoted values, and the streaming server with Node's dotenv,
// which reads values literally. envfile parses the syntax both accept ([Parse],
// [ParseFile]), keeps every line an admin wrote in place with its comments, offers a
// typed view of the settings an installer sets ([Config]), generates the secrets a
// release needs in Mastodon's exact formats, merges new settings into an existing file
// without ever changing a secret ([Merge]), reports every problem at once with its key and
// line ([File.Validate]), and writes each value in the one form both readers read byte
// for byte ([File.Write], [File.WriteFile]).
package envfile

import (
	"bytes"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// DefaultName is the file name used in problem paths when none is known.
const DefaultName = ".env.production"

// Kind says what a [Line] is.
type Kind int

const (
	// Blank is an empty (or whitespace-only) line.
	Blank Kind = iota
	// Comment is a line whose first non-blank character is '#'.
	Comment
	// Entry is a KEY=VALUE line.
	Entry
)

// Quote records how a value was quoted in the source.
type Quote int

const (
	// Unquoted: KEY=value.
	Unquoted Quote = iota
	// Single: KEY='value', read byte for byte by both readers.
	Single
	// Double: KEY="value", with escapes (read differently by the two readers).
	Double
)

// Line is one line of the file.
type Line struct {
	// Kind says whether the line is blank, a comment or an entry.
	Kind Kind
	// Text is a comment's text as written, '#' included (empty for blanks and entries).
	Text string
	// Key is an entry's variable name.
	Key string
	// Value is an entry's value: quotes removed and, in double quotes, escapes decoded as
	// Rails reads them, before any $ substitution. [File.Validate] reports every entry
	// the streaming server reads differently.
	Value string
	// Export is true when the entry starts with "export ".
	Export bool
	// Quote is how the value was quoted in the source (Unquoted for new entries).
	Quote Quote
	// Raw is the entry as it was read. [File.Write] writes it unchanged while it still
	// says Key=Value to both readers, so hand-written lines keep their form and trailing
	// comments; a changed value is written in v6kit's canonical form. Empty for new lines.
	Raw string
	// Num is the 1-based line number in the parsed source; 0 for lines added since.
	Num int
}

// File is a .env.production: an ordered list of lines. The zero value is an empty file.
type File struct {
	// Name is the file name shown in problem paths (".env.production" when empty).
	Name string
	// Lines holds every line in order.
	Lines []Line
	// Release is the Mastodon release whose two dotenv readers every value Write writes
	// must reach byte for byte (zero: [mastodon.Newest]). [New] and [Merge] set it from
	// Options.Release; after [Parse], set it before changing values of a file an older
	// release reads (Mastodon 1.6's Node dotenv trims blanks inside quotes).
	Release mastodon.Release
}

func (f *File) release() mastodon.Release { return Options{Release: f.Release}.release() }

func (f *File) name() string {
	if f.Name == "" {
		return DefaultName
	}
	return f.Name
}

// where is the problem path of line l: "NAME:NUM KEY", or just KEY for a new line.
func (f *File) where(l Line) string {
	if l.Num == 0 {
		if l.Key != "" {
			return l.Key
		}
		return f.name()
	}
	if l.Key == "" {
		return fmt.Sprintf("%s:%d", f.name(), l.Num)
	}
	return fmt.Sprintf("%s:%d %s", f.name(), l.Num, l.Key)
}

// ParseFile reads and parses the file at name. Problem paths use its base name. Only
// a name with nothing at it gives an error wrapping fs.ErrNotExist: a dangling symlink,
// a FIFO or an unreadable file is an error naming it (see package files for the rule).
func ParseFile(name string) (*File, error) {
	src, exists, err := fsutil.ReadExisting(name)
	if err != nil {
		return nil, fmt.Errorf("envfile: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("envfile: read %s: %w", name, fs.ErrNotExist)
	}
	f, err := parse(filepath.Base(name), src)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Parse parses the dotenv syntax that Mastodon's two readers accept: blank lines, #
// comments, KEY=VALUE with an optional "export " prefix (and the rarer "KEY: VALUE"),
// unquoted values ending at '#', single-quoted values taken literally, and double-quoted
// values with backslash escapes. CRLF line ends are accepted. Every syntax problem is
// reported (as a [report.ListError], paths ".env.production:LINE") and nothing panics.
func Parse(src []byte) (*File, error) { return parse(DefaultName, src) }

func parse(name string, src []byte) (*File, error) {
	f := &File{Name: name}
	var ps report.Problems
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		ps.Errorf(name+":1", ErrEncoding, "the file starts with a UTF-8 byte-order mark: Mastodon's own readers skip it (Rails opens the file with \"bom|utf-8\", Node's dotenv takes it as a blank), but Dotenv::Parser called on File.read, shells and docker compose read it as part of the first key: remove it")
		src = src[3:]
	}
	text := string(src)
	text = strings.TrimSuffix(text, "\n")
	if len(src) == 0 {
		return f, nil
	}
	for i, s := range strings.Split(text, "\n") {
		num := i + 1
		s = strings.TrimSuffix(s, "\r")
		path := fmt.Sprintf("%s:%d", name, num)
		if !utf8.ValidString(s) {
			ps.Errorf(path, ErrEncoding, "bytes that are not UTF-8: Ruby's dotenv stops with an error on them; save the file as UTF-8")
			continue
		}
		if strings.ContainsAny(s, "\r\u2028\u2029") {
			ps.Errorf(path, ErrEncoding, "a carriage return or Unicode line separator inside the line: the readers split lines there differently; remove it")
			continue
		}
		l, err := parseLine(s)
		if err != nil {
			ps.Add(report.Problem{Path: path, Severity: report.Error, Message: err.msg, Err: err.sentinel})
			continue
		}
		l.Num = num
		f.Lines = append(f.Lines, l)
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

type lineError struct {
	sentinel error
	msg      string
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isKeyChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validKey reports whether k is a variable name v6kit accepts.
func validKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isKeyChar(k[i]) {
			return false
		}
	}
	return true
}

func parseLine(s string) (Line, *lineError) {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	if i == len(s) {
		return Line{Kind: Blank}, nil
	}
	if s[i] == '#' {
		return Line{Kind: Comment, Text: s}, nil
	}
	l := Line{Kind: Entry, Raw: s}
	if strings.HasPrefix(s[i:], "export") && i+6 < len(s) && isBlank(s[i+6]) {
		l.Export = true
		i += 6
		for i < len(s) && isBlank(s[i]) {
			i++
		}
	}
	start := i
	for i < len(s) && (isKeyChar(s[i]) || s[i] == '.' || s[i] == '-') {
		i++
	}
	l.Key = s[start:i]
	if l.Key == "" {
		return l, &lineError{ErrSyntax, fmt.Sprintf("%s is not KEY=VALUE, a # comment or blank: fix or remove the line", shown(s))}
	}
	if !validKey(l.Key) {
		return l, &lineError{ErrBadKey, fmt.Sprintf("key %s: %v", shown(l.Key), ErrBadKey)}
	}
	// Both readers accept "KEY=VALUE" (blanks around '=') and the YAML-like "KEY: VALUE"
	// (':' right after the key, then at least one blank).
	colon := i+1 < len(s) && s[i] == ':' && isBlank(s[i+1])
	for !colon && i < len(s) && isBlank(s[i]) {
		i++
	}
	switch {
	case colon:
		i++
	case i < len(s) && s[i] == '=':
		i++
	default:
		if looksSecret(l.Key) {
			return l, &lineError{ErrSyntax, fmt.Sprintf("%s is not KEY=VALUE: write NAME=VALUE", shown(l.Key))}
		}
		return l, &lineError{ErrSyntax, fmt.Sprintf("%s: expected '=' after the key: write %s=VALUE", l.Key, l.Key)}
	}
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	rest := s[i:]
	switch {
	case strings.HasPrefix(rest, "'"):
		end := strings.IndexByte(rest[1:], '\'')
		if end < 0 {
			return l, &lineError{ErrUnterminatedQuote, fmt.Sprintf("%s: the single quote is not closed on this line: %v", l.Key, ErrUnterminatedQuote)}
		}
		l.Quote, l.Value = Single, rest[1:1+end]
		rest = rest[2+end:]
	case strings.HasPrefix(rest, `"`):
		var b strings.Builder
		j, closed := 1, false
		for j < len(rest) {
			c := rest[j]
			if c == '"' {
				closed = true
				break
			}
			if c == '\\' && j+1 < len(rest) {
				switch n := rest[j+1]; n {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				default:
					b.WriteByte(n)
				}
				j += 2
				continue
			}
			b.WriteByte(c)
			j++
		}
		if !closed {
			return l, &lineError{ErrUnterminatedQuote, fmt.Sprintf("%s: the double quote is not closed on this line: %v", l.Key, ErrUnterminatedQuote)}
		}
		l.Quote, l.Value = Double, b.String()
		rest = rest[j+1:]
	default:
		v := rest
		if k := strings.IndexByte(v, '#'); k >= 0 {
			v, rest = v[:k], v[k:]
		} else {
			rest = ""
		}
		l.Value = strings.TrimRight(v, " \t")
		return l, nil
	}
	rest = strings.TrimLeft(rest, " \t")
	if rest != "" && rest[0] != '#' {
		text := fmt.Sprintf("%q", clip(rest))
		if mastodon.IsSecret(l.Key) {
			text = fmt.Sprintf("<%d characters of a secret>", len(rest)) // likely the rest of the value
		}
		return l, &lineError{ErrTrailingText, fmt.Sprintf("%s: %s after the closing quote: %v", l.Key, text, ErrTrailingText)}
	}
	return l, nil
}

// shown quotes s for an error message, shortened, unless it looks like a secret value: a line
// holding only a pasted `rake secret` or VAPID key is the classic hand-edit mistake, and the
// error (printed to a terminal, a CI log, a support forum) must not carry it.
func shown(s string) string {
	if looksSecret(s) {
		return fmt.Sprintf("a text of %d characters that looks like a secret value (not shown)", len(s))
	}
	return fmt.Sprintf("%q", clip(s))
}

// looksSecret reports whether s holds a run of at least 20 characters of the alphabets
// Mastodon's secrets use (hex, alphanumerics, base64url, base64) with at least three digits and
// a letter: every generated secret has that shape, variable names and prose don't.
func looksSecret(s string) bool {
	run, digits, letters := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (isKeyChar(s[i]) || strings.IndexByte("+/=-", s[i]) >= 0) {
			run++
			switch c := s[i]; {
			case c >= '0' && c <= '9':
				digits++
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				letters++
			}
			continue
		}
		if run >= 20 && digits >= 3 && letters > 0 {
			return true
		}
		run, digits, letters = 0, 0, 0
	}
	return false
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// index returns the position of the last entry for key, or -1.
func (f *File) index(key string) int {
	for i := len(f.Lines) - 1; i >= 0; i-- {
		if f.Lines[i].Kind == Entry && f.Lines[i].Key == key {
			return i
		}
	}
	return -1
}

// Get returns the value of key (the last one when it is set twice, as both readers do).
func (f *File) Get(key string) (string, bool) {
	if i := f.index(key); i >= 0 {
		return f.Lines[i].Value, true
	}
	return "", false
}

// Has reports whether key is set.
func (f *File) Has(key string) bool { return f.index(key) >= 0 }

// Entry returns the line that sets key (the last one), or false.
func (f *File) Entry(key string) (Line, bool) {
	if i := f.index(key); i >= 0 {
		return f.Lines[i], true
	}
	return Line{}, false
}

// Keys lists the keys that are set, in file order, each once.
func (f *File) Keys() []string {
	var out []string
	for _, l := range f.Lines {
		if l.Kind == Entry && !slices.Contains(out, l.Key) {
			out = append(out, l.Key)
		}
	}
	return out
}

// Set gives key the value: the line that sets it keeps its place (it is rewritten in
// canonical form when the value changes), and a new key is appended at the end. Use
// [Merge] with [Config] to place new keys in Mastodon's sections. The value is checked
// when the file is written.
func (f *File) Set(key, value string) {
	if i := f.index(key); i >= 0 {
		if f.Lines[i].Value != value {
			f.Lines[i].Value = value
			f.Lines[i].Raw = ""
			f.Lines[i].Quote = Unquoted
			f.Lines[i].Export = false // Write drops the prefix: Node dotenv before 16 ignores export lines
		}
		return
	}
	f.Lines = append(f.Lines, Line{Kind: Entry, Key: key, Value: value})
}

// Delete removes every line that sets key and reports whether there was one. Comments
// above it stay.
func (f *File) Delete(key string) bool {
	n := len(f.Lines)
	f.Lines = slices.DeleteFunc(f.Lines, func(l Line) bool { return l.Kind == Entry && l.Key == key })
	return len(f.Lines) != n
}

// Clone returns a deep copy.
func (f *File) Clone() *File {
	return &File{Name: f.Name, Lines: slices.Clone(f.Lines), Release: f.Release}
}

// Env returns the file's values as a map (last one wins), as the process environment
// Mastodon would see with nothing else set.
func (f *File) Env() map[string]string {
	m := make(map[string]string)
	for _, l := range f.Lines {
		if l.Kind == Entry {
			m[l.Key] = l.Value
		}
	}
	return m
}
