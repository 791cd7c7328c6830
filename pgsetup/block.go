package pgsetup

import (
	"fmt"
	"slices"
	"strings"

	"github.com/v6kit/v6kit/internal/textdiff"
	"github.com/v6kit/v6kit/report"
)

const (
	beginMarker = "# BEGIN v6kit pgsetup: "
	endMarker   = "# END v6kit pgsetup: "
	blockNote   = "# Managed by v6kit pgsetup (v6-pgsetup): edits inside this block are replaced on the next run."
)

type span struct{ begin, end int } // line indexes of the BEGIN and END markers

func markerName(text, marker string) (string, bool) {
	t := strings.TrimRight(text, "\r")
	if !strings.HasPrefix(t, marker) {
		return "", false
	}
	return strings.TrimPrefix(t, marker), true
}

// blocks finds every managed block and checks that the markers pair up.
func (f *HBAFile) blocks() (map[string]span, error) {
	out := map[string]span{}
	var ps report.Problems
	open, openName := -1, ""
	for i, l := range f.Lines {
		path := fmt.Sprintf("pg_hba.conf:%d", i+1)
		if name, ok := markerName(l.Text, beginMarker); ok {
			switch {
			case open >= 0:
				ps.Errorf(path, ErrHBABlock, "BEGIN of block %q inside block %q opened on line %d", name, openName, open+1)
			case hasKey(out, name):
				ps.Errorf(path, ErrHBABlock, "second block %q (the first is on line %d)", name, out[name].begin+1)
			default:
				open, openName = i, name
			}
			continue
		}
		if name, ok := markerName(l.Text, endMarker); ok {
			switch {
			case open < 0:
				ps.Errorf(path, ErrHBABlock, "END of block %q without its BEGIN", name)
			case name != openName:
				ps.Errorf(path, ErrHBABlock, "END of block %q, but block %q is open since line %d", name, openName, open+1)
			default:
				out[name] = span{open, i}
				open = -1
			}
		}
	}
	if open >= 0 {
		ps.Errorf(fmt.Sprintf("pg_hba.conf:%d", open+1), ErrHBABlock, "block %q has no END line", openName)
	}
	return out, ps.Err()
}

func isMarker(text string) bool {
	_, b := markerName(text, beginMarker)
	_, e := markerName(text, endMarker)
	return b || e
}

func hasKey(m map[string]span, k string) bool { _, ok := m[k]; return ok }

// Block returns the rules of the managed block called name, and whether it exists.
func (f *HBAFile) Block(name string) ([]HBARule, bool) {
	bs, err := f.blocks()
	if err != nil {
		return nil, false
	}
	s, ok := bs[name]
	if !ok {
		return nil, false
	}
	var rules []HBARule
	for _, l := range f.Lines[s.begin+1 : s.end] {
		if l.Rule != nil {
			rules = append(rules, *l.Rule)
		}
	}
	return rules, true
}

// BlockLines renders a managed block: BEGIN marker, a note, one line per rule, END marker.
func BlockLines(name string, rules []HBARule) []string {
	out := []string{beginMarker + name, blockNote}
	for _, r := range rules {
		out = append(out, r.String())
	}
	return append(out, endMarker+name)
}

// SetBlock puts rules into the managed block called name. An existing block is replaced
// in place. A new block goes just before the first existing rule that would match any of
// the same connections (PostgreSQL uses the first matching line), or at the end of the
// file when none would. It reports whether the file changed, and problems: errors for
// invalid rules or a bad name (nothing changed then), warnings when a rule above an
// existing block shadows it, notes on where the block went.
func (f *HBAFile) SetBlock(name string, rules []HBARule) (bool, report.Problems) {
	var ps report.Problems
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) || endsInBackslash(name) {
		ps.Errorf("block", ErrHBABlock, "block name %q must be non-empty, hold no control characters and not end in a backslash (PostgreSQL would join the next line to the marker comment)", name)
	}
	for i, r := range rules {
		ps.Append(fmt.Sprintf("rules[%d]", i), r.Validate())
	}
	bs, err := f.blocks()
	if err != nil {
		ps = append(ps, report.AsProblems(err)...)
	}
	if ps.HasErrors() {
		return false, ps
	}
	lines := make([]HBALine, 0, len(rules)+3)
	for _, t := range BlockLines(name, rules) {
		l := HBALine{Text: t}
		if r, err := parseHBALine(t); err == nil && r != nil {
			l.Rule = r
		}
		lines = append(lines, l)
	}
	old := f.Bytes()
	if s, ok := bs[name]; ok {
		f.Lines = slices.Concat(f.Lines[:s.begin], lines, f.Lines[s.end+1:])
		for i, l := range f.Lines[:s.begin] {
			if l.Rule == nil {
				continue
			}
			for j, r := range rules {
				if l.Rule.Overlaps(r) {
					ps.Warnf(fmt.Sprintf("pg_hba.conf:%d", i+1), ErrHBAShadowed,
						"%q comes before the managed block and matches connections of its rule %d (%s) first; move it below the block or delete it",
						strings.TrimSpace(l.Text), j+1, strings.Join(strings.Fields(r.String()), " "))
					break
				}
			}
		}
		return string(old) != string(f.Bytes()), ps
	}
	at := -1
	for i, l := range f.Lines {
		if l.Rule == nil {
			continue
		}
		if slices.ContainsFunc(rules, func(r HBARule) bool { return l.Rule.Overlaps(r) }) {
			at = i
			break
		}
	}
	if at >= 0 {
		rule := at
		// Keep the comment lines right above that rule attached to it.
		for at > 0 && f.Lines[at-1].Rule == nil && strings.HasPrefix(strings.TrimSpace(f.Lines[at-1].Text), "#") &&
			!isMarker(f.Lines[at-1].Text) {
			at--
		}
		ps.Infof(fmt.Sprintf("pg_hba.conf:%d", rule+1), "managed block %q inserted above %q, which would otherwise match first", name, strings.Join(strings.Fields(f.Lines[rule].Text), " "))
		f.Lines = slices.Concat(f.Lines[:at], lines, []HBALine{{}}, f.Lines[at:])
		return true, ps
	}
	// Append, keeping the file's final newline (the last element is "" then).
	end := len(f.Lines)
	if end > 0 && f.Lines[end-1].Text == "" {
		end--
	}
	var sep []HBALine
	if end > 0 && strings.TrimSpace(f.Lines[end-1].Text) != "" {
		sep = []HBALine{{}}
	}
	tail := f.Lines[end:]
	if len(tail) == 0 {
		tail = []HBALine{{}}
	}
	f.Lines = slices.Concat(f.Lines[:end], sep, lines, tail)
	ps.Infof("pg_hba.conf", "managed block %q appended: no earlier rule matches its connections", name)
	return true, ps
}

// RemoveBlock deletes the managed block called name, markers included, and reports
// whether it existed.
func (f *HBAFile) RemoveBlock(name string) (bool, error) {
	bs, err := f.blocks()
	if err != nil {
		return false, err
	}
	s, ok := bs[name]
	if !ok {
		return false, nil
	}
	f.Lines = slices.Concat(f.Lines[:s.begin], f.Lines[s.end+1:])
	return true, nil
}

// Diff returns a unified diff (3 lines of context, the format of every v6kit --diff)
// between two versions of a file, as patch(1) reads it. It is empty when the contents are equal.
func Diff(name string, old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	return fmt.Sprintf("--- %s\n+++ %s (new)\n", name, name) +
		textdiff.Unified(textdiff.Lines(string(old)), textdiff.Lines(string(new)), 3)
}
