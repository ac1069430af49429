#!/usr/bin/env bash
# Benchmark: 50 time-skipping tests (each waits out 30 days) under `cargo nextest run`:
#   server, cold: per workflow on the real server, from a fresh state folder (one stack boot)
#   server, warm: the same, the stack still running (as when other tests of the run booted it)
#   test_server:  a Java test server per test (no shared stack)
# Prints one line each.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
cargo test --no-run --test fifty_skipping -q 2>/dev/null
state=$(mktemp -d)
run() { # label, test-name prefix
  local start took passed boots
  start=$(date +%s.%N)
  TEMPORAL_HARNESS_STATE_DIR=$state TEMPORAL_HARNESS_LINGER=20s cargo nextest run \
    --test fifty_skipping -E "test(/^$2::/)" >"$state.log" 2>&1 \
    || { echo "$1 failed:"; tail -30 "$state.log"; exit 1; }
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  passed=$(grep -Eo '[0-9]+ passed' "$state.log" | tail -1)
  boots=$(wc -l 2>/dev/null <"$state/boots.log" || echo 0)
  printf '%-14s %s wall=%ss shared_stack_boots_so_far=%s\n' "$1" "$passed" "$took" "$boots"
}
run "server, cold" server
run "server, warm" server
run "test_server" test_server
TEMPORAL_HARNESS_STATE_DIR=$state cargo run -q -p temporal-harness-cli -- down >/dev/null 2>&1 || true
# The keeper tears the lingering stack down; wait for it, then drop the folder.
for _ in $(seq 1 300); do [ -z "$(find "$state" -mindepth 1 -maxdepth 1 -type d)" ] && break; sleep 0.1; done
rm -rf "$state" "$state.log"
