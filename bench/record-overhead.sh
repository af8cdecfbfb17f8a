#!/usr/bin/env bash
# What recording costs, side by side in one run on one machine: each workload
# untraced, under `heaptrail record --no-stacks` (heaptrail), under `heaptrail
# record` with its default call stacks (heaptrail-st), under heaptrack and
# under LTTng-UST's libc wrapper (the last two when installed), N runs each.
#
#   bench/record-overhead.sh BUILD_DIR [RUNS]      (RUNS defaults to 3, or $RUNS)
#
# The tools take turns within each round of runs. Prints one table: median
# wall and CPU time (user+sys of the command and every child it waited for:
# heaptrail's collector, heaptrack's interpreter; for LTTng the session and
# consumer daemons' CPU is added, read from /proc),
# their ratios to the untraced run, heap events per run (from heaptrail's
# trace of the same workload), trace size and bytes per event. round_x is
# the median over the rounds of each round's wall-time ratio to the untraced
# run of the same round: where the host speeds up and slows down over the
# minutes of a workload, it follows the pairs, where wall_x (a ratio of two
# medians) can take its numerator and denominator from different phases.
# Absolute times drift on shared machines; compare the ratios. Nothing here
# asserts on time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR [RUNS]}
runs=${2:-${RUNS:-3}}
build=$(cd "$build" && pwd)
heaptrail=$build/bin/heaptrail
[ -x "$heaptrail" ] || { echo "no $heaptrail: build first" >&2; exit 1; }
# The system python3: a version-manager shim in front of it would time a shell too.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/heaptrail-bench.XXXXXX")
trap 'cleanup' EXIT
cleanup() {
    [ -n "${lttng_session:-}" ] && lttng destroy "$lttng_session" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}

# --- workloads: name, then the command (run in $scratch) ---------------------
"$python" "$here/workloads/gen_c.py" "$scratch/gen.c" 120
workloads=(python sqlite gcc)
run_workload() {
    case $1 in
    python) PYTHONMALLOC=malloc "${@:2}" "$python" "$here/workloads/dict_churn.py" ;;
    sqlite) "${@:2}" sqlite3 :memory: <"$here/workloads/churn.sql" ;;
    gcc) "${@:2}" gcc -O2 -c "$scratch/gen.c" -o "$scratch/gen.o" ;;
    esac
}

# --- tools --------------------------------------------------------------------
tools=(untraced heaptrail heaptrail-st)
if command -v heaptrack >/dev/null; then
    tools+=(heaptrack)
else
    echo "heaptrack is not installed (scripts/install-deps.sh bench): left out" >&2
fi
lttng_wrapper=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [ -e "$d/liblttng-ust-libc-wrapper.so" ] && lttng_wrapper=$d/liblttng-ust-libc-wrapper.so
done
if command -v lttng >/dev/null && [ -n "$lttng_wrapper" ]; then
    tools+=(lttng)
else
    echo "lttng-tools or liblttng-ust-libc-wrapper.so is not installed: LTTng left out" >&2
fi

# CPU seconds the LTTng daemons have used so far (they are not our children).
lttng_daemon_cpu() {
    local pid total=0 f
    for pid in $(pgrep -x 'lttng-sessiond|lttng-consumerd' || true); do
        f=$(cut -d')' -f2- "/proc/$pid/stat" 2>/dev/null) || continue
        # fields 14-17 of stat (utime stime cutime cstime) are 12-15 after ')'
        total=$(awk -v t="$total" '{print t + $12 + $13 + $14 + $15}' <<<"$f")
    done
    awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", t / hz}'
}

# One timed run of workload $1 under tool $2; prints "wall cpu size".
timed_run() {
    local w=$1 tool=$2 out=$scratch/out.$tool size=0 extra=0 before after
    rm -rf "$out" "$scratch/time"
    case $tool in
    untraced)
        run_workload "$w" /usr/bin/time -o "$scratch/time" -f '%e %U %S' >/dev/null 2>&1 ;;
    heaptrail)
        run_workload "$w" /usr/bin/time -o "$scratch/time" -f '%e %U %S' \
            "$heaptrail" record -q -f --no-stacks -o "$out" -- >/dev/null 2>&1
        size=$(stat -c %s "$out") ;;
    heaptrail-st) # with call stacks, the default
        run_workload "$w" /usr/bin/time -o "$scratch/time" -f '%e %U %S' \
            "$heaptrail" record -q -f -o "$out" -- >/dev/null 2>&1
        size=$(stat -c %s "$out") ;;
    heaptrack)
        mkdir -p "$out"
        run_workload "$w" /usr/bin/time -o "$scratch/time" -f '%e %U %S' \
            heaptrack -o "$out/trace" >/dev/null 2>&1
        size=$(du -sb "$out" | cut -f1) ;;
    lttng)
        lttng_session=htbench$$
        lttng create "$lttng_session" --output="$out" >/dev/null
        lttng enable-event -u 'lttng_ust_libc:*' -s "$lttng_session" >/dev/null
        lttng start "$lttng_session" >/dev/null
        before=$(lttng_daemon_cpu)
        run_workload "$w" /usr/bin/time -o "$scratch/time" -f '%e %U %S' \
            env LD_PRELOAD="$lttng_wrapper" >/dev/null 2>&1
        lttng stop "$lttng_session" >/dev/null # waits until the data is on disk
        after=$(lttng_daemon_cpu)
        lttng destroy "$lttng_session" >/dev/null
        lttng_session=
        extra=$(awk -v a="$after" -v b="$before" 'BEGIN {print a - b}')
        size=$(du -sb "$out" | cut -f1) ;;
    esac
    awk -v x="$extra" -v s="$size" '{printf "%s %.3f %s\n", $1, $2 + $3 + x, s}' "$scratch/time"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

events_of() { # heap events in a heaptrail trace
    "$heaptrail" stats --json "$1" | "$python" -c '
import json, sys
s = json.load(sys.stdin)
e = s.get("events", {})
print(e.get("alloc", 0) + e.get("free", 0) + e.get("realloc", 0))'
}

printf 'heaptrail record overhead, %d runs each (median), %s, %s\n' "$runs" \
    "$(uname -n)" "$(nproc) CPUs"
printf '%-7s %-10s %8s %6s %7s %8s %6s %10s %12s %8s\n' workload tool wall_s wall_x round_x cpu_s \
    cpu_x events trace_bytes B/event
for w in "${workloads[@]}"; do
    # Tools in turn within each round, so that a host that speeds up or slows
    # down over the minutes of a workload weighs on every tool alike.
    for tool in "${tools[@]}"; do : >"$scratch/runs.$tool"; done
    failed=" "
    for ((i = 0; i < runs; i++)); do
        for tool in "${tools[@]}"; do
            [[ $failed == *" $tool "* ]] && continue
            timed_run "$w" "$tool" >>"$scratch/runs.$tool" ||
                { echo "$w under $tool failed" >&2; failed+="$tool "; }
        done
    done
    base_wall= base_cpu= events=
    for tool in "${tools[@]}"; do
        [[ $failed == *" $tool "* ]] && continue
        wall=$(cut -d' ' -f1 "$scratch/runs.$tool" | median)
        cpu=$(cut -d' ' -f2 "$scratch/runs.$tool" | median)
        size=$(cut -d' ' -f3 "$scratch/runs.$tool" | median)
        if [ "$tool" = untraced ]; then base_wall=$wall base_cpu=$cpu; fi
        if [ "$tool" = heaptrail ]; then events=$(events_of "$scratch/out.heaptrail"); fi
        round=-
        if [[ $failed != *" untraced "* ]] &&
            [ "$(wc -l <"$scratch/runs.$tool")" = "$(wc -l <"$scratch/runs.untraced")" ]; then
            round=$(paste -d' ' "$scratch/runs.untraced" "$scratch/runs.$tool" |
                awk '$1 > 0 {print $4 / $1}' | median)
        fi
        awk -v w="$w" -v t="$tool" -v wall="$wall" -v cpu="$cpu" -v bw="$base_wall" \
            -v bc="$base_cpu" -v ev="${events:-0}" -v sz="$size" -v rx="$round" 'BEGIN {
            printf "%-7s %-10s %8.2f %6.2f %7s %8.2f %6.2f %10s %12s %8s\n", w, t, wall,
                (bw > 0 ? wall / bw : 0), (rx == "-" ? rx : sprintf("%.2f", rx)), cpu,
                (bc > 0 ? cpu / bc : 0),
                (t == "untraced" ? "-" : ev), (t == "untraced" ? "-" : sz),
                (t == "untraced" || ev == 0 ? "-" : sprintf("%.2f", sz / ev)) }'
    done
done
echo "events: heap events (alloc+free+realloc) of the workload, counted by heaptrail;"
echo "the other tools see the same calls, except that heaptrack does not follow exec: for gcc it"
echo "traces the driver alone. heaptrack keeps no per-event time or thread."
