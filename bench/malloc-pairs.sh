#!/usr/bin/env bash
# Instructions per malloc+free pair of each allocator, counted exactly with
# callgrind (a count, not a time: the same on a busy machine as on a quiet
# one). bench/workloads/malloc_pairs.c runs N pairs; the pattern "ring"
# (16-128 bytes, each block freed 256 pairs after its malloc: the thread
# caches' common path) and "churn" (16-512 bytes freed at random from a
# working set of 64k: the caches overflow and refill). Each figure is the
# instructions spent inside the allocator (main's inclusive cost less its
# own) at N = 2 M less the same at N = 1 M, over 1 M pairs.
#
#   bench/malloc-pairs.sh BUILD_DIR
#
# Allocators: glibc, and mimalloc, jemalloc, tcmalloc where installed
# (scripts/install-deps.sh bench), and BUILD_DIR's libheaptrail-malloc.so.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR}
build=$(cd "$build" && pwd)
command -v valgrind >/dev/null || { echo "valgrind is missing (scripts/install-deps.sh bench)" >&2; exit 1; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/heaptrail-pairs.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
"${CC:-cc}" -O2 "$here/workloads/malloc_pairs.c" -o "$scratch/malloc_pairs"

libdir=/usr/lib/x86_64-linux-gnu
names=(glibc) libs=("")
for pair in mimalloc:$libdir/libmimalloc.so.2 jemalloc:$libdir/libjemalloc.so.2 \
    tcmalloc:$libdir/libtcmalloc_minimal.so.4 heaptrail:$build/lib/libheaptrail-malloc.so; do
    if [ -e "${pair#*:}" ]; then
        names+=("${pair%%:*}")
        libs+=("${pair#*:}")
    else
        echo "${pair%%:*} (${pair#*:}) is not there: left out" >&2
    fi
done

# Instructions inside the allocator for N pairs of PATTERN with LIBRARY.
inside() { # library n pattern
    local out=$scratch/cg.out
    env ${1:+LD_PRELOAD=$1} valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$scratch/malloc_pairs" "$2" "$3" >/dev/null 2>&1
    local inclusive self
    inclusive=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk '/:main \[/ {gsub(",", "", $1); print $1; exit}')
    self=$(callgrind_annotate --inclusive=no --threshold=100 "$out" 2>/dev/null | awk '/:main \[/ {gsub(",", "", $1); print $1; exit}')
    echo $((inclusive - self))
}

printf '%-12s %14s %14s\n' allocator ring churn
for k in "${!names[@]}"; do
    row=()
    for pattern in ring churn; do
        a=$(inside "${libs[$k]}" 1000000 "$pattern")
        b=$(inside "${libs[$k]}" 2000000 "$pattern")
        row+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1f", (b - a) / 1e6}')")
    done
    printf '%-12s %14s %14s\n' "${names[$k]}" "${row[0]}" "${row[1]}"
done
echo "instructions per malloc+free pair inside the allocator (callgrind)"
