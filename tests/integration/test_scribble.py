"""A traced program overwrites a record in its own buffer before the recorder
has read it (tests/programs/scribble.c). The recorder must not crash or
stop: it drops the rest of what was waiting in that buffer, counts it as
lost with the reason corrupt_buffer (in the trace, in stats and in its
summary), and records every event the program made afterwards."""

import json
import os
import re

import htcheck as h


def main():
    p = h.common_args(__doc__)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "scribble.ht")
    proc = h.record(args.heaptrail, trace, [os.path.join(args.programs, "scribble"), "1000"])
    own = json.loads(proc.stdout.strip().splitlines()[-1])

    stats = h.stats_json(args.heaptrail, trace)
    lost = stats.get("lost_events", 0)
    h.expect(lost > 0, "the damaged buffer cost nothing: lost_events is %d" % lost)
    summary = re.search(r"heaptrail record: .* events, (\d+) lost", proc.stderr)
    h.expect(summary and int(summary.group(1)) == lost,
             "the summary says %r lost, stats says %d" % (summary and summary.group(1), lost))
    rows = h.dump_rows(args.heaptrail, trace)
    reasons = [r["detail"] for r in rows if r["event"] == "lost"]
    h.expect(any("corrupt_buffer" in d for d in reasons),
             "no LOST event says corrupt_buffer: %r" % reasons)

    t = h.replay(rows).get(own["pid"])
    h.expect(t is not None, "no events of pid %d" % own["pid"])
    # The 100 marked pairs made before the damage are lost, partly or
    # wholly; the ones made after must all be there.
    h.expect(t.m_allocs >= own["allocs"] and t.m_frees >= own["frees"],
             "recorded %d marked allocs and %d frees, the program made %d and %d after "
             "the damage" % (t.m_allocs, t.m_frees, own["allocs"], own["frees"]))


h.main_wrapper(main)
