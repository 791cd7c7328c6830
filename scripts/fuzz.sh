#!/usr/bin/env bash
# Runs every fuzz target in the module for a short, bounded time (FUZZTIME, default 10s each).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-10s}
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\)' "$f" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
    echo "fuzz: $pkg $fn for $t"
    go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" "$pkg"
  done
done
