#!/usr/bin/env bash
# Rehearses provisioning on a machine that never saw the project: runs the system-package
# part of scripts/provision.sh (`--system-only`: apt packages, then each tool checked the way
# the build uses it) inside a pristine Debian container, so a package that this machine has
# from a hand install but provisioning does not name fails here, not on a user's machine.
#
# The container image is a bare Debian root file system (mmdebstrap minbase, the same way the
# project builds its other images; no registry needed), built once and reused: every run
# starts a fresh container from it, so nothing one run installs is seen by the next.
#
# Needs Docker and mmdebstrap (scripts/provision.sh installs both). Exit 0 when provisioning
# passed inside the container, 1 when it failed (its output says which step and why).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=temporal-harness/rehearsal-debian:bookworm

say() { printf '[rehearsal] %s\n' "$*" >&2; }
t0=$(date +%s)

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "building the pristine image $IMAGE (mmdebstrap minbase, about a minute)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mmdebstrap --variant=minbase bookworm "$tmp/rootfs.tar" >"$tmp/mmdebstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/mmdebstrap.log" >&2; say "FAILED: mmdebstrap (log above)"; exit 1; }
  docker import "$tmp/rootfs.tar" "$IMAGE" >/dev/null
fi

name="th-rehearsal-$$"
# Removed on every exit, Ctrl-C and SIGTERM included.
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT INT TERM
say "running scripts/provision.sh --system-only in a fresh container of $IMAGE"
# Host networking: apt inside reaches the same package mirror the host does. The checkout is
# mounted read-only: provisioning must not need to write into the repository.
if docker run --name "$name" --rm --network host \
  -v "$ROOT:/src:ro" -e HOME=/root "$IMAGE" \
  bash /src/scripts/provision.sh --system-only; then
  say "passed in $(($(date +%s) - t0)) s: a fresh Debian gets every system package the build needs"
else
  say "FAILED: provisioning does not bring a fresh Debian to what the build needs (see above)"
  exit 1
fi
