"""report on a program with known allocation patterns (tests/programs/patterns.c):
the temporary site's temporaries, the peak site's share of the peak, the
leak site's leaks, the four window types around two marker blocks found in
the dump, what was outstanding at one instant, the size, lifetime and frame
filters, breakdowns that add up to the summary, the text report, and usage
errors."""

import json
import os
import re

import htcheck as h


def report_json(heaptrail, trace, options=()):
    cmd = [heaptrail, "report", "--json", "--top", "0"] + list(options) + [trace]
    proc = h.run(cmd)
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        h.fail("report --json is not JSON (%s)\n%s" % (e, h.describe(cmd, proc)))


def sites(rep, function):
    """Every site of the report (from its allocations ranking) whose innermost
    frame is function."""
    return [s for s in rep["top"]["allocations"] + rep["top"].get("window", [])
            if s["stack"] and s["stack"][0]["function"] == function]


def site(rep, function, where):
    found = sites(rep, function)
    h.expect(found, "%s: no site of %s\n%s" % (where, function, json.dumps(rep, indent=1)))
    return found[0]


def marker_times(heaptrail, trace, size):
    """Times (seconds since the start, as dump prints them) of the marker allocations."""
    out = h.run([heaptrail, "dump", "--event", "alloc", trace]).stdout
    times = [line.split()[0] for line in out.splitlines()
             if re.search(r"\bsize=%d\b" % size, line)]
    h.expect(len(times) == 2, "expected 2 marker allocations, found %d" % len(times))
    return times


def main():
    p = h.common_args(__doc__)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "patterns.ht")
    want = json.loads(h.record(args.heaptrail, trace,
                               [os.path.join(args.programs, "patterns")], ["-q"]).stdout)
    hp = args.heaptrail

    rep = report_json(hp, trace)
    summary = rep["summary"]

    t = site(rep, "make_temporary", "report")
    n, size = want["temporary"]["blocks"], want["temporary"]["size"]
    h.expect((t["allocations"], t["bytes"], t["temporary"], t["temporary_bytes"]) ==
             (n, n * size, n, n * size),
             "temporaries: %s, expected %d allocations all temporary" % (json.dumps(t), n))
    h.expect(t["leaked_blocks"] == 0 and t["peak_blocks"] == 0,
             "temporaries counted as leaked or at the peak: %s" % json.dumps(t))
    h.expect(summary["temporary"] >= n, "summary temporary %d < %d" % (summary["temporary"], n))

    pk = site(rep, "make_peak", "report")
    n, size = want["peak"]["blocks"], want["peak"]["size"]
    h.expect((pk["peak_blocks"], pk["peak_bytes"]) == (n, n * size),
             "peak site: %d blocks, %d bytes at the peak; expected %d, %d" %
             (pk["peak_blocks"], pk["peak_bytes"], n, n * size))
    h.expect(rep["top"]["peak"][0]["stack"][0]["function"] == "make_peak",
             "the peak's largest share is not make_peak's")
    proc = summary["processes"][0]
    h.expect(n * size <= proc["peak_bytes"] < n * size + (1 << 20),
             "process peak %d, expected %d and a little libc" % (proc["peak_bytes"], n * size))
    peak_sum = sum(s["peak_bytes"] for s in rep["top"]["peak"])
    h.expect(peak_sum == proc["peak_bytes"],
             "the sites' peak shares add up to %d, the peak is %d" % (peak_sum,
                                                                     proc["peak_bytes"]))

    lk = site(rep, "make_leak", "report")
    n, size = want["leak"]["blocks"], want["leak"]["size"]
    h.expect((lk["leaked_blocks"], lk["leaked_bytes"], lk["mean_lifetime_ns"]) ==
             (n, n * size, None), "leak site: %s, expected %d leaked blocks" % (json.dumps(lk), n))
    leaked = sum(s["leaked_bytes"] for s in rep["top"]["leaked"])
    h.expect(leaked == summary["leaked_bytes"],
             "the sites' leaks add up to %d, the summary says %d" % (leaked,
                                                                    summary["leaked_bytes"]))

    # Breakdowns add up to the summary when nothing is filtered.
    for key in ("sources", "threads", "histogram"):
        total = sum(r["allocations"] for r in rep[key])
        h.expect(total == summary["allocations"], "%s add up to %d allocations, not %d" %
                 (key, total, summary["allocations"]))
    bucket = [b for b in rep["histogram"] if b["min_size"] <= want["peak"]["size"] <= b["max_size"]]
    h.expect(bucket and bucket[0]["allocations"] >= want["peak"]["blocks"],
             "the histogram misses the peak blocks")

    # Window types between the two markers.
    t1, t2 = marker_times(hp, trace, want["marker"]["size"])
    win = report_json(hp, trace, ["--from", t1, "--to", t2])
    expect_types = {
        "make_early": {"AOFI": want["early"]["blocks"] // 2, "AOFO": want["early"]["blocks"] // 2},
        "make_aifi": {"AIFI": want["aifi"]["blocks"]},
        "make_aifo": {"AIFO": want["aifo"]["blocks"]},
        "make_leak": {"AOFO": want["leak"]["blocks"]},
    }
    for function, types in expect_types.items():
        s = site(win, function, "--from/--to")
        for kind in ("AIFI", "AIFO", "AOFI", "AOFO"):
            got = s["window"][kind]["blocks"]
            h.expect(got == types.get(kind, 0), "%s: %d %s blocks, expected %d" %
                     (function, got, kind, types.get(kind, 0)))
    for function in ("make_temporary", "make_peak"):
        h.expect(not sites(win, function), "%s lies before the window yet shows" % function)
    total = win["window"]
    for kind in ("AIFI", "AIFO", "AOFI", "AOFO"):
        h.expect(total[kind]["blocks"] >= sum(v.get(kind, 0) for v in expect_types.values()),
                 "window total %s below its sites" % kind)

    # Outstanding at the second marker: the late half of early, aifo, the leaks.
    at = report_json(hp, trace, ["--at", t2])
    for function, n in (("make_early", want["early"]["blocks"] // 2),
                        ("make_aifo", want["aifo"]["blocks"]), ("make_leak", want["leak"]["blocks"])):
        s = site(at, function, "--at")
        h.expect(s["window"]["AOFO"]["blocks"] == n and s["allocations"] == n,
                 "--at: %s has %d outstanding, expected %d" %
                 (function, s["window"]["AOFO"]["blocks"], n))
    h.expect(not sites(at, "make_aifi"), "--at shows blocks freed before the instant")

    # Filters.
    big = report_json(hp, trace, ["--min-size", str(want["peak"]["size"])])
    h.expect(not sites(big, "make_temporary") and site(big, "make_peak", "--min-size"),
             "--min-size lets small blocks through")
    small = report_json(hp, trace, ["--max-size", str(want["temporary"]["size"])])
    h.expect(not sites(small, "make_peak"), "--max-size lets large blocks through")
    lived = report_json(hp, trace, ["--min-lifetime", "25ms"])
    h.expect(not sites(lived, "make_temporary") and site(lived, "make_early", "--min-lifetime"),
             "--min-lifetime keeps the wrong blocks")
    short = report_json(hp, trace, ["--max-lifetime", "20ms"])
    h.expect(site(short, "make_temporary", "--max-lifetime") and not sites(short, "make_early"),
             "--max-lifetime keeps the wrong blocks")
    only = report_json(hp, trace, ["--require-frame", "make_l*k"])
    functions = {s["stack"][0]["function"] for s in only["top"]["allocations"]}
    h.expect(functions == {"make_leak"}, "--require-frame kept %s" % sorted(functions))
    other = report_json(hp, trace, ["--pid", "1"])
    h.expect(not other["top"]["allocations"] and not other["summary"]["processes"],
             "--pid of another process still shows sites")

    # The text report.
    text = h.run([hp, "report", "--top", "5", trace]).stdout
    for needle in ("Summary", "Top sites by allocations", "Top sites by share of the peak",
                   "make_peak (", "Sizes", "Threads", "Sources", "Heaps"):
        h.expect(needle in text, "the text report lacks %r\n%s" % (needle, text))
    h.expect("\033[" not in text, "colour codes written to a file")

    # Usage errors name the problem and exit 2.
    for bad, needle in ((["--at", "1", "--from", "0"], "--at"),
                        (["--min-size", "huge"], "--min-size"),
                        (["--from", "2", "--to", "1"], "--from"),
                        (["--top", "-1"], "--top")):
        cmd = [hp, "report"] + bad + [trace]
        proc = h.run(cmd, check=False)
        h.expect(proc.returncode == 2 and needle in proc.stderr,
                 "report %s: expected a usage error naming %s\n%s" %
                 (" ".join(bad), needle, h.describe(cmd, proc)))
    missing = os.path.join(work, "missing.ht")
    proc = h.run([hp, "report", missing], check=False)
    h.expect(proc.returncode != 0 and missing in proc.stderr,
             "a missing trace is not named\n" + proc.stderr)


h.main_wrapper(main)
