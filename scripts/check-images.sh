#!/usr/bin/env bash
# Shows that each locally built image works on its own: PostgreSQL accepts the password it
# was given (and refuses another), both Temporal images report SERVING, and the server on
# PostgreSQL finds its schema at the version it expects. Cleans up after itself.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/fixtures/versions.env"
CACHE="${TEMPORAL_HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-harness}"
CLI="${TEMPORAL_HARNESS_TOOLS_DIR:-$CACHE/bin}/temporal"
net="th-check-$$"
pw="check-$RANDOM$RANDOM"
cleanup() {
  docker rm -f "$net-pg" "$net-dev" "$net-server" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
wait_for() { # <what> <command...>: up to 60 s
  local what=$1; shift
  for _ in $(seq 1 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for $what" >&2; return 1
}

docker images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^temporal-harness/'
docker network create "$net" >/dev/null

echo "--- $LOCAL_POSTGRES_IMAGE"
docker run -d --name "$net-pg" --network "$net" -e POSTGRES_USER=temporal -e POSTGRES_DB=postgres -e POSTGRES_PASSWORD="$pw" \
  -p 127.0.0.1::5432 "$LOCAL_POSTGRES_IMAGE" >/dev/null
pg_port=$(docker port "$net-pg" 5432 | head -1 | cut -d: -f2)
wait_for PostgreSQL env PGPASSWORD="$pw" psql -h 127.0.0.1 -p "$pg_port" -U temporal -d postgres -c 'select 1'
PGPASSWORD="$pw" psql -h 127.0.0.1 -p "$pg_port" -U temporal -d postgres -tAc 'select version()'
refused=$(PGPASSWORD=wrong psql -h 127.0.0.1 -p "$pg_port" -U temporal -d postgres -c 'select 1' 2>&1 || true)
case "$refused" in
  *"password authentication failed"*) echo "a wrong password is refused: ${refused##*FATAL:  }" ;;
  *) echo "a wrong password was NOT refused: $refused" >&2; exit 1 ;;
esac

echo "--- $LOCAL_TEMPORAL_DEV_IMAGE"
docker run -d --name "$net-dev" -p 127.0.0.1::7233 "$LOCAL_TEMPORAL_DEV_IMAGE" \
  server start-dev --headless --ip 0.0.0.0 >/dev/null
dev_port=$(docker port "$net-dev" 7233 | head -1 | cut -d: -f2)
wait_for "dev server" "$CLI" operator cluster health --address "127.0.0.1:$dev_port"
"$CLI" operator cluster health --address "127.0.0.1:$dev_port"

echo "--- $LOCAL_TEMPORAL_SERVER_IMAGE (schema step, then the server)"
PGPASSWORD="$pw" psql -h 127.0.0.1 -p "$pg_port" -U temporal -d postgres -qc 'create database temporal' -c 'create database temporal_visibility'
docker run --rm --network "$net" --entrypoint sh -e SQL_PLUGIN=postgres12 -e SQL_HOST="$net-pg" \
  -e SQL_PORT=5432 -e SQL_USER=temporal -e SQL_PASSWORD="$pw" "$LOCAL_TEMPORAL_SERVER_IMAGE" -c '
  set -e
  temporal-sql-tool --db temporal setup-schema -v 0.0 >/dev/null 2>&1
  temporal-sql-tool --db temporal update-schema --schema-name postgresql/v12/temporal >/dev/null 2>&1
  temporal-sql-tool --db temporal_visibility setup-schema -v 0.0 >/dev/null 2>&1
  temporal-sql-tool --db temporal_visibility update-schema --schema-name postgresql/v12/visibility >/dev/null 2>&1'
docker run -d --name "$net-server" --network "$net" -e DB=postgres12 -e DB_PORT=5432 \
  -e POSTGRES_SEEDS="$net-pg" -e POSTGRES_USER=temporal -e POSTGRES_PWD="$pw" \
  -p 127.0.0.1::7233 "$LOCAL_TEMPORAL_SERVER_IMAGE" >/dev/null
server_port=$(docker port "$net-server" 7233 | head -1 | cut -d: -f2)
wait_for "Temporal server" "$CLI" operator cluster health --address "127.0.0.1:$server_port"
"$CLI" operator cluster health --address "127.0.0.1:$server_port"
for db in temporal temporal_visibility; do
  v=$(PGPASSWORD="$pw" psql -h 127.0.0.1 -p "$pg_port" -U temporal -d "$db" -tAc \
    "select curr_version from schema_version where version_partition = 0 and db_name = '$db'")
  echo "$db schema_version: $v"
done
echo "expected: $TEMPORAL_SCHEMA_VERSION / $TEMPORAL_VISIBILITY_SCHEMA_VERSION"
