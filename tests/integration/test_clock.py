"""The time of each event is the time it happened, whichever clock the
writers used: for every marked allocation of the stamps program (two threads
and a fork child, over more than half a second), the trace's ALLOC time lies
between the CLOCK_MONOTONIC readings the program took right before and right
after the malloc call (within 5 us where ticks were converted). Run with HEAPTRAIL_CLOCK=auto (the TSC where usable)
and =monotonic (the vDSO clock); an unknown value is refused."""

import collections
import os

import htcheck as h


def check_clock(args, work, clock):
    trace = os.path.join(work, "stamps-%s.ht" % clock)
    env = dict(os.environ, HEAPTRAIL_CLOCK=clock)
    proc = h.record(args.heaptrail, trace, [os.path.join(args.programs, "stamps")],
                    options=["-q", "--no-stacks"], env=env)
    wanted = collections.defaultdict(list)  # (pid, size) -> [(before, after)] in order
    for line in proc.stdout.splitlines():
        size, before, after, pid = map(int, line.split())
        wanted[(pid, size)].append((before, after))
    h.expect(len(wanted) >= 3, "stamps printed too little: %r" % proc.stdout[:500])
    got = collections.defaultdict(list)
    for row in h.dump_rows(args.heaptrail, trace):
        if row["event"] == "alloc" and h.is_marked(row["size"]):
            got[(row["pid"], row["size"])].append(row["time_ns"])
    # TSC ticks become nanoseconds through a measured ratio: allow the
    # conversion a few microseconds (a wrong ratio or unit is off by far more).
    slack = 0 if clock == "monotonic" else 5000
    checked = 0
    for key, spans in wanted.items():
        times = got.get(key, [])
        h.expect(len(times) == len(spans), "%s: pid %d size %d: %d allocations in the trace, "
                 "the program made %d" % (clock, key[0], key[1], len(times), len(spans)))
        for t, (before, after) in zip(times, spans):
            h.expect(before - slack <= t <= after + slack,
                     "%s: pid %d size %d: stamped %d, outside [%d, %d] (%+d ns, %+d ns)" %
                     (clock, key[0], key[1], t, before, after, t - before, after - t))
            checked += 1
    h.expect(checked >= 80, "%s: only %d allocations checked" % (clock, checked))


def main():
    p = h.common_args(__doc__)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    for clock in ("auto", "monotonic"):
        check_clock(args, work, clock)
    bad = os.path.join(work, "bad.ht")
    proc = h.record(args.heaptrail, bad, ["/bin/true"], expect_status=None,
                    env=dict(os.environ, HEAPTRAIL_CLOCK="sundial"))
    h.expect(proc.returncode not in (0, None) and "HEAPTRAIL_CLOCK" in proc.stderr,
             "HEAPTRAIL_CLOCK=sundial: exit %s, %r" % (proc.returncode, proc.stderr))
    h.expect(not os.path.exists(bad), "HEAPTRAIL_CLOCK=sundial left %s" % bad)


h.main_wrapper(main)
