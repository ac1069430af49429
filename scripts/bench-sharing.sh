#!/usr/bin/env bash
# Benchmark: wall time and stack boots of a test binary's run (target: 1 boot), under
# `cargo test` (one process) and `cargo nextest run` (a process per test), each from a fresh
# state folder, over ROUNDS interleaved rounds (each round runs both, in alternating order),
# printing every run and then the median [min - max] of each. Usage:
# scripts/bench-sharing.sh [sharing|hundred] [ROUNDS, default 3]
#   sharing: 24 tests that each acquire the stack (tests/stack/sharing.rs, the default)
#   hundred: 100 #[temporal_test] tests, each running a workflow (benches/suites/hundred.rs,
#            built only when named)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
suite=${1:-sharing}
rounds=${2:-3}
case $suite in
  sharing) test=stack; test_args=(-- sharing::); nextest_args=(-E 'test(/^sharing::/)') ;;
  hundred) test=hundred; test_args=(); nextest_args=() ;;
  *) echo "usage: $0 [sharing|hundred] (not '$suite')" >&2; exit 2 ;;
esac
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
cargo test --no-run --test "$test" -q 2>/dev/null
results=$(mktemp)
trap 'rm -f "$results"' EXIT
run() { # runner
  local runner=$1 state start took boots passed args
  state=$(mktemp -d)
  if [ "$runner" = "cargo test" ]; then args=("${test_args[@]}"); else args=("${nextest_args[@]}"); fi
  start=$(date +%s.%N)
  # shellcheck disable=SC2086 # the runner is two words
  TEMPORAL_HARNESS_STATE_DIR=$state $runner --test "$test" "${args[@]}" >"$state.log" 2>&1 \
    || { echo "$runner failed:"; tail -30 "$state.log"; exit 1; }
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  boots=$(wc -l <"$state/boots.log" 2>/dev/null || echo 0)
  passed=$(grep -Eo '[0-9]+ passed' "$state.log" | tail -1)
  printf '%-18s suite=%s %s wall=%ss stack_boots=%s\n' "$runner" "$suite" "$passed" "$took" "$boots"
  echo "$runner	$took" >>"$results"
  # Let the keeper finish (linger), then drop the folder.
  for _ in $(seq 1 100); do [ -z "$(find "$state" -mindepth 1 -maxdepth 1 -type d)" ] && break; sleep 0.1; done
  rm -rf "$state" "$state.log"
}
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order=("cargo test" "cargo nextest run"); else order=("cargo nextest run" "cargo test"); fi
  for runner in "${order[@]}"; do run "$runner"; done
done
for runner in "cargo test" "cargo nextest run"; do
  grep -F "$runner	" "$results" | cut -f2 | sort -n |
    awk -v r="$runner" -v s="$suite" '{ v[NR] = $1 } END {
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%-18s suite=%s wall median %.2fs [%.2f - %.2f] over %d rounds\n", r, s, m, v[1], v[NR], NR }'
done
