#!/usr/bin/env bash
# The whole test suite: provision (idempotent), then every test of the workspace against the
# real stack. Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
./scripts/provision.sh
exec cargo test --workspace "$@"
