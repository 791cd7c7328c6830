#!/usr/bin/env bash
# bench-probe.sh - how long a full v6-probe report takes, against its slowest single
# check (checks run concurrently: the goal is wall/slowest <= 1.2) and against the same
# checks run one after another with dig and curl, as an operator would.
#
# Both run inside a throwaway IPv6-only namespace world (client, router with NAT64 and
# DNS64, server with nginx, IPv4-only peer) that the Go benchmark builds and tears down;
# the loopback benchmark needs no root. Usage: scripts/bench-probe.sh [BENCHTIME]
# (default 20x). `make bench-probe` runs it after scripts/deps.sh --bench.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--mod=mod}
benchtime=${1:-20x}

if [ "$(id -u)" != 0 ]; then
  echo "bench-probe: not root: only the loopback benchmark runs (the world needs network namespaces)" >&2
  pattern='BenchmarkProbeLoopback'
else
  pattern='BenchmarkProbe(Loopback|World)'
fi

out=$(go test -run '^$' -bench "$pattern" -benchtime "$benchtime" -count 1 ./network/ 2>&1) || {
  echo "$out" >&2
  exit 1
}
echo "$out" | grep -E '^(goos|goarch|cpu|Benchmark)'

# metric NAME UNIT: the value printed before UNIT on the benchmark's line
metric() { echo "$out" | awk -v b="$1" -v u="$2" '$1 ~ b { for (i = 2; i <= NF; i++) if ($i == u) print $(i-1) }' | head -n1; }

echo
printf '%-34s %12s %14s %12s\n' "benchmark" "wall ms/op" "slowest check" "wall/slowest"
for b in BenchmarkProbeLoopback 'BenchmarkProbeWorld/v6-probe'; do
  w=$(metric "^$b" wall-ms/op); s=$(metric "^$b" slowest-check-ms/op); r=$(metric "^$b" wall/slowest)
  [ -n "$w" ] && printf '%-34s %12s %14s %12s\n' "${b#Benchmark}" "$w" "$s" "$r"
done
seq=$(metric '^BenchmarkProbeWorld/curl\+dig' wall-ms/op)
probe=$(metric '^BenchmarkProbeWorld/v6-probe' wall-ms/op)
if [ -n "$seq" ] && [ -n "$probe" ]; then
  n=$(metric '^BenchmarkProbeWorld/curl\+dig' commands/op)
  printf '%-34s %12s %14s %12s\n' "ProbeWorld/curl+dig ($n commands)" "$seq" "-" "-"
  echo
  awk -v s="$seq" -v p="$probe" 'BEGIN { printf "v6-probe is %.1fx faster than the same checks run one after another with curl and dig\n", s / p }'
fi
