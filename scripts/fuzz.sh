#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded number of executions
# (FUZZTIME, default 100000x each: about 5–10 s per target on a 2-core machine).
#
# The default is a count, not a duration, on purpose: with a duration, Go 1.26's fuzz coordinator
# can report "context deadline exceeded" as a failure at the end of -fuzztime with no crasher
# (golang/go#75804, fixed in Go 1.27). A count never arms that deadline. A duration still works
# (FUZZTIME=30s) for local runs; -timeout bounds a pathological slow target either way.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-100000x}
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\)' "$f" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
    echo "fuzz: $pkg $fn for $t"
    go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" -timeout=5m "$pkg"
  done
done
