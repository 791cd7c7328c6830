package main

import (
	"fmt"

	"github.com/v6kit/v6kit/internal/textdiff"
)

// unifiedDiff returns a unified diff (3 lines of context) from old to new, or "" when
// they are equal.
func unifiedDiff(name, old, new string) string {
	if old == new {
		return ""
	}
	return fmt.Sprintf("--- %s\n+++ %s (v6-nginxgen)\n", name, name) + textdiff.Unified(textdiff.Lines(old), textdiff.Lines(new), 3)
}
