#!/usr/bin/env bash
# What a release needs short of the upload, checked the way crates.io and docs.rs will see
# it: each published crate packaged alone and built from its package (the CLI without the
# workspace: everything it embeds must be inside its dependencies' packages), a publish dry
# run of all three in dependency order, and the API docs with every feature and no warning.
# The doctests run with the suite (`cargo test --workspace`). Then the library's public API
# against the last release's, by cargo-semver-checks (pinned in fixtures/versions.env,
# installed on first use into the per-user cache).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# The API a change must keep: the commit whose public API was last accepted for the next
# release (0.2.0: its breaking changes since 0.1.0 are listed in CHANGELOG.md). Checked as a
# *minor* release: additions pass, anything that would break a user of that API fails. A
# deliberate break moves this commit on, with its CHANGELOG line. (Against 0.1.0 itself the
# tool would check nothing: 0.2.0 may break anything 0.1.0 had.)
SEMVER_BASELINE=8557ed416973664ed077652ffd4defead8c77212
# shellcheck source=../fixtures/versions.env
. fixtures/versions.env
unpublished=(--exclude temporal-harness-test-support --exclude order-service)
start=$(date +%s)
echo "[package] cargo publish --dry-run of temporal-harness-macros, temporal-harness, temporal-harness-cli (each built from its package)..." >&2
cargo publish --dry-run --workspace "${unpublished[@]}"
echo "[package] packaged and built in $(($(date +%s) - start)) s" >&2
start=$(date +%s)
echo "[package] cargo doc --all-features (warnings are errors)..." >&2
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --workspace "${unpublished[@]}"
echo "[package] docs built in $(($(date +%s) - start)) s" >&2

start=$(date +%s)
baseline=$(git rev-parse --verify -q "$SEMVER_BASELINE^{commit}") || {
  echo "[package] error: the release baseline $SEMVER_BASELINE is not in this clone. Fix: clone with full history (not --depth), or git fetch origin $SEMVER_BASELINE" >&2
  exit 1
}
root="${XDG_CACHE_HOME:-$HOME/.cache}/temporal-harness/cargo-semver-checks-$CARGO_SEMVER_CHECKS_VERSION"
if [ ! -x "$root/bin/cargo-semver-checks" ]; then
  echo "[package] installing cargo-semver-checks $CARGO_SEMVER_CHECKS_VERSION into $root (once; several minutes)..." >&2
  cargo install --locked --version "$CARGO_SEMVER_CHECKS_VERSION" --root "$root" cargo-semver-checks
fi
# The baseline's rustdoc JSON is the same for every run with this toolchain: kept in the
# cache after its first build (about 5 minutes), keyed by the commit and the rustc version.
rustc_id=$(rustc --version | sha256sum | cut -c1-12)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/temporal-harness/semver-baselines"
baseline_json="$cache/$baseline-$rustc_id-$CARGO_SEMVER_CHECKS_VERSION.json"
tool="$root/bin/cargo-semver-checks"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
echo "[package] cargo semver-checks of temporal-harness against the release at ${baseline:0:12}..." >&2
if [ -f "$baseline_json" ]; then
  # The current API as the tool builds it (its flags, in generate.rs; rustdoc's JSON output
  # is unstable, which the tool too enables on stable with RUSTC_BOOTSTRAP), in a target
  # folder of its own so the suite's builds keep theirs.
  RUSTC_BOOTSTRAP=1 cargo rustdoc -p temporal-harness --all-features --lib \
    --target-dir target/semver-current -- -Z unstable-options --document-private-items \
    --document-hidden-items --output-format=json --cap-lints=allow
  "$tool" semver-checks --release-type minor \
    --current-rustdoc target/semver-current/doc/temporal_harness.json \
    --baseline-rustdoc "$baseline_json" 2>&1 | tee "$report"
else
  # The baseline is cached whatever the verdict (a failing check is fixed and run again).
  status=0
  "$tool" semver-checks --release-type minor --package temporal-harness --all-features \
    --baseline-rev "$baseline" 2>&1 | tee "$report" || status=$?
  built=$(find "target/semver-checks/git-$baseline" -path '*/target/doc/temporal_harness.json' | head -n 1)
  if [ -n "$built" ]; then
    mkdir -p "$cache" && chmod 700 "$cache"
    cp "$built" "$baseline_json.tmp" && mv "$baseline_json.tmp" "$baseline_json"
  fi
  [ "$status" = 0 ] || exit "$status"
fi
# A comparison that ran no check is no verdict (the tool says "0 checks: 0 pass").
if ! grep -Eq 'Checked \[ *[0-9.]+s\] [1-9][0-9]* checks' "$report"; then
  echo "[package] error: cargo semver-checks ran no check ($(grep -Eo '[0-9]+ checks: .*' "$report" | head -n 1)). Fix: compare against a baseline with the same major version (SEMVER_BASELINE in this script)" >&2
  exit 1
fi
echo "[package] semver checked in $(($(date +%s) - start)) s: $(grep -Eo '[0-9]+ checks: [^)]*' "$report" | head -n 1)" >&2
