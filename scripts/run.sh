#!/usr/bin/env bash
# The main job: provision, boot the embedded default stack (Temporal on PostgreSQL), run the
# deployment-validation suite against it, report, tear it down. Extra arguments go to
# `temporal-harness validate` (e.g. --format json, --temporal-address host:7233 to validate a
# deployment instead).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
./scripts/provision.sh
exec cargo run --quiet -p temporal-harness-cli -- validate "$@"
