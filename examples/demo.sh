#!/bin/sh
# Record the bundled example and print what the trace says.
#   examples/demo.sh BUILD_DIR
set -eu
build=${1:-build}
"$build/bin/heaptrail" record -f -o "$build/demo.ht" -- "$build/examples/wordfreq"
echo
"$build/bin/heaptrail" stats "$build/demo.ht"
