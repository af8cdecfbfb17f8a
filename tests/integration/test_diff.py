"""diff between two runs of the patterns program, the second with twice the
leaks: the leak site must come first with exactly the added allocations and
leaked bytes, no other site of the program may show a change, the text form
must name the site, a trace compared with itself must show no change, and
bad arguments must be refused."""

import json
import os

import htcheck as h


def diff_json(heaptrail, a, b, options=()):
    cmd = [heaptrail, "diff", "--json", "--top", "0"] + list(options) + [a, b]
    proc = h.run(cmd)
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        h.fail("diff --json is not JSON (%s)\n%s" % (e, h.describe(cmd, proc)))


def main():
    p = h.common_args(__doc__)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    hp = args.heaptrail
    program = os.path.join(args.programs, "patterns")
    before, after = os.path.join(work, "one.ht"), os.path.join(work, "two.ht")
    want = json.loads(h.record(hp, before, [program, "1"], ["-q"]).stdout)
    h.record(hp, after, [program, "2"], ["-q"])

    d = diff_json(hp, before, after, ["--sort", "leaked"])
    h.expect(d["sites"], "diff found no change\n" + json.dumps(d, indent=1))
    first = d["sites"][0]
    h.expect(first["stack"] and first["stack"][0]["function"] == "make_leak",
             "the largest change in leaks is not make_leak's:\n" + json.dumps(first, indent=1))
    n, size = want["leak"]["blocks"], want["leak"]["size"]
    h.expect(first["allocations"] == {"before": n, "after": 2 * n, "change": n},
             "make_leak allocations: %s" % first["allocations"])
    h.expect(first["leaked_bytes"]["change"] == n * size,
             "make_leak leaked bytes changed by %d, expected %d" %
             (first["leaked_bytes"]["change"], n * size))
    program_sites = {"make_temporary", "make_peak", "make_early", "make_aifi", "make_aifo",
                     "make_marker"}
    for s in d["sites"]:
        fn = s["stack"][0]["function"] if s["stack"] else None
        h.expect(fn not in program_sites, "%s changed between identical phases: %s" %
                 (fn, json.dumps(s)))
    totals = d["totals"]
    h.expect(totals["after"]["leaked_bytes"] - totals["before"]["leaked_bytes"] >= n * size,
             "the totals do not show the added leaks: %s" % totals)

    same = diff_json(hp, before, before)
    h.expect(same["sites"] == [], "a trace differs from itself: %s" % same["sites"][:2])

    text = h.run([hp, "diff", "--sort", "leaked", "--top", "3", before, after]).stdout
    h.expect("make_leak (" in text, "the text diff does not name make_leak\n" + text)
    h.expect("No site changed." in h.run([hp, "diff", before, before]).stdout,
             "diff of a trace with itself does not say so")

    for bad, needle in ((["--sort", "size", before, after], "--sort"),
                        ([before], "two trace files"),
                        ([before, os.path.join(work, "none.ht")], "none.ht")):
        cmd = [hp, "diff"] + bad
        proc = h.run(cmd, check=False)
        h.expect(proc.returncode != 0 and needle in proc.stderr,
                 "diff %s: expected an error naming %s\n%s" % (" ".join(bad), needle,
                                                                h.describe(cmd, proc)))


h.main_wrapper(main)
