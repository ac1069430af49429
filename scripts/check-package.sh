#!/usr/bin/env bash
# What a release needs short of the upload, checked the way crates.io and docs.rs will see
# it: each published crate packaged alone and built from its package (the CLI without the
# workspace: everything it embeds must be inside its dependencies' packages), a publish dry
# run of all three in dependency order, and the API docs with every feature and no warning.
# The doctests run with the suite (`cargo test --workspace`).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
unpublished=(--exclude temporal-harness-test-support --exclude order-service)
start=$(date +%s)
echo "[package] cargo publish --dry-run of temporal-harness-macros, temporal-harness, temporal-harness-cli (each built from its package)..." >&2
cargo publish --dry-run --workspace "${unpublished[@]}"
echo "[package] packaged and built in $(($(date +%s) - start)) s" >&2
start=$(date +%s)
echo "[package] cargo doc --all-features (warnings are errors)..." >&2
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --workspace "${unpublished[@]}"
echo "[package] docs built in $(($(date +%s) - start)) s" >&2
