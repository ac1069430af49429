#!/usr/bin/env bash
# Reads the output of `cargo test --no-fail-fast` (a file, or standard input) and prints one
# line per test binary that failed: its name, its counts and its failed tests; a binary that
# ended without libtest's result line (a crash, a signal) counts as failed too. Prints
# nothing for a run whose every binary passed. With --slowest K, also the K binaries that
# took longest (libtest's own "finished in" time). Used by scripts/test.sh and
# scripts/repeat-suite.sh.
#
#   cargo test --workspace --no-fail-fast 2>&1 | tee log; scripts/summarize-tests.sh log
set -euo pipefail
slowest=0
if [ "${1:-}" = --slowest ]; then
  slowest=${2:?usage: $0 [--slowest K] [LOG]}
  shift 2
fi
awk -v slowest="$slowest" '
  function close_binary() {
    if (binary == "") return
    total++
    if (match(result, /finished in [0-9.]+s/)) {
      took[total] = substr(result, RSTART + 12, RLENGTH - 13) + 0
      named[total] = binary
    }
    if (!result) {
      failed_bins++
      lines[failed_bins] = sprintf("FAILED %s: ended without a test result (crashed or killed; see its output above)", binary)
    } else if (result ~ /FAILED/) {
      failed_bins++
      counts = result
      sub(/^test result: FAILED\. /, "", counts)
      sub(/; finished in.*/, "", counts)
      lines[failed_bins] = sprintf("FAILED %s (%s):%s", binary, counts, names)
    }
    binary = ""; result = ""; names = ""
  }
  /^ *Running / {
    close_binary()
    binary = $0
    sub(/^ *Running /, "", binary)
    sub(/ \(.*\)$/, "", binary)
    next
  }
  /^ *Doc-tests / {
    close_binary()
    binary = $0
    sub(/^ *Doc-tests /, "doc-tests of ", binary)
    next
  }
  /^test result: / { result = $0; next }
  /^---- .* stdout ----$/ {
    name = $0
    sub(/^---- /, "", name); sub(/ stdout ----$/, "", name)
    names = names " " name
    next
  }
  END {
    close_binary()
    if (slowest > 0) {
      printf "slowest test binaries:"
      for (k = 1; k <= slowest; k++) {
        best = 0
        for (i in took) if (!(i in shown) && (best == 0 || took[i] > took[best])) best = i
        if (best == 0) break
        shown[best] = 1
        printf " %s %.1fs;", named[best], took[best]
      }
      printf "\n"
    }
    if (failed_bins > 0) {
      printf "\n== %d of %d test binaries failed ==\n", failed_bins, total
      for (i = 1; i <= failed_bins; i++) print lines[i]
    }
  }
' "${1:-/dev/stdin}"
