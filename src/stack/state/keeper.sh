#!/bin/sh
# Keeper of one shared stack, run as `sh -c "$TEMPORAL_HARNESS_KEEPER_SCRIPT" keeper.sh ARGS`
# from the harness's own binary (never from a file another user could replace); see
# src/stack/state/keeper.rs.
#
#   keeper.sh watch DIR LOCK LINGER_MS   wait while processes hold leases on the stack, then,
#                                        LINGER_MS after the last one ended, tear it down
#   keeper.sh teardown DIR               tear the stack down now
#   keeper.sh teardown-if-idle DIR       tear down unless a lease is live (exit 1 then);
#                                        the caller holds the stack's lock
#
# DIR holds: leases/<pid> (one per process using the stack), pids ("PID SIGNAL" per line,
# processes to stop), dirs (folders to remove), label (the Docker label value of its
# containers and networks), keep (present: never tear down on idle).
# Leases need no release: a lease whose process is gone is dead, so a panic, a SIGKILL or
# Ctrl-C of a test process frees it as well as a normal exit does.
set -u

# Running (a zombie is not: in a container PID 1 may never reap a killed process).
running() {
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ "$state" != Z ] && [ "$state" != X ]
}

live_leases() {
  live=0
  for f in "$1"/leases/*; do
    [ -e "$f" ] || continue
    if running "${f##*/}"; then live=1; else rm -f "$f"; fi
  done
  [ "$live" = 1 ]
}

stop_processes() {
  [ -f "$1/pids" ] || return 0
  while read -r pid sig; do
    kill -"${sig:-TERM}" "$pid" 2>/dev/null
  done <"$1/pids"
  i=0
  while [ "$i" -lt 100 ]; do
    alive=0
    while read -r pid _; do
      running "$pid" && alive=1
    done <"$1/pids"
    [ "$alive" = 0 ] && return 0
    sleep 0.1
    i=$((i + 1))
  done
  while read -r pid _; do
    kill -KILL "$pid" 2>/dev/null
  done <"$1/pids"
}

# The keeper outlives the test process, so it cannot use the harness's Docker API client: it
# calls the docker CLI where there is one. Whatever it could not remove, the next run's reaper
# (src/stack/reaper.rs, through the API) does.
remove_docker_resources() {
  [ -f "$1/label" ] || return 0
  remove_labelled "$(cat "$1/label")"
}

# Removes the containers and networks of the stack whose label value is $1.
remove_labelled() {
  [ -n "$1" ] || return 0
  command -v docker >/dev/null 2>&1 || return 0
  label="$TEMPORAL_HARNESS_STACK_LABEL=$1"
  ids=$(docker ps -aq --filter "label=$label" 2>/dev/null)
  # shellcheck disable=SC2086
  [ -n "$ids" ] && docker rm -f -v $ids >/dev/null 2>&1
  nets=$(docker network ls -q --filter "label=$label" 2>/dev/null)
  # shellcheck disable=SC2086
  [ -n "$nets" ] && docker network rm $nets >/dev/null 2>&1
  return 0
}

teardown() {
  # A symbolic link is never followed: what it points at was not recorded by this stack.
  [ -L "$1" ] && { echo "keeper.sh: $1 is a symbolic link; not tearing it down" >&2; return 1; }
  [ -d "$1" ] || return 0
  # Another teardown of the same stack may be removing these files right now.
  stop_processes "$1" 2>/dev/null
  remove_docker_resources "$1" 2>/dev/null
  if [ -f "$1/dirs" ]; then
    while read -r d; do
      [ -n "$d" ] && rm -rf "$d"
    done <"$1/dirs"
  fi
  rm -rf "$1"
}

case "${1:-}" in
watch)
  dir=$2 lock=$3 linger_ms=$4 idle_ms=0
  # Started before the boot: the label tells this boot's folder from a later boot's of the
  # same key (the folder torn down by another run and created again).
  label=$(cat "$dir/label" 2>/dev/null)
  while :; do
    # Torn down by someone else (`temporal-harness down`), or its folder deleted while the
    # stack ran (a CI step that cleans the temp folder): its containers, if any are left,
    # would have no folder to name them, so they go by the label (nothing, after a teardown).
    [ -d "$dir" ] || { remove_labelled "$label" 2>/dev/null; exit 0; }
    [ "$(cat "$dir/label" 2>/dev/null)" = "$label" ] || exit 0
    [ -e "$dir/keep" ] && exit 0 # kept stacks are ended by `temporal-harness down`
    if live_leases "$dir"; then idle_ms=0; else idle_ms=$((idle_ms + 200)); fi
    if [ "$idle_ms" -ge "$linger_ms" ]; then
      # Re-check under the lock: a process may be taking a lease right now.
      if flock "$lock" sh -c "$TEMPORAL_HARNESS_KEEPER_SCRIPT" keeper.sh teardown-if-idle "$dir"; then exit 0; fi
      idle_ms=0
    fi
    sleep 0.2
  done
  ;;
teardown)
  teardown "$2"
  ;;
teardown-if-idle)
  if live_leases "$2"; then exit 1; fi
  teardown "$2"
  ;;
*)
  echo "usage: keeper.sh watch DIR LOCK LINGER_MS | teardown DIR | teardown-if-idle DIR" >&2
  exit 2
  ;;
esac
