#!/usr/bin/env bash
# Benchmark: how many stack boots a run of 24 tests needs (target: 1), under `cargo test`
# (one process) and `cargo nextest run` (a process per test), each from a fresh state folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
cargo test --no-run --test stack_sharing -q 2>/dev/null
for runner in "cargo test" "cargo nextest run"; do
  state=$(mktemp -d)
  start=$(date +%s.%N)
  TEMPORAL_HARNESS_STATE_DIR=$state $runner --test stack_sharing >/dev/null 2>&1
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  boots=$(wc -l <"$state/boots.log" 2>/dev/null || echo 0)
  printf '%-18s tests=24 wall=%ss stack_boots=%s\n' "$runner" "$took" "$boots"
  # Let the keeper finish (linger), then drop the folder.
  for _ in $(seq 1 100); do [ -z "$(find "$state" -mindepth 1 -maxdepth 1 -type d)" ] && break; sleep 0.1; done
  rm -rf "$state"
done
