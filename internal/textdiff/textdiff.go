// Package textdiff computes the line diffs behind every v6kit CLI's --diff: one
// longest-common-subsequence edit script, and a unified rendering of it. The artifacts
// it compares (an env file, a site, a unit, pg_hba.conf) are at most a few thousand
// lines, so the quadratic LCS table is fine and keeps the output minimal.
package textdiff

import (
	"fmt"
	"strings"
)

// Op is one line of an edit script.
type Op struct {
	// Kind is ' ' (kept), '-' (removed from a) or '+' (added from b).
	Kind byte
	// Text is the line, without its newline.
	Text string
	// A and B are the 0-based positions in a and b where the op stands.
	A, B int
}

// Lines splits text into lines, dropping the final newline; "" has no lines.
func Lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Ops returns the edit script from a to b, removals before additions at each change.
func Ops(a, b []string) []Op {
	n, m := len(a), len(b)
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	ops := make([]Op, 0, max(n, m))
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, Op{' ', a[i], i, j})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, Op{'-', a[i], i, j})
			i++
		default:
			ops = append(ops, Op{'+', b[j], i, j})
			j++
		}
	}
	return ops
}

// Changed reports whether the script holds any removal or addition.
func Changed(ops []Op) bool {
	for _, o := range ops {
		if o.Kind != ' ' {
			return true
		}
	}
	return false
}

// Unified renders the hunks of a unified diff from a to b with context lines around each
// change ("@@ -l,s +l,s @@" headers as patch(1) reads them), without the ---/+++ header.
// It returns "" when a and b are equal.
func Unified(a, b []string, context int) string {
	ops := Ops(a, b)
	var out strings.Builder
	for k := 0; k < len(ops); {
		if ops[k].Kind == ' ' {
			k++
			continue
		}
		start := max(k-context, 0)
		end := k
		// Extend the hunk while the next change is within 2*context kept lines.
		for end < len(ops) {
			if ops[end].Kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].Kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		var na, nb int
		for _, o := range ops[start:end] {
			if o.Kind != '+' {
				na++
			}
			if o.Kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(ops[start].A, na), hunkRange(ops[start].B, nb))
		for _, o := range ops[start:end] {
			out.WriteByte(o.Kind)
			out.WriteString(o.Text)
			out.WriteByte('\n')
		}
		k = end
	}
	return out.String()
}

// hunkRange formats a hunk side: an empty side names the line before it (patch(1)'s rule).
func hunkRange(pos, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", pos)
	}
	return fmt.Sprintf("%d,%d", pos+1, n)
}
