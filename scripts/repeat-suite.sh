#!/usr/bin/env bash
# Runs the whole test suite N times in a row to *find* flaky tests (never to hide them: a
# test that fails once in N is a bug to fix at its cause). With --load, one core is kept busy
# the whole time, as a loaded CI machine would be. Prints one line per run and the failing
# tests of each; exits 1 if any run failed.
#
#   scripts/repeat-suite.sh 5            # five runs on an idle machine
#   scripts/repeat-suite.sh 5 --load     # five runs with one core busy
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
runs=${1:?usage: $0 N [--load]}
load=${2:-}
[ -z "$load" ] || [ "$load" = --load ] || { echo "usage: $0 N [--load]" >&2; exit 2; }
logs=$(mktemp -d)
hog=""
cleanup() { [ -n "$hog" ] && kill "$hog" 2>/dev/null; true; }
trap cleanup EXIT INT TERM
if [ "$load" = --load ]; then
  # One busy loop: half of a 2-core machine. Ended with this script.
  sh -c 'while :; do :; done' &
  hog=$!
fi
cargo test --workspace --no-run >/dev/null 2>&1 || { echo "the suite does not build" >&2; exit 1; }
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if cargo test --workspace --no-fail-fast >"$logs/run-$i.log" 2>&1; then
    echo "run $i/$runs: passed in $(($(date +%s) - start)) s${load:+ (loaded)}"
  else
    failed=$((failed + 1))
    echo "run $i/$runs: FAILED in $(($(date +%s) - start)) s${load:+ (loaded)} (log: $logs/run-$i.log)"
    grep -E '^test .* FAILED$|^    [a-z_:0-9]+$' "$logs/run-$i.log" | sed 's/^/    /' || true
  fi
done
echo "$((runs - failed)) passed, $failed failed"
[ "$failed" = 0 ]
