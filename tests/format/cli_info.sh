#!/bin/sh
# `heaptrail info` on a good, a truncated, a corrupt and a foreign file.
#   cli_info.sh good|truncated|corrupt|not-trace HEAPTRAIL MAKE_TRACE WORKDIR
set -u
what=$1 cli=$2 make_trace=$3 dir=$4/$1
fail() { echo "FAIL (info on a $what file): $*" >&2; exit 1; }

rm -rf "$dir" && mkdir -p "$dir" || fail "cannot make $dir"
trace=$dir/trace.ht
"$make_trace" -n 5000 -s 7 -p 3 -c 8192 "$trace" > "$dir/expected" || fail "make_trace failed"
size=$(wc -c < "$trace")

run_info() {
    "$cli" info "$1" > "$dir/out" 2> "$dir/err"
    status=$?
}

case $what in
good)
    run_info "$trace"
    [ "$status" -eq 0 ] || fail "exit status $status: $(cat "$dir/err")"
    [ -s "$dir/err" ] && fail "unexpected messages: $(cat "$dir/err")"
    # Every count make_trace wrote is on its own line: "events 5000", "  alloc 1234", ...
    while IFS='	' read -r label count; do
        grep -Eq "^ *$label +$count\$" "$dir/out" || fail "no \"$label $count\" line in: $(cat "$dir/out")"
    done < "$dir/expected"
    grep -Eq '^complete +yes$' "$dir/out" || fail "not reported complete"
    ;;
truncated)
    head -c $((size * 2 / 3)) "$trace" > "$dir/cut.ht"
    run_info "$dir/cut.ht"
    [ "$status" -eq 0 ] || fail "exit status $status: $(cat "$dir/err")"
    grep -q "truncated" "$dir/err" || fail "no truncation warning on stderr: $(cat "$dir/err")"
    grep -Eq '^complete +no \(truncated\)$' "$dir/out" || fail "not reported truncated"
    read_events=$(sed -n 's/^events  *//p' "$dir/out")
    [ -n "$read_events" ] && [ "$read_events" -gt 0 ] && [ "$read_events" -lt 5000 ] ||
        fail "read $read_events events of the complete chunks"
    ;;
corrupt)
    # Invert one byte in the middle of the file: inside some chunk.
    at=$((size / 2))
    byte=$(od -An -tu1 -j "$at" -N1 "$trace" | tr -d ' ')
    printf "$(printf '\\%03o' $((byte ^ 255)))" |
        dd of="$trace" bs=1 seek="$at" conv=notrunc 2> /dev/null || fail "cannot damage the file"
    run_info "$trace"
    [ "$status" -eq 1 ] || fail "exit status $status, expected 1"
    grep -q "$trace: offset [0-9][0-9]*: " "$dir/err" || fail "no file and offset in: $(cat "$dir/err")"
    ;;
not-trace)
    echo "just some text, not a trace" > "$dir/notes.txt"
    run_info "$dir/notes.txt"
    [ "$status" -eq 2 ] || fail "exit status $status, expected 2"
    [ "$(wc -l < "$dir/err")" -eq 1 ] || fail "expected one line, got: $(cat "$dir/err")"
    grep -q "not a heaptrail trace" "$dir/err" || fail "unexpected message: $(cat "$dir/err")"
    [ -s "$dir/out" ] && fail "unexpected output: $(cat "$dir/out")"
    ;;
*)
    fail "unknown case"
    ;;
esac
rm -rf "$dir"
exit 0
