#!/usr/bin/env bash
# The main job: provision, boot the embedded default stack (Temporal on PostgreSQL), run the
# deployment-validation suite against it, report, tear it down. Extra arguments go to
# `temporal-harness validate` (e.g. --format json, --temporal-address host:7233 to validate a
# deployment instead).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
./scripts/provision.sh
# Built first, with cargo's own progress (one "Compiling" line per crate, then how long it
# took): the first build of the CLI takes minutes, which must never look like a hang.
echo "[run] building the temporal-harness CLI (the first build takes several minutes)..." >&2
start=$(date +%s)
cargo build -p temporal-harness-cli --bin temporal-harness
echo "[run] CLI built in $(($(date +%s) - start)) s" >&2
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/debug/temporal-harness" validate "$@"
