#!/bin/sh
# The stats and dump commands on synthetic traces (written by trace_gen with
# the public writer API), checked with jq and the CSV rows.
#   cli_test.sh CASE HEAPTRAIL TRACE_GEN WORKDIR
set -eu
case_name=$1 ht=$2 gen=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
cd "$work"

fail() {
    echo "FAIL ($case_name): $*" >&2
    exit 1
}

# check JQ_EXPR FILE: the expression must be true of the JSON in FILE.
check() {
    jq -e "$1" "$2" >/dev/null || fail "jq '$1' is not true of $(cat "$2")"
}

# Two processes: a shell that execs into prog, and prog's child. Expected
# figures are worked out by hand in the comments. The flushes put the chunks
# in time order, so the trace-wide peak in reading order is the true one.
write_two_processes() {
    "$gen" two.trace <<'SCRIPT'
time 2000000
start 100 1 /bin/sh sh -c prog
alloc 100 100 0x1 0x1000 100 1       # live 100
alloc 100 100 0x1 0x2000 28 2        # live 128 (sh's peak)
free 100 100 0x1 0x2000 2            # live 100: sh leaks 100 in 1 block
start 100 1 /usr/bin/prog prog --fast
alloc 100 100 0x1 0x1000 64 2        # live 64
realloc 100 101 0x1 0x3000 0x1000 256 64 3   # live 256 (prog's peak)
alloc 100 101 0x1 0x4000 16 4        # live 272: peak 272
free 100 100 0x1 0x9999 3            # anomaly: unknown address
free 100 101 0x1 0x4000 4            # live 256
flush
start 200 100 /usr/bin/prog prog --child
alloc 200 200 0x1 0x1000 1000 3      # child: live 1000
lost 200 5
exit 200 0                           # child leaks 1000 in 1 block
flush
free 100 100 0x1 0x3000 3            # prog: live 0
exit 100 0
SCRIPT
}

case $case_name in
stats_json)
    write_two_processes
    "$ht" stats --json two.trace >out.json
    check 'length > 0 and .truncated == false and .complete == true' out.json
    check '.processes | length == 3' out.json
    check '[.processes[].pid] == [100, 100, 200]' out.json
    check '[.processes[].ppid] == [1, 1, 100]' out.json
    check '[.processes[].command] == ["sh -c prog", "prog --fast", "prog --child"]' out.json
    check '[.processes[].exec] == [false, true, false]' out.json
    check '.processes[0] | .events == {"alloc":2,"free":1,"realloc":0,"process_start":1}' out.json
    check '.processes[1].events | .alloc == 2 and .free == 3 and .realloc == 1 and .process_exit == 1' out.json
    check '[.processes[].bytes_allocated] == [128, 336, 1000]' out.json
    check '[.processes[].peak_bytes] == [128, 272, 1000]' out.json
    check '[.processes[].leaked_bytes] == [100, 0, 1000]' out.json
    check '[.processes[].leaked_blocks] == [1, 0, 1]' out.json
    check '.processes[1].anomalies == {"free_unknown":1,"realloc_unknown":0,"alloc_over_live":0}' out.json
    check '.events == {"alloc":5,"free":4,"realloc":1,"process_start":3,"lost":1,"process_exit":2}' out.json
    check '.event_count == 16' out.json
    check '.bytes_allocated == 1464 and .leaked_bytes == 1100 and .leaked_blocks == 2' out.json
    # The child's 1000 bytes come while prog holds 256: the sum peaks at 1256.
    check '.peak_bytes == 1256' out.json
    check '.by_source == {"lookaside":1,"lowfrag":2,"mainpath":2,"slowpath":1,"invalid":0}' out.json
    check '.lost_events == 5 and .threads == 3 and .anomalies.free_unknown == 1' out.json
    check '.duration_ns == 15000' out.json
    ;;
stats_escape)
    # Quotes, backslash, control bytes, invalid UTF-8 and valid UTF-8 in a command.
    "$gen" esc.trace <<'SCRIPT'
start 7 1 /bin/x\x22y a\x22b c\x5cd e\x0af\x09g\x01 \xff\xc3\xa9\xe2\x82 \xed\xa0\x80
alloc 7 7 0x1 0x10 1 1
SCRIPT
    "$ht" stats --json esc.trace >out.json
    check '.processes[0].command == "a\"b c\\d e\nf\tg\u0001 \u00ffé\u00e2\u0082 \u00ed\u00a0\u0080"' out.json
    check '.processes[0].executable == "/bin/x\"y"' out.json
    grep -q '\\u00ff' out.json || fail "invalid byte not written as \\u00ff"
    ;;
stats_table)
    write_two_processes
    "$ht" stats two.trace >out.txt
    grep -q '^leaked  *1100 bytes in 2 blocks$' out.txt || fail "no leak line: $(cat out.txt)"
    grep -q '^peak live  *1256 bytes' out.txt || fail "no peak line"
    grep -q ' (exec) prog --fast$' out.txt || fail "no exec row"
    [ "$(grep -c '^ *[0-9][0-9]* ' out.txt)" -ge 3 ] || fail "no process rows"
    ;;
stats_errors)
    echo "not a trace" >plain.txt
    rc=0; "$ht" stats --json plain.txt >/dev/null 2>err.txt || rc=$?
    [ $rc -eq 2 ] || fail "not a trace: exit $rc"
    grep -q 'not a heaptrail trace' err.txt || fail "no message for a non-trace"
    rc=0; "$ht" stats --bogus x >/dev/null 2>&1 || rc=$?
    [ $rc -eq 2 ] || fail "bad option: exit $rc"
    # A trace cut inside a chunk: a warning, and the figures up to the cut.
    "$gen" --random 300000 big.trace
    "$ht" stats --json big.trace >full.json
    size=$(wc -c <big.trace)
    head -c $((size * 2 / 3)) big.trace >cut.trace
    rc=0; "$ht" stats --json cut.trace >cut.json 2>err.txt || rc=$?
    [ $rc -eq 0 ] || fail "truncated: exit $rc"
    grep -q 'warning: trace is truncated' err.txt || fail "no truncation warning"
    check '.truncated == true and .complete == false and .event_count > 0' cut.json
    [ "$(jq .event_count cut.json)" -lt "$(jq .event_count full.json)" ] || fail "cut not shorter"
    # A damaged byte in the middle: exit 1 with the offset in the message.
    cp big.trace bad.trace
    printf '\377\377\377\377' | dd of=bad.trace bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
    rc=0; "$ht" stats --json bad.trace >/dev/null 2>err.txt || rc=$?
    [ $rc -eq 1 ] || fail "damaged: exit $rc"
    grep -q 'offset' err.txt || fail "no offset in: $(cat err.txt)"
    ;;
stats_consistency)
    # stats against an independent count over dump's CSV (awk keeps its own
    # live table), on a trace of many chunks and processes.
    "$gen" --random 200000 r.trace
    "$ht" stats --json r.trace >s.json
    "$ht" dump --format csv r.trace >d.csv
    awk -F, 'NR > 1 {
            n++; ev[$4]++
            if ($4 == "alloc" || $4 == "realloc") { alloc += $7; src[$10]++ }
            if ($4 == "realloc") { bytes -= size[$2 "/" $8]; delete size[$2 "/" $8] }
            if ($4 == "free") { bytes -= size[$2 "/" $6]; delete size[$2 "/" $6] }
            if ($4 == "alloc" || $4 == "realloc") { size[$2 "/" $6] = $7; bytes += $7 }
        }
        END {
            blocks = 0; for (k in size) blocks++
            printf "{\"n\":%d,\"alloc\":%d,\"free\":%d,\"realloc\":%d,\"bytes\":%d,", n, ev["alloc"], ev["free"], ev["realloc"], alloc
            printf "\"leaked\":%d,\"blocks\":%d,\"lowfrag\":%d}\n", bytes, blocks, src["lowfrag"]
        }' d.csv >awk.json
    jq -e --slurpfile a awk.json '$a[0] as $a |
        .event_count == $a.n and .events.alloc == $a.alloc and .events.free == $a.free and
        .events.realloc == $a.realloc and .bytes_allocated == $a.bytes and
        .leaked_bytes == $a.leaked and .leaked_blocks == $a.blocks and
        .by_source.lowfrag == $a.lowfrag and .event_count == 200000 and
        (.processes | length) == 4 and .anomalies.free_unknown == 0' s.json >/dev/null ||
        fail "stats $(jq -c '{event_count,events,bytes_allocated,leaked_bytes,leaked_blocks}' s.json) vs awk $(cat awk.json)"
    ;;
dump_csv)
    write_two_processes
    "$ht" dump --format csv two.trace >out.csv
    head -1 out.csv | grep -q '^time_ns,pid,tid,event,heap,address,size,old_address,old_size,source' ||
        fail "header: $(head -1 out.csv)"
    [ "$(wc -l <out.csv)" -eq 17 ] || fail "rows: $(wc -l <out.csv)"
    grep -qx '2001000,100,100,alloc,0x1,0x1000,100,,,lookaside,,' out.csv || fail "alloc row"
    grep -qx '2006000,100,101,realloc,0x1,0x3000,256,0x1000,64,mainpath,,' out.csv || fail "realloc row"
    grep -qx '2008000,100,100,free,0x1,0x9999,,,,mainpath,,' out.csv || fail "free row"
    grep -qx '2000000,100,100,process_start,,,,,,,,"ppid=1 executable=""/bin/sh"" argv=""sh -c prog"""' out.csv ||
        fail "process_start row: $(grep process_start out.csv | head -1)"
    grep -qx '2012000,200,200,lost,,,,,,,,"events_lost=5 reason=""buffer_full"""' out.csv || fail "lost row"
    # Every row has the header's column count (no detail here holds a comma).
    awk -F, '{ if (NF != 12) exit 1 }' out.csv || fail "column count"
    ;;
dump_json)
    write_two_processes
    "$ht" dump --format json two.trace >out.jsonl
    [ "$(wc -l <out.jsonl)" -eq 16 ] || fail "lines"
    jq -s -e 'length == 16' out.jsonl >/dev/null || fail "not JSON Lines"
    jq -s -e 'map(select(.event == "realloc"))[0] == {"time_ns":2006000,"pid":100,"tid":101,
        "event":"realloc","heap":"0x1","address":"0x3000","size":256,"old_address":"0x1000",
        "old_size":64,"source":"mainpath","stack_id":null}' out.jsonl >/dev/null || fail "realloc object"
    jq -s -e 'map(select(.event == "process_start"))[1] | .argv == ["prog","--fast"] and
        .executable == "/usr/bin/prog" and .ppid == 1 and .heap == null and .address == null' \
        out.jsonl >/dev/null || fail "process_start object"
    jq -s -e 'map(select(.event == "process_exit"))[0] | .exit_status == 0 and .status_known' \
        out.jsonl >/dev/null || fail "process_exit object"
    # Strange bytes stay valid JSON.
    "$gen" esc.trace <<'SCRIPT'
start 7 1 /bin/x a\x22b\xff\x0a
thread_name 7 7 w\x01\x5c
stack 7 3 0x401000 0x402000
module 7 0x400000 0x10000 /lib/x,y.so
alloc 7 7 0x1 0x10 1 1 3
SCRIPT
    "$ht" dump --format json esc.trace >esc.jsonl
    jq -s -e '.[0].argv == ["a\"b\u00ff\n"] and .[1].name == "w\u0001\\" and
        .[2].frames == ["0x401000","0x402000"] and .[2].stack == 3 and
        .[3].path == "/lib/x,y.so" and .[3].address == "0x400000" and .[4].stack_id == 3' \
        esc.jsonl >/dev/null || fail "escaped events: $(cat esc.jsonl)"
    "$ht" dump --format csv esc.trace >esc.csv
    grep -q ',"path=""/lib/x,y.so"" build_id="$' esc.csv || fail "CSV quoting of a comma"
    ;;
dump_text)
    write_two_processes
    "$ht" dump two.trace >out.txt
    [ "$(wc -l <out.txt)" -eq 16 ] || fail "lines"
    grep -qx '0.001006000 pid=100 tid=101 realloc heap=0x1 address=0x3000 size=256 old_address=0x1000 old_size=64 source=mainpath' out.txt ||
        fail "realloc line: $(grep realloc out.txt)"
    grep -q '^0.001000000 pid=100 tid=100 process_start ppid=1 executable="/bin/sh" argv="sh -c prog"$' out.txt ||
        fail "process_start line: $(head -1 out.txt)"
    ;;
dump_filters)
    write_two_processes
    [ "$("$ht" dump --format csv --pid 200 two.trace | wc -l)" -eq 5 ] || fail "--pid"
    [ "$("$ht" dump --format csv --tid 101 two.trace | wc -l)" -eq 4 ] || fail "--tid"
    [ "$("$ht" dump --format csv --event alloc,free two.trace | wc -l)" -eq 10 ] || fail "--event"
    [ "$("$ht" dump --format csv --event realloc --pid 100 --tid 101 two.trace | wc -l)" -eq 2 ] ||
        fail "combined filters"
    rc=0; "$ht" dump --event nosuch two.trace >/dev/null 2>&1 || rc=$?
    [ $rc -eq 2 ] || fail "unknown event: exit $rc"
    rc=0; "$ht" dump --format xml two.trace >/dev/null 2>&1 || rc=$?
    [ $rc -eq 2 ] || fail "unknown format: exit $rc"
    rc=0; "$ht" dump --pid x two.trace >/dev/null 2>&1 || rc=$?
    [ $rc -eq 2 ] || fail "bad pid: exit $rc"
    # Times count from the recording's start (1 ms before the first event
    # here), events come 1 us apart: [1001us, 1003us) holds the two allocs.
    "$gen" heaps.trace <<'SCRIPT'
time 2000000
start 100 1 /bin/sh sh
alloc 100 100 0x1 0x1000 100 1
alloc 100 100 0x7f00 0x2000 28 2
free 100 100 0x1 0x1000 2
SCRIPT
    [ "$("$ht" dump --format csv --from 1001us --to 1.003ms heaps.trace | grep -c ',alloc,')" -eq 2 ] ||
        fail "--from/--to"
    [ "$("$ht" dump --format csv --from 0.001003 heaps.trace | wc -l)" -eq 2 ] || fail "--from alone"
    [ "$("$ht" dump --format csv --heap 0x7f00 heaps.trace | wc -l)" -eq 2 ] || fail "--heap"
    [ "$("$ht" dump --format csv --heap 1 heaps.trace | wc -l)" -eq 3 ] || fail "--heap decimal"
    rc=0; "$ht" dump --from 1x heaps.trace >/dev/null 2>&1 || rc=$?
    [ $rc -eq 2 ] || fail "bad time: exit $rc"
    ;;
dump_pipe)
    # The reader goes away after one line: no message, exit 0.
    "$gen" --random 500000 big.trace
    "$ht" dump --format csv big.trace 2>err.txt | head -n 1 >/dev/null
    { "$ht" dump --format json big.trace 2>>err.txt; echo $? >rc.txt; } | head -n 2 >/dev/null
    [ "$(cat rc.txt)" -eq 0 ] || fail "exit $(cat rc.txt) when the reader left"
    [ ! -s err.txt ] || fail "messages: $(cat err.txt)"
    ;;
progress)
    # A progress line on a terminal (script(1) gives one) once the reading
    # takes more than half a second; none when stderr is not a terminal.
    # leaks, not stats: every command reads through the same progress line,
    # and stats reads this trace in less than half a second.
    "$gen" --random 8000000 big.trace
    script -qec "'$ht' leaks big.trace >/dev/null" /dev/null >tty.txt
    grep -q 'heaptrail leaks: .*%' tty.txt || fail "no progress line on a terminal: $(head -c 300 tty.txt)"
    "$ht" leaks big.trace >/dev/null 2>err.txt
    [ ! -s err.txt ] || fail "progress without a terminal: $(cat err.txt)"
    ;;
*)
    fail "no such case"
    ;;
esac
echo "ok ($case_name)"
