package envfile

import (
	"fmt"
	"strings"

	"github.com/v6kit/v6kit/internal/textdiff"
	"github.com/v6kit/v6kit/mastodon"
)

// Diff returns a unified diff (3 lines of context, "@@" hunks as patch(1) reads them)
// from old (nil: no file) to new, for showing what a write would change, with every secret masked: a secret's line reads
// KEY=<secret> when it is the same in both files and KEY=<new secret> when it was
// generated or rotated, so neither the old nor the new value is ever shown. Lines that
// cannot be rendered are shown as KEY=<unwritable>. An empty string means no change.
func Diff(old, new *File) string {
	var a []string
	if old != nil {
		a = masked(old, nil)
	}
	b := masked(new, old)
	if strings.Join(a, "\n") == strings.Join(b, "\n") {
		return ""
	}
	name := new.name()
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s (new)\n", name, name)
	out.WriteString(textdiff.Unified(a, b, 3))
	return out.String()
}

// masked renders f line by line with secrets hidden. When prev is given, a secret whose
// value differs from prev's is shown as <new secret>.
func masked(f *File, prev *File) []string {
	out := make([]string, 0, len(f.Lines))
	for _, l := range f.Lines {
		if l.Kind == Entry && (mastodon.IsSecret(l.Key) || strings.HasSuffix(l.Key, "_URL") && strings.Contains(l.Value, "@")) && l.Value != "" {
			tag := "<secret>"
			if prev != nil {
				if pv, _ := prev.Get(l.Key); pv != l.Value {
					tag = "<new secret>"
				}
			}
			out = append(out, l.Key+"="+tag)
			continue
		}
		s, err := l.render()
		if err != nil {
			s = l.Key + "=<unwritable>"
		}
		out = append(out, s)
	}
	return out
}
