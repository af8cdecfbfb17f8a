#!/bin/sh
# Record the bundled example and print what heaptrail makes of it.
#   examples/demo.sh BUILD_DIR      (`make demo` runs it on build/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
heaptrail=$build/bin/heaptrail
example=$build/examples/wordfreq
for f in "$heaptrail" "$example"; do
    [ -x "$f" ] || { echo "demo: $f is missing; build first (make)" >&2; exit 1; }
done

echo "\$ heaptrail record -f -o $build/demo.ht -- wordfreq examples/data/heaps.txt 4 20"
"$heaptrail" record -f -o "$build/demo.ht" -- "$example" "$here/data/heaps.txt" 4 20
echo
echo "\$ heaptrail report --top 3 $build/demo.ht"
"$heaptrail" report --top 3 "$build/demo.ht"
echo
echo "\$ heaptrail leaks $build/demo.ht"
"$heaptrail" leaks "$build/demo.ht"
