#!/usr/bin/env bash
# How fast `heaptrail stats` reads whole traces, and how much memory it
# needs, side by side in one run:
#   - synthetic steady-state traces (tests/analysis/trace_gen --steady) of
#     three lengths with the same live set: events/s on one thread and on all
#     CPUs, and the peak memory, which must not grow with the length;
#   - real traces of the same kind: `heaptrail record --no-stacks` of a python
#     program that keeps a dict of 100000 entries while it inserts and deletes
#     (about 22 heap events per step), for three numbers of steps;
#   - the python workload of the other benchmarks (bench/workloads/dict_churn.py);
#   - babeltrace2 reading an LTTng-UST trace of the same workload (when lttng,
#     its libc wrapper and babeltrace2 are installed), counting its events.
#
#   bench/stats-speed.sh BUILD_DIR [RUNS]      (RUNS defaults to 3, or $RUNS)
#
# Environment: STATS_EVENTS (the three lengths, default "25000000 50000000
# 100000000"), STATS_LIVE (live blocks of the synthetic traces, default
# 1000000), STATS_STEPS (steps of the python program, default "1150000
# 2300000 4600000": about the same numbers of events), TMPDIR (where the
# traces go: about 4 bytes an event synthetic, 1.5 recorded).
# Prints one table: the median and the best wall seconds, the median CPU
# seconds (user+sys), events per second of the best wall time and of CPU
# time, and the median maximum resident memory (/usr/bin/time's %M).
# Absolute times drift on shared machines (the best run is the one least
# disturbed); compare rows of the same run. Nothing here asserts on time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR [RUNS]}
runs=${2:-${RUNS:-3}}
build=$(cd "$build" && pwd)
heaptrail=$build/bin/heaptrail
trace_gen=$build/tests/trace_gen
[ -x "$heaptrail" ] || { echo "no $heaptrail: build first" >&2; exit 1; }
[ -x "$trace_gen" ] || { echo "no $trace_gen: build with the tests (HT_TESTS=ON)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (scripts/install-deps.sh bench)" >&2; exit 1; }
read -r -a lengths <<<"${STATS_EVENTS:-25000000 50000000 100000000}"
read -r -a steps <<<"${STATS_STEPS:-1150000 2300000 4600000}"
live=${STATS_LIVE:-1000000}
cpus=$(nproc)
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/heaptrail-stats.XXXXXX")
trap 'cleanup' EXIT
cleanup() {
    [ -n "${lttng_session:-}" ] && lttng destroy "$lttng_session" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# Print one table row: NAME EVENTS BYTES THREADS, then RUNS timed runs of the
# command that follows; each run prints "wall cpu maxrss_kb".
row() {
    local name=$1 events=$2 bytes=$3 threads=$4
    shift 4
    : >"$scratch/runs"
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -o "$scratch/time" -f '%e %U %S %M' "$@" >/dev/null 2>"$scratch/err" ||
            { echo "$name: $* failed: $(tail -1 "$scratch/err")" >&2; return 1; }
        awk '{printf "%s %.3f %s\n", $1, $2 + $3, $4}' "$scratch/time" >>"$scratch/runs"
    done
    local wall best cpu rss
    wall=$(cut -d' ' -f1 "$scratch/runs" | median)
    best=$(cut -d' ' -f1 "$scratch/runs" | sort -g | head -1)
    cpu=$(cut -d' ' -f2 "$scratch/runs" | median)
    rss=$(cut -d' ' -f3 "$scratch/runs" | median)
    awk -v n="$name" -v e="$events" -v b="$bytes" -v t="$threads" -v w="$wall" -v m="$best" \
        -v c="$cpu" -v r="$rss" 'BEGIN {
        printf "%-20s %10d %10d %3s %7.2f %7.2f %7.2f %8.1f %8.1f %7.1f\n", n, e, b, t, w, m, c,
            (m > 0 ? e / m / 1e6 : 0), (c > 0 ? e / c / 1e6 : 0), r / 1024 }'
}

events_of() { # every event of a heaptrail trace
    "$heaptrail" stats --json "$1" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["event_count"])'
}

# The rows of one heaptrail trace: one thread, then every CPU.
heaptrail_rows() {
    local name=$1 file=$2 events bytes
    events=$(events_of "$file")
    bytes=$(stat -c %s "$file")
    row "$name" "$events" "$bytes" 1 "$heaptrail" stats --json --threads 1 "$file"
    [ "$cpus" -gt 1 ] &&
        row "$name" "$events" "$bytes" "$cpus" "$heaptrail" stats --json --threads "$cpus" "$file"
    return 0
}

# --- traces -------------------------------------------------------------------
for n in "${lengths[@]}"; do
    "$trace_gen" --steady "$n" "$live" "$scratch/steady-$n.ht"
done
# A long-running program's steady state: the dict keeps its last 100000
# entries; every step allocates one entry's objects and frees the oldest's.
cat >"$scratch/steady.py" <<'EOF'
import sys
steps, keep = int(sys.argv[1]), 100000
d = {}
for i in range(steps):
    d["key-%d" % i] = [i, str(i), (i, i + 1)]
    if i >= keep:
        del d["key-%d" % (i - keep)]
EOF
for n in "${steps[@]}"; do
    PYTHONMALLOC=malloc "$heaptrail" record -q -f --no-stacks -o "$scratch/steady-py-$n.ht" -- \
        "$python" "$scratch/steady.py" "$n" >/dev/null
done
PYTHONMALLOC=malloc "$heaptrail" record -q -f --no-stacks -o "$scratch/python.ht" -- \
    "$python" "$here/workloads/dict_churn.py" >/dev/null

lttng_wrapper=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [ -e "$d/liblttng-ust-libc-wrapper.so" ] && lttng_wrapper=$d/liblttng-ust-libc-wrapper.so
done
have_babeltrace=
if command -v lttng >/dev/null && command -v babeltrace2 >/dev/null && [ -n "$lttng_wrapper" ]; then
    have_babeltrace=1
    lttng_session=htstats$$
    lttng create "$lttng_session" --output="$scratch/lttng" >/dev/null
    lttng enable-event -u 'lttng_ust_libc:*' -s "$lttng_session" >/dev/null
    lttng start "$lttng_session" >/dev/null
    PYTHONMALLOC=malloc LD_PRELOAD="$lttng_wrapper" "$python" "$here/workloads/dict_churn.py" >/dev/null
    lttng stop "$lttng_session" >/dev/null # waits until the data is on disk
    lttng destroy "$lttng_session" >/dev/null
    lttng_session=
else
    echo "lttng-tools, liblttng-ust-libc-wrapper.so or babeltrace2 is not installed: babeltrace2 left out" >&2
fi

# --- measurements -------------------------------------------------------------
printf 'heaptrail stats throughput and memory, %d runs each (median), %s, %d CPUs (%s)\n' \
    "$runs" "$(uname -n)" "$cpus" \
    "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
printf '%-20s %10s %10s %3s %7s %7s %7s %8s %8s %7s\n' trace events file_bytes thr wall_s \
    best_s cpu_s Mev/s Mev/cpu_s rss_MB
for n in "${lengths[@]}"; do
    heaptrail_rows "steady" "$scratch/steady-$n.ht"
done
for n in "${steps[@]}"; do
    heaptrail_rows "python steady" "$scratch/steady-py-$n.ht"
done
heaptrail_rows "python dict_churn" "$scratch/python.ht"
if [ -n "$have_babeltrace" ]; then
    # The counter sink gets every event decoded and prints only counts; the
    # default text sink is what a user reads.
    events=$(babeltrace2 "$scratch/lttng" -c sink.utils.counter 2>/dev/null |
        awk '/Event messages/ {n = $1} END {print n}')
    events=${events:-0}
    bytes=$(du -sb "$scratch/lttng" | cut -f1)
    row "babeltrace2 counter" "$events" "$bytes" 1 babeltrace2 "$scratch/lttng" -c sink.utils.counter
    row "babeltrace2 text" "$events" "$bytes" 1 babeltrace2 "$scratch/lttng"
fi
echo "thr: --threads; Mev/s: million events per second of the best wall time; rss: max RSS."
echo "steady: trace_gen --steady N $live (one process, $live live blocks whatever N);"
echo "python steady: a dict of 100000 entries kept while stepping, recorded with --no-stacks;"
echo "python dict_churn: bench/workloads/dict_churn.py recorded with --no-stacks; babeltrace2"
echo "reads the LTTng-UST libc wrapper's trace of it (counter sink, and text to /dev/null)."
