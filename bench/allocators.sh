#!/usr/bin/env bash
# The heaptrail heap against the allocators users would pick instead, side by
# side in one run on one machine: glibc's malloc, mimalloc, jemalloc and
# tcmalloc (Debian's packages, preloaded) and libheaptrail-malloc.so, N runs
# each, taken in turns so that a drift of the machine touches them all alike.
# A last column, heaptrail-nohooks, is the same heap compiled without its
# tracing hooks: the difference between the two is what the hooks cost while
# nobody records.
#
#   bench/allocators.sh BUILD_DIR [RUNS]      (RUNS defaults to 3, or $RUNS)
#
# Workloads: three allocation patterns of bench/workloads/alloc_patterns.c
# (single-thread small-object churn, producer/consumer with cross-thread
# frees, a server-style mixed-size load) and real programs: python3 with
# PYTHONMALLOC=malloc (dict_churn.py), sqlite3 (churn.sql), gcc -O2 -c of a
# generated file (driver, cc1 and as all on the preloaded allocator).
#
# Prints the median wall time, CPU time (user+sys) and peak RSS of each, and
# the geometric means of heaptrail's ratios to mimalloc, to glibc and to the
# heap without hooks. Absolute times drift on shared machines; compare the
# ratios. Nothing here asserts on time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:?usage: $0 BUILD_DIR [RUNS]}
runs=${2:-${RUNS:-3}}
build=$(cd "$build" && pwd)
heaptrail_malloc=$build/lib/libheaptrail-malloc.so
[ -e "$heaptrail_malloc" ] || { echo "no $heaptrail_malloc: build first" >&2; exit 1; }
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
cc=${CC:-cc}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/heaptrail-alloc-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# --- allocators ------------------------------------------------------------------
libdir=/usr/lib/x86_64-linux-gnu
names=(glibc)
libs=("")
add_allocator() { # name library
    if [ -e "$2" ]; then
        names+=("$1")
        libs+=("$2")
    else
        echo "$1 ($2) is not installed (scripts/install-deps.sh bench): left out" >&2
    fi
}
add_allocator mimalloc "$libdir/libmimalloc.so.2"
add_allocator jemalloc "$libdir/libjemalloc.so.2"
add_allocator tcmalloc "$libdir/libtcmalloc_minimal.so.4"
add_allocator heaptrail "$heaptrail_malloc"
# The same heap and malloc family without the tracing hooks (HT_HEAP_TRACE
# undefined), compiled the way src/CMakeLists.txt compiles the library.
"$cc" -std=gnu11 -O2 -g -DNDEBUG -D_GNU_SOURCE -fPIC -shared -flto -fvisibility=hidden \
    -fno-strict-aliasing -fno-semantic-interposition -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free \
    -fno-builtin-calloc -fno-builtin-realloc -fno-stack-protector -Wl,-z,nodelete -Wl,-Bsymbolic \
    -I"$root/include" -I"$root/src" "$root"/src/heap/*.c -o "$scratch/libheaptrail-nohooks.so" -ldl -lpthread
add_allocator heaptrail-nohooks "$scratch/libheaptrail-nohooks.so"

# --- workloads -------------------------------------------------------------------
"$cc" -O2 -pthread "$here/workloads/alloc_patterns.c" -o "$scratch/alloc_patterns"
"$python" "$here/workloads/gen_c.py" "$scratch/gen.c" 120
workloads=(churn xthread server python sqlite gcc)
run_workload() { # workload, then the command prefix
    case $1 in
    churn | xthread | server) "${@:2}" "$scratch/alloc_patterns" "$1" ;;
    python) PYTHONMALLOC=malloc "${@:2}" "$python" "$here/workloads/dict_churn.py" ;;
    sqlite) "${@:2}" sqlite3 :memory: <"$here/workloads/churn.sql" ;;
    gcc) "${@:2}" gcc -O2 -c "$scratch/gen.c" -o "$scratch/gen.o" ;;
    esac
}

# One run of workload $1 on allocator index $2; prints "wall cpu rss_kb".
timed_run() {
    local lib=${libs[$2]}
    rm -f "$scratch/time"
    # time(1) waits for the whole process tree; %M is the largest RSS of it.
    if ! run_workload "$1" /usr/bin/time -o "$scratch/time" -f '%e %U %S %M' \
        env ${lib:+LD_PRELOAD=$lib} >"$scratch/out.$2" 2>"$scratch/err.$2"; then
        echo "$1 failed on ${names[$2]}:" >&2
        tail -5 "$scratch/err.$2" >&2
        exit 1
    fi
    awk '{printf "%s %.3f %s\n", $1, $2 + $3, $4}' "$scratch/time"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

declare -A wall cpu rss
for w in "${workloads[@]}"; do
    for ((r = 1; r <= runs; r++)); do
        for i in "${!names[@]}"; do
            read -r t c m < <(timed_run "$w" "$i")
            wall[$w,$i]+="$t "
            cpu[$w,$i]+="$c "
            rss[$w,$i]+="$m "
        done
    done
    # Every allocator must have produced the same output.
    for i in "${!names[@]}"; do
        cmp -s "$scratch/out.0" "$scratch/out.$i" ||
            { echo "$w: ${names[$i]} printed something else than glibc" >&2; exit 1; }
    done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }

printf '%s runs each, median; machine: %s, %s cores\n\n' "$runs" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" "$(nproc)"
for metric in wall cpu rss; do
    case $metric in
    wall) printf 'wall time, s\n\n' ;;
    cpu) printf '\nCPU time (user+sys), s\n\n' ;;
    rss) printf '\npeak RSS, MiB\n\n' ;;
    esac
    printf '| workload |'
    printf ' %s |' "${names[@]}"
    printf '\n|---|'
    printf -- '---:|%.0s' "${names[@]}"
    printf '\n'
    for w in "${workloads[@]}"; do
        printf '| %s |' "$w"
        for i in "${!names[@]}"; do
            case $metric in
            wall) printf ' %.2f |' "$(med "${wall[$w,$i]}")" ;;
            cpu) printf ' %.2f |' "$(med "${cpu[$w,$i]}")" ;;
            rss) printf ' %.1f |' "$(awk -v k="$(med "${rss[$w,$i]}")" 'BEGIN {print k / 1024}')" ;;
            esac
        done
        printf '\n'
    done
done

# Geometric means of heaptrail's ratios to the others, per metric.
index_of() {
    local i
    for i in "${!names[@]}"; do
        if [ "${names[$i]}" = "$1" ]; then echo "$i"; fi
    done
}
ht=$(index_of heaptrail)
printf '\ngeometric mean of heaptrail / other, over the workloads\n\n'
others=()
for i in "${!names[@]}"; do
    if [ "$i" != "$ht" ]; then others+=("$i"); fi
done
printf '| metric |'
for i in "${others[@]}"; do printf ' / %s |' "${names[$i]}"; done
printf '\n|---|'
for i in "${others[@]}"; do printf -- '---:|'; done
printf '\n'
for metric in wall cpu rss; do
    printf '| %s |' "$metric"
    for i in "${others[@]}"; do
        logsum=0
        for w in "${workloads[@]}"; do
            case $metric in
            wall) a=$(med "${wall[$w,$ht]}") b=$(med "${wall[$w,$i]}") ;;
            cpu) a=$(med "${cpu[$w,$ht]}") b=$(med "${cpu[$w,$i]}") ;;
            rss) a=$(med "${rss[$w,$ht]}") b=$(med "${rss[$w,$i]}") ;;
            esac
            logsum=$(awk -v s="$logsum" -v a="$a" -v b="$b" 'BEGIN {a = a > 0.005 ? a : 0.005; b = b > 0.005 ? b : 0.005; print s + log(a / b)}')
        done
        printf ' %.2f |' "$(awk -v s="$logsum" -v n="${#workloads[@]}" 'BEGIN {print exp(s / n)}')"
    done
    printf '\n'
done
