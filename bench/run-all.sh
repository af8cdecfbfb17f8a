#!/usr/bin/env bash
# Run every benchmark script of bench/ (each *.sh but this one) on BUILD_DIR,
# one after the other so that they do not disturb each other's timings.
#   bench/run-all.sh BUILD_DIR [RUNS]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR [RUNS]}
status=0
for script in "$here"/*.sh; do
    [ "$(basename "$script")" = run-all.sh ] && continue
    echo "== $(basename "$script")"
    "$script" "$build" "${@:2}" || { echo "$(basename "$script") failed" >&2; status=1; }
    echo
done
exit $status
