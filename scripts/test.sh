#!/usr/bin/env bash
# The whole test suite: provision (idempotent), then every test of the workspace against the
# real stack. Extra arguments go to `cargo test` (e.g. a test name filter).
#
# Every test binary runs, also after one failed (--no-fail-fast), and the run ends with one
# line per failing binary naming its failed tests; the exit status is cargo's (non-zero on
# any failure).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
./scripts/provision.sh
log=$(mktemp "${TMPDIR:-/tmp}/temporal-harness-test.XXXXXX")
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
"$ROOT/scripts/summarize-tests.sh" "$log"
exit "$status"
