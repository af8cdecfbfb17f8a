"""The stress program (threads, cross-thread frees, thread churn, a fork in
the middle) recorded on the heaptrail heap: the trace must match, exactly,
what the program counted itself, per process, as it must for the program's
own allocator (tests/integration/test_stress.py); and every event must name
the heap and a Source that the heaptrail heap produces."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import htcheck as h  # noqa: E402


def main():
    p = h.common_args(__doc__)
    p.add_argument("--malloc", required=True, type=os.path.abspath, help="libheaptrail-malloc.so")
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "stress.ht")
    env = dict(os.environ, HEAPTRAIL_MALLOC=args.malloc)
    proc = h.record(args.heaptrail, trace, [os.path.join(args.programs, "stress"), "20000"],
                    options=["-q", "--heap=heaptrail"], env=env)
    try:
        own = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        h.fail("stress printed no JSON: %r" % proc.stdout[-500:])

    rows = h.dump_rows(args.heaptrail, trace)
    stats = h.stats_json(args.heaptrail, trace)
    tallies = h.replay(rows)
    h.check_stats_matches_dump(stats, tallies)
    for who in ("parent", "child"):
        want = own[who]
        t = tallies.get(want["pid"])
        h.expect(t is not None, "%s pid %d has no events in the trace" % (who, want["pid"]))
        h.check_marked(t, want, who)
    sources = {r["source"] for r in rows if r["event"] in ("alloc", "realloc", "free")}
    h.expect(sources <= {"lookaside", "lowfrag", "mainpath", "slowpath"},
             "unexpected Source values: %r" % sources)
    h.expect({"lookaside", "lowfrag", "mainpath"} <= sources, "paths missing: %r" % sources)
    h.expect(stats.get("lost_events", 0) == 0, "lost events: %r" % stats.get("lost_events"))


if __name__ == "__main__":
    h.main_wrapper(main)
