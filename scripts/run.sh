#!/usr/bin/env bash
# The main job: provision, boot the embedded default stack (Temporal on PostgreSQL), show it
# is healthy, print its endpoints, tear it down. Extra arguments go to `temporal-harness up`
# (e.g. --flavor dev, --backend local).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
./scripts/provision.sh
exec cargo run --quiet --bin temporal-harness -- up --once "$@"
