#!/bin/sh
# The exports checked by the tools that read them: go tool pprof, jq,
# sqlite3, xmllint, babeltrace2 and heaptrack_print, on traces recorded from
# real programs, their figures compared with `heaptrail stats`.
#   export_test.sh CASE HEAPTRAIL WORDFREQ WORDFREQ_INPUT LEAKY TRACE_GEN WORKDIR
set -eu
case_name=$1 ht=$2 wordfreq=$3 input=$4 leaky=$5 gen=$6 work=$7
# A trace with every event type of the format (the fuzzer's seed).
all_types=$(cd "$(dirname "$0")/../fuzz/corpus" && pwd)/all-types.ht
rm -rf "$work"
mkdir -p "$work"
cd "$work"

fail() {
    echo "FAIL ($case_name): $*" >&2
    exit 1
}

# need TOOL...: skip (exit 77) when a checking tool is missing.
need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: no $tool" >&2; exit 77; }
    done
}

# A trace of the bundled example (threads, realloc, leaks) and one of a
# program that forks a leaking child (two processes).
record() {
    "$ht" record -q -f -o w.ht -- "$wordfreq" "$input" 4 20 >/dev/null ||
        fail "cannot record the example"
    "$ht" record -q -f -o l.ht -- "$leaky" >/dev/null || fail "cannot record leaky"
}

# stat TRACE JQ: a figure of `heaptrail stats --json`, summed over images.
stat() {
    "$ht" stats --json "$1" | jq "[.processes[] | $2] | add"
}

expect_eq() { # WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: got $2, expected $3"
}

# No file but the expected ones in the work directory: no partial output,
# no temporary file left behind.
expect_only() {
    got=$(ls -A | sort | tr '\n' ' ')
    got=${got% }
    expect_eq "files in the work directory" "$got" "$*"
}

case $case_name in
pprof)
    need go jq
    record
    for t in w l; do
        "$ht" export --format pprof -o $t.pb.gz $t.ht || fail "export pprof of $t.ht"
        gzip -t $t.pb.gz || fail "$t.pb.gz is not gzip"
        go tool pprof -top -symbolize=none $t.pb.gz >top.txt 2>top.err ||
            fail "go tool pprof -top failed: $(cat top.err)"
        grep -q '^Type: inuse_space' top.txt || fail "no inuse_space in $(cat top.txt)"
        # Every sample's four values, exactly, from the raw listing.
        go tool pprof -raw -symbolize=none $t.pb.gz >raw.txt 2>raw.err ||
            fail "go tool pprof -raw failed: $(cat raw.err)"
        sums=$(awk '/^ *[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+:/ {a+=$1; b+=$2; c+=$3; d+=$4}
                    END {print a+0, b+0, c+0, d+0}' raw.txt)
        want="$(stat $t.ht '.events.alloc + .events.realloc') $(stat $t.ht .bytes_allocated)"
        want="$want $(stat $t.ht .leaked_blocks) $(stat $t.ht .leaked_bytes)"
        expect_eq "$t: alloc_objects alloc_space inuse_objects inuse_space" "$sums" "$want"
    done
    go tool pprof -top -symbolize=none -sample_index=alloc_space w.pb.gz >top.txt 2>&1
    grep -q 'count_words' top.txt || fail "no count_words in $(cat top.txt)"
    go tool pprof -top -symbolize=none l.pb.gz >top.txt 2>&1
    grep -q 'leak_large' top.txt || fail "no leak_large in $(cat top.txt)"
    ;;
folded)
    need jq
    record
    for t in w l; do
        for w in bytes count peak leaked; do
            "$ht" export --format folded --weight $w -o $t.$w.folded $t.ht ||
                fail "export folded --weight $w"
            bad=$(grep -cv '^[^ ;][^;]*\(;[^;]\{1,\}\)* [0-9]\{1,\}$' $t.$w.folded || true)
            expect_eq "$t $w: malformed lines" "$bad" 0
            got=$(awk '{s += $NF} END {print s+0}' $t.$w.folded)
            case $w in
            bytes) want=$(stat $t.ht .bytes_allocated) ;;
            count) want=$(stat $t.ht '.events.alloc + .events.realloc') ;;
            peak) want=$(stat $t.ht .peak_bytes) ;;
            leaked) want=$(stat $t.ht .leaked_bytes) ;;
            esac
            expect_eq "$t: sum of the $w weights" "$got" "$want"
        done
    done
    grep -q '^wordfreq;.*;count_words;' w.bytes.folded || fail "no count_words stack"
    # Standard output, and the default weight (bytes).
    "$ht" export --format folded -o - w.ht | cmp -s - w.bytes.folded ||
        fail "folded on standard output differs from the file"
    ;;
flamegraph)
    need xmllint
    record
    "$ht" flamegraph -o fg.svg w.ht || fail "flamegraph"
    xmllint --noout fg.svg || fail "fg.svg is not well-formed XML"
    grep -q '<script' fg.svg || fail "no script for zooming"
    grep -q '<title>count_words' fg.svg || fail "no count_words box with its title"
    n=$(grep -c '<g class="f"' fg.svg)
    [ "$n" -ge 10 ] || fail "only $n boxes"
    ! grep -q 'href=\|https\?://[^w]' fg.svg || fail "the SVG refers to something outside it"
    "$ht" flamegraph --weight leaked --width 800 -o leaks.svg l.ht || fail "flamegraph --weight leaked"
    xmllint --noout leaks.svg || fail "leaks.svg is not well-formed XML"
    grep -q 'width="800"' leaks.svg || fail "--width not applied"
    grep -q '<title>leak_large' leaks.svg || fail "no leak_large box"
    ;;
flamegraph_browser)
    # The flame graph in a real browser: zoom on click, details on hover,
    # zoom out, search; no script error on the console.
    need chromium
    record
    "$ht" flamegraph -o fg.svg w.ht || fail "flamegraph"
    cp "$(dirname "$0")/flamegraph_harness.html" .
    HOME=$PWD timeout 120 chromium --headless=new --no-sandbox --disable-gpu \
        --allow-file-access-from-files --enable-logging=stderr --virtual-time-budget=5000 \
        --dump-dom "file://$PWD/flamegraph_harness.html" >dom.html 2>console.txt ||
        fail "chromium failed: $(tail -5 console.txt)"
    ! grep -q 'CONSOLE' console.txt || fail "console messages: $(grep CONSOLE console.txt)"
    got=$(sed -n 's/.*data-result="\([^"]*\)".*/\1/p' dom.html)
    expect_eq "the flame graph's behaviour" "$got" \
        "zoomed=1180 hidden=true details=count_words unzoomed_hidden=0 search=true"
    ;;
chrome)
    need jq
    record
    for t in w l; do
        "$ht" export --format chrome -o $t.json $t.ht || fail "export chrome"
        jq -e '.traceEvents | length > 0' $t.json >/dev/null || fail "$t.json: no events"
        jq -e '[.traceEvents[] | select(.ph != "C" and .ph != "i" and .ph != "M")] | length == 0' \
            $t.json >/dev/null || fail "$t.json: an event of an unexpected phase"
        jq -e '[.traceEvents[] | select(.name == "process start")] | length > 0' $t.json \
            >/dev/null || fail "$t.json: no process start"
        jq -e '[.traceEvents[] | select(.ph == "M" and .name == "process_name")] | length > 0' \
            $t.json >/dev/null || fail "$t.json: no process names"
        # Each process's last live-bytes value is what it leaked, and its
        # heaps' last values add up to it.
        got=$(jq '[.traceEvents[] | select(.ph == "C" and .name == "live bytes")]
                  | group_by(.pid) | map(last.args.bytes) | add' $t.json)
        expect_eq "$t: live bytes at the end" "$got" "$(stat $t.ht .leaked_bytes)"
        got=$(jq '[.traceEvents[] | select(.ph == "C" and (.name | test("^heap ")))]
                  | group_by([.pid, .name]) | map(last.args.bytes) | add' $t.json)
        expect_eq "$t: heaps' live bytes at the end" "$got" "$(stat $t.ht .leaked_bytes)"
    done
    ;;
sqlite)
    need sqlite3 jq
    record
    for t in w l; do
        "$ht" export --format sqlite -o $t.db $t.ht || fail "export sqlite"
        q() { sqlite3 -batch -noheader $t.db "$1" || fail "sqlite3: $1"; }
        expect_eq "$t: integrity" "$(q 'PRAGMA integrity_check')" ok
        expect_eq "$t: events" "$(q 'SELECT count(*) FROM events')" "$(stat $t.ht .event_count)"
        expect_eq "$t: allocs" "$(q "SELECT count(*) FROM events WHERE type = 'alloc'")" \
            "$(stat $t.ht .events.alloc)"
        expect_eq "$t: processes" "$(q 'SELECT count(*) FROM processes')" \
            "$("$ht" stats --json $t.ht | jq '.processes | length')"
        expect_eq "$t: bytes allocated" \
            "$(q "SELECT sum(size) FROM events WHERE type IN ('alloc', 'realloc')")" \
            "$(stat $t.ht .bytes_allocated)"
        n=$(q "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
        [ "$n" -ge 10 ] || fail "$t: only $n indexes"
        for table in threads modules stacks frames stack_frames; do
            n=$(q "SELECT count(*) FROM $table")
            [ "$n" -gt 0 ] || fail "$t: table $table is empty"
        done
    done
    "$ht" export --format sqlite -o all.db "$all_types" || fail "export sqlite of every type"
    expect_eq "events of every type" "$(sqlite3 -batch all.db 'SELECT count(*) FROM events')" \
        "$(stat "$all_types" .event_count)"
    expect_eq "os_remap columns" "$(sqlite3 -batch all.db "SELECT count(*) FROM events
        WHERE type = 'os_remap' AND address IS NOT NULL AND old_size IS NOT NULL")" 1
    # The innermost frame of the allocations: the example's own functions.
    sqlite3 -batch w.db "SELECT DISTINCT f.function FROM events e
        JOIN stack_frames s ON s.stack = e.stack JOIN frames f ON f.id = s.frame
        WHERE e.type = 'alloc'" | grep -qx count_words || fail "no count_words frame"
    # Execs: a new image (processes row) for each, with its own stacks.
    "$ht" record -q -f -o x.ht -- "$(dirname "$leaky")/execchain" top >/dev/null 2>&1 || true
    "$ht" export --format sqlite -o x.db x.ht || fail "export sqlite of execchain"
    expect_eq "images" "$(sqlite3 -batch x.db 'SELECT count(*) FROM processes')" \
        "$("$ht" stats --json x.ht | jq '.processes | length')"
    expect_eq "execs" "$(sqlite3 -batch x.db 'SELECT count(*) FROM processes WHERE exec')" \
        "$("$ht" stats --json x.ht | jq '[.processes[] | select(.exec)] | length')"
    expect_eq "allocations by image" \
        "$(sqlite3 -batch x.db "SELECT count(*) FROM events WHERE type IN ('alloc', 'realloc')
            GROUP BY image HAVING count(*) > 0 ORDER BY image" | tr '\n' ' ')" \
        "$("$ht" stats --json x.ht | jq -r '[.processes[] | .events.alloc + .events.realloc
            | select(. > 0) | tostring] | join(" ")') "
    expect_eq "child process" "$(sqlite3 -batch l.db \
        'SELECT count(*) FROM processes p JOIN processes q ON q.pid = p.parent_pid')" 1
    ;;
ctf)
    need babeltrace2 jq
    record
    for t in w l; do
        "$ht" export --format ctf -o $t.ctf $t.ht || fail "export ctf"
        [ -f $t.ctf/metadata ] || fail "$t.ctf: no metadata"
        head -1 $t.ctf/metadata | grep -q '^/\* CTF 1.8 \*/' || fail "$t.ctf: not CTF 1.8 metadata"
        babeltrace2 $t.ctf >bt.txt 2>bt.err || fail "babeltrace2 failed: $(cat bt.err)"
        [ ! -s bt.err ] || fail "babeltrace2 warned: $(cat bt.err)"
        expect_eq "$t: events babeltrace2 read" "$(wc -l <bt.txt)" "$(stat $t.ht .event_count)"
        expect_eq "$t: allocs babeltrace2 read" "$(grep -c '\] ([^)]*) [^ ]* alloc: ' bt.txt)" \
            "$(stat $t.ht .events.alloc)"
    done
    # Every event type, the signed fields and the clock event included.
    "$ht" export --format ctf -o all.ctf "$all_types" || fail "export ctf of every type"
    babeltrace2 all.ctf >bt.txt 2>bt.err || fail "babeltrace2 failed: $(cat bt.err)"
    [ ! -s bt.err ] || fail "babeltrace2 warned: $(cat bt.err)"
    expect_eq "events of every type" "$(wc -l <bt.txt)" "$(stat "$all_types" .event_count)"
    for type in heap_expand heap_contract heap_snapshot os_remap module_unload clock; do
        grep -q " $type: " bt.txt || fail "no $type event in $(cat bt.txt)"
    done
    # Both processes of the forking program have their stream.
    n=$(ls l.ctf | grep -c '^stream_')
    expect_eq "streams of the forking program" "$n" 2
    # An output directory that exists and is not empty is refused.
    set +e
    "$ht" export --format ctf -o w.ctf w.ht 2>err.txt
    status=$?
    set -e
    expect_eq "export over a full directory exits" $status 1
    ;;
heaptrack)
    need heaptrack_print jq
    record
    "$ht" export --format heaptrack -o w.heaptrack w.ht || fail "export heaptrack"
    heaptrack_print w.heaptrack >hp.txt 2>hp.err || fail "heaptrack_print failed: $(cat hp.err)"
    grep -q 'failed to parse\|out of bounds' hp.err hp.txt && fail "heaptrack_print: $(cat hp.err)"
    got=$(sed -n 's/^calls to allocation functions: \([0-9]*\) .*/\1/p' hp.txt)
    expect_eq "calls to allocation functions" "$got" "$(stat w.ht '.events.alloc + .events.realloc')"
    grep -q '^ *count_words$' hp.txt || fail "no count_words in $(head -40 hp.txt)"
    # The forking program: the parent by default, the child with --pid.
    child=$("$ht" stats --json l.ht | jq '.processes[1].pid')
    "$ht" export --format heaptrack -o parent.heaptrack l.ht || fail "export heaptrack of leaky"
    "$ht" export --format heaptrack --pid "$child" -o child.heaptrack l.ht ||
        fail "export heaptrack --pid"
    for who in parent child; do
        heaptrack_print $who.heaptrack >hp.txt 2>hp.err || fail "heaptrack_print $who: $(cat hp.err)"
        got=$(sed -n 's/^calls to allocation functions: \([0-9]*\) .*/\1/p' hp.txt)
        [ $who = parent ] && i=0 || i=1
        want=$("$ht" stats --json l.ht | jq ".processes[$i] | .events.alloc + .events.realloc")
        expect_eq "$who: calls to allocation functions" "$got" "$want"
    done
    set +e
    "$ht" export --format heaptrack --pid 1 -o none.heaptrack l.ht 2>err.txt
    status=$?
    set -e
    expect_eq "export of a process the trace lacks exits" $status 1
    grep -q 'no process 1' err.txt || fail "no reason given: $(cat err.txt)"
    [ ! -e none.heaptrack ] || fail "none.heaptrack was left behind"
    ;;
plot)
    need xmllint jq
    record
    for t in w l; do
        "$ht" plot -o $t.svg $t.ht || fail "plot"
        xmllint --noout $t.svg || fail "$t.svg is not well-formed XML"
        # One chart per image, each with its exact peak on the marker.
        got=$(sed -n 's/.*<title>peak: \([0-9]*\) bytes at.*/\1/p' $t.svg | sort -n | tr '\n' ' ')
        want=$("$ht" stats --json $t.ht | jq -r '[.processes[] | select(.bytes_allocated > 0)
               | .peak_bytes] | sort | map(tostring) | join(" ")')
        expect_eq "$t: the charts' peaks" "${got% }" "$want"
        grep -q 'live heap bytes' $t.svg || fail "no axis title"
        grep -q '>mainpath<' $t.svg || fail "no Source layer in the legend"
    done
    "$ht" plot --by heap -o heaps.svg w.ht || fail "plot --by heap"
    xmllint --noout heaps.svg || fail "heaps.svg is not well-formed XML"
    grep -q '>main arena<' heaps.svg || fail "no main arena layer"
    # Many processes: the charts of the 24 highest peaks, process i's peak
    # being i KiB.
    i=1
    while [ $i -le 100 ]; do
        echo "start $((1000 + i)) 1 /bin/p$i"
        echo "alloc $((1000 + i)) $((1000 + i)) 0x1 0x1000 $((i * 1024)) 3"
        echo "exit $((1000 + i)) 0"
        i=$((i + 1))
    done | "$gen" many.ht || fail "trace_gen"
    "$ht" plot -o many.svg many.ht || fail "plot of many processes"
    expect_eq "charts" "$(grep -c '<title>peak: ' many.svg)" 24
    grep -q 'the 24 images with the highest peaks of 100' many.svg || fail "no note of the others"
    expect_eq "lowest peak shown" \
        "$(sed -n 's/.*<title>peak: \([0-9]*\) bytes.*/\1/p' many.svg | sort -n | head -1)" \
        $((77 * 1024))
    # Long traces: the picture stays the same size, whatever the length.
    "$gen" --random 100000 short.ht || fail "trace_gen"
    "$gen" --random 800000 long.ht || fail "trace_gen"
    "$ht" plot -o short.svg short.ht && "$ht" plot -o long.svg long.ht || fail "plot of a long trace"
    xmllint --noout long.svg || fail "long.svg is not well-formed XML"
    short=$(wc -c <short.svg) long=$(wc -c <long.svg)
    [ "$long" -lt 400000 ] || fail "the plot of 800000 events takes $long bytes"
    [ "$long" -lt $((short * 2)) ] || fail "the plot grows with the trace: $short, then $long bytes"
    ;;
progress)
    need script
    # A progress line on a terminal (script(1) gives one) once the reading
    # takes more than half a second; none when stderr is not a terminal.
    "$gen" --random 8000000 big.ht || fail "trace_gen"
    script -qec "'$ht' export --format folded -o big.folded big.ht" /dev/null >tty.txt
    grep -q 'heaptrail export: .*%' tty.txt || fail "no progress line: $(head -c 300 tty.txt)"
    [ -s big.folded ] || fail "no output"
    script -qec "'$ht' plot -o big.svg big.ht" /dev/null >tty.txt
    grep -q 'heaptrail plot: .*%' tty.txt || fail "no progress line: $(head -c 300 tty.txt)"
    "$ht" export --format folded -o big2.folded big.ht 2>err.txt
    [ ! -s err.txt ] || fail "progress without a terminal: $(cat err.txt)"
    ;;
failures)
    need jq
    record
    # Usage errors exit 2.
    set +e
    "$ht" export w.ht 2>err.txt; s1=$?
    "$ht" export --format nosuch -o x w.ht 2>>err.txt; s2=$?
    "$ht" export --format sqlite -o - w.ht 2>>err.txt; s3=$?
    "$ht" export --format folded --weight huge -o x w.ht 2>>err.txt; s4=$?
    set -e
    expect_eq "usage errors exit" "$s1 $s2 $s3 $s4" "2 2 2 2"
    # A damaged chunk: the export fails naming the file and the offset, and
    # leaves nothing behind; an older file of that name stays as it was.
    size=$(wc -c <w.ht)
    cp w.ht bad.ht
    printf '\377\377\377\377' | dd of=bad.ht bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
    echo "older" >old.json
    rm -f err.txt
    for f in pprof folded chrome sqlite ctf heaptrack; do
        case $f in ctf) out=bad.ctf ;; chrome) out=old.json ;; *) out=bad.$f ;; esac
        set +e
        "$ht" export --format $f -o $out bad.ht 2>err.txt
        status=$?
        set -e
        expect_eq "$f export of a damaged trace exits" $status 1
        grep -q 'bad.ht: offset [0-9]' err.txt || fail "$f: the error does not say where: $(cat err.txt)"
        expect_only bad.ht err.txt l.ht old.json w.ht
        expect_eq "the older file" "$(cat old.json)" older
    done
    set +e
    "$ht" flamegraph -o bad.svg bad.ht 2>err.txt; s1=$?
    "$ht" plot -o bad.svg bad.ht 2>err.txt; s2=$?
    set -e
    expect_eq "flamegraph and plot of a damaged trace exit" "$s1 $s2" "1 1"
    expect_only bad.ht err.txt l.ht old.json w.ht
    # An output that cannot be created: the error names it.
    set +e
    "$ht" export --format folded -o nodir/x.folded w.ht 2>err.txt
    status=$?
    set -e
    expect_eq "export into a missing directory exits" $status 1
    grep -q 'nodir/x.folded' err.txt || fail "the error does not name the output: $(cat err.txt)"
    # A truncated trace is exported up to its last complete chunk, with a
    # warning.
    head -c $((size - 100)) w.ht >cut.ht
    "$ht" export --format folded -o cut.folded cut.ht 2>err.txt || fail "truncated trace"
    grep -q 'truncated' err.txt || fail "no truncation warning: $(cat err.txt)"
    ;;
*)
    fail "no case $case_name"
    ;;
esac
