#!/usr/bin/env bash
# Runs the test suite N times in a row to *find* flaky tests (never to hide them: a test that
# fails once in N is a bug to fix at its cause). With --load, every core is kept busy the
# whole time by stress-ng (one CPU worker per core, installed by provisioning), as on a shared
# CI runner where other jobs compete for the machine. Arguments after `--` go to `cargo test`
# (e.g. `--test faults` for one binary). Prints one line per run (wall time, load average)
# with the slowest binaries and the failing tests of each; exits 1 if any run failed.
#
#   scripts/repeat-suite.sh 3                          # the whole suite, idle machine
#   scripts/repeat-suite.sh 3 --load                   # the whole suite, every core busy
#   scripts/repeat-suite.sh 10 --load -- --test faults # the faults binary alone, loaded
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
usage="usage: $0 N [--load] [-- CARGO_TEST_ARGS...]"
runs=${1:?$usage}
shift
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "$usage (N must be a positive count, not '$runs')" >&2; exit 2; }
load=""
if [ "${1:-}" = --load ]; then
  load=--load
  shift
fi
if [ $# -gt 0 ]; then
  [ "$1" = -- ] || { echo "$usage (unexpected '$1')" >&2; exit 2; }
  shift
fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/temporal-harness-repeat.XXXXXX")
hog=""
cleanup() { if [ -n "$hog" ]; then kill "$hog" 2>/dev/null || true; wait "$hog" 2>/dev/null || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
./scripts/provision.sh
echo "building the suite..." >&2
cargo test --workspace --no-run "$@" >"$logs/build.log" 2>&1 ||
  { tail -n 30 "$logs/build.log" >&2; echo "the suite does not build (log: $logs/build.log)" >&2; exit 1; }
if [ -n "$load" ]; then
  command -v stress-ng >/dev/null ||
    { echo "--load needs stress-ng. Fix: ./scripts/provision.sh installs it (apt-get install -y stress-ng)" >&2; exit 2; }
  # Ended with this script (the EXIT trap). The timeout is a backstop if the trap is skipped
  # (SIGKILL): never more than a day of burnt CPU.
  stress-ng --cpu "$(nproc)" --timeout 24h --quiet &
  hog=$!
  echo "load: stress-ng --cpu $(nproc) (pid $hog)" >&2
fi
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  log="$logs/run-$i.log"
  if cargo test --workspace --no-fail-fast "$@" >"$log" 2>&1; then verdict=passed; else verdict=FAILED; failed=$((failed + 1)); fi
  echo "run $i/$runs: $verdict in $(($(date +%s) - start)) s${load:+ (loaded)}, load average $(cut -d' ' -f1-3 /proc/loadavg) (log: $log)"
  "$ROOT/scripts/summarize-tests.sh" --slowest 5 "$log" | sed 's/^/    /'
done
echo "repeat-suite: $((runs - failed)) passed, $failed failed"
[ "$failed" = 0 ]
