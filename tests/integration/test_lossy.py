"""--lossy: a program stops its recorder, makes far more events than its
64 KiB buffer holds, and lets the recorder go on. Events must have been
dropped, and every drop must be counted: the LOST events in the trace add up
to stats' lost_events and to the recorder's summary, and what was recorded
plus what was lost covers everything the program did."""

import json
import os
import re

import htcheck as h


def main():
    p = h.common_args(__doc__)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "lossy.ht")
    proc = h.record(args.heaptrail, trace, [os.path.join(args.programs, "lossy"), "50000"],
                    options=["--lossy", "--buffer-size", "64K"])
    own = json.loads(proc.stdout.strip().splitlines()[-1])

    stats = h.stats_json(args.heaptrail, trace)
    lost = stats.get("lost_events", 0)
    h.expect(lost > 0, "the writer had no room for minutes but nothing was lost")
    summary = re.search(r"heaptrail record: .* events, (\d+) lost", proc.stderr)
    h.expect(summary and int(summary.group(1)) == lost,
             "the summary says %r lost, stats says %d" % (summary and summary.group(1), lost))
    rows = h.dump_rows(args.heaptrail, trace)
    lost_rows = [r for r in rows if r["event"] == "lost"]
    h.expect(lost_rows, "no LOST events in the trace")

    t = h.replay(rows).get(own["pid"])
    h.expect(t is not None, "no events of pid %d" % own["pid"])
    h.expect(t.m_allocs <= own["allocs"] and t.m_frees <= own["frees"],
             "more marked events recorded (%d, %d) than made (%d, %d)" %
             (t.m_allocs, t.m_frees, own["allocs"], own["frees"]))
    # A FREE whose ALLOC was lost is not known as marked, so frees are
    # counted whole: each of the program's events was recorded or lost.
    frees = t.events["free"]
    h.expect(t.m_allocs + frees + lost >= own["allocs"] + own["frees"],
             "recorded %d marked allocs and %d frees, %d lost: fewer than the %d made" %
             (t.m_allocs, frees, lost, own["allocs"] + own["frees"]))


h.main_wrapper(main)
