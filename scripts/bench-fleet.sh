#!/usr/bin/env bash
# Rehearsal and benchmark of a CI fleet on one shared cluster: the harness's own cluster
# topology (`up --topology cluster --keep`) plays the shared cluster, and N processes of the
# 100-test suite (benches/suites/hundred.rs), each with a state folder of its own, play N CI
# jobs. Prints, for each isolation mode (namespace, prefix): each shard's wall time and the
# whole fleet's; what the runs left on the cluster (must be nothing); then a shard SIGKILLed
# mid-run: what it left, that a run within the TTL leaves it alone, and that a run past the
# TTL sweeps it; and last the same shards with a stack each, for comparison.
# Usage: scripts/bench-fleet.sh [shards, default 4]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shards=${1:-4}
work=$(mktemp -d)
cluster_state=$work/cluster
cleanup() {
  TEMPORAL_HARNESS_STATE_DIR=$cluster_state target/debug/temporal-harness down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building the CLI and the 100-test suite" >&2
cargo build -q -p temporal-harness-cli
suite=$(cargo test --no-run --test hundred --message-format=json 2>/dev/null |
  jq -r 'select(.target.name == "hundred" and .executable != null) | .executable')
temporal=${TEMPORAL_HARNESS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-harness/bin}/temporal

mkdir -m 700 "$cluster_state"
TEMPORAL_HARNESS_STATE_DIR=$cluster_state target/debug/temporal-harness up \
  --backend local --topology cluster --keep --once --no-ui >"$work/up.json" 2>"$work/up.log" ||
  { cat "$work/up.log"; exit 1; }
address=$(jq -r .temporal_address "$work/up.json")
echo "shared cluster: $(jq -r .description "$work/up.json") at $address" >&2

seconds() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# What runs left on the cluster: namespaces with a run's marker, open workflows of a run.
leftovers() {
  local namespaces open
  namespaces=$("$temporal" operator namespace list --address "$address" -o json |
    jq '[.. | objects | select(has("data")) | .data | select(has("temporal-harness.run"))] | length')
  open=$("$temporal" workflow count --address "$address" -n default \
    --query "ExecutionStatus = 'Running' AND (WorkflowId STARTS_WITH 'thr-' OR TaskQueue STARTS_WITH 'tq-thr-')" |
    grep -Eo '[0-9]+' | head -1)
  echo "namespaces=$namespaces open_workflows=$open"
}

# One shard: the suite in a process of its own, on the cluster, with its own state folder.
shard() { # mode index [VAR=value...] [-- test binary arguments...]
  local mode=$1 i=$2 state=$work/$1-$2 vars=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  mkdir -m 700 "$state"
  env TEMPORAL_HARNESS_BACKEND=external TEMPORAL_HARNESS_ADDRESS="$address" \
    TEMPORAL_HARNESS_ISOLATION="$mode" TEMPORAL_HARNESS_STATE_DIR="$state" "${vars[@]}" \
    "$suite" "$@" >"$state.log" 2>&1
}

fleet() { # mode
  local mode=$1 start pids=() failed=0
  start=$(date +%s.%N)
  for i in $(seq 1 "$shards"); do
    ( s=$(date +%s.%N); shard "$mode" "$i" && echo "wall=$(seconds "$s")" >>"$work/$mode-$i.log" ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  local total
  total=$(seconds "$start")
  for i in $(seq 1 "$shards"); do
    printf '  shard %s: %s, %s, %ss\n' "$i" "$(grep -Eo '[0-9]+ passed; [0-9]+ failed' "$work/$mode-$i.log" | tail -1)" \
      "$(grep -o 'ended run [^:]*' "$work/$mode-$i.log" | head -1)" "$(grep -Eo 'wall=[0-9.]+' "$work/$mode-$i.log" | cut -d= -f2)"
  done
  [ "$failed" = 0 ] || { echo "a shard failed:"; tail -20 "$work/$mode"-*.log; exit 1; }
  echo "  $mode: $shards shards x 100 tests in ${total}s; left on the cluster: $(leftovers)"
}

for mode in namespace prefix; do
  echo "== $shards shards on one shared cluster, $mode isolation"
  fleet "$mode"
done

for mode in namespace prefix; do
  echo "== a shard SIGKILLed mid-run ($mode isolation)"
  state=$work/killed-$mode
  mkdir -m 700 "$state"
  env TEMPORAL_HARNESS_BACKEND=external TEMPORAL_HARNESS_ADDRESS="$address" \
    TEMPORAL_HARNESS_ISOLATION="$mode" TEMPORAL_HARNESS_STATE_DIR="$state" \
    "$suite" --test-threads 1 >"$state.log" 2>&1 &
  victim=$!
  until [ "$(grep -c ' ok$' "$state.log" || true)" -ge 20 ]; do sleep 0.1; done
  kill -KILL "$victim"; wait "$victim" 2>/dev/null || true
  killed_at=$(date +%s)
  echo "  killed after $(grep -c ' ok$' "$state.log") tests; left: $(leftovers)"
  # The prefix shard's last test left its workflow open: a test started a moment before.
  shard "$mode" within-ttl TEMPORAL_HARNESS_RUN_TTL=1h
  echo "  a run with a TTL of 1h after it: left: $(leftovers) (the killed run's, younger than the TTL)"
  ttl=10
  while [ $(( $(date +%s) - killed_at )) -le $((ttl + 1)) ]; do sleep 0.5; done
  # --nocapture: the sweep's line is printed inside the first test, whose output libtest
  # otherwise keeps to itself when it passes.
  shard "$mode" past-ttl TEMPORAL_HARNESS_RUN_TTL=${ttl}s -- --nocapture
  echo "  a run with a TTL of ${ttl}s, $(( $(date +%s) - killed_at ))s after the kill: $(grep -o 'swept leftovers.*' "$work/$mode-past-ttl.log" || echo 'swept nothing'); left: $(leftovers)"
done

echo "== the same $shards shards with a stack each (containers), for comparison"
start=$(date +%s.%N)
pids=()
for i in $(seq 1 "$shards"); do
  state=$work/own-$i
  mkdir -m 700 "$state"
  ( s=$(date +%s.%N); TEMPORAL_HARNESS_BACKEND=containers TEMPORAL_HARNESS_STATE_DIR=$state \
      "$suite" >"$state.log" 2>&1 && echo "wall=$(seconds "$s")" >>"$state.log" ) &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
total=$(seconds "$start")
for i in $(seq 1 "$shards"); do
  printf '  shard %s: %s, %ss\n' "$i" "$(grep -Eo '[0-9]+ passed; [0-9]+ failed' "$work/own-$i.log" | tail -1)" \
    "$(grep -Eo 'wall=[0-9.]+' "$work/own-$i.log" | cut -d= -f2)"
done
[ "$failed" = 0 ] || { echo "a shard failed:"; tail -20 "$work"/own-*.log; exit 1; }
echo "  a stack per shard: $shards shards x 100 tests in ${total}s"
# Each stack's keeper tears it down after the linger time: wait for that before the folders go.
for _ in $(seq 1 300); do
  [ -z "$(find "$work"/own-* -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ] && break
  sleep 0.1
done
