"""Record the signals program (malloc/free inside SIGALRM and SIGUSR1
handlers while the main loop allocates): the recording must finish (a
tracer that takes a lock or allocates in its hot path deadlocks here), and
the trace must hold exactly the program's marked allocations and frees,
with stats agreeing with the dump."""

import json
import os

import htcheck as h


def main():
    p = h.common_args(__doc__)
    p.add_argument("--record-option", action="append", default=[],
                   help="an option for heaptrail record (repeat for more)")
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "signals.ht")
    proc = h.record(args.heaptrail, trace, [os.path.join(args.programs, "signals")],
                    options=["-q"] + args.record_option)
    own = json.loads(proc.stdout.strip().splitlines()[-1])
    h.expect(own["handler_allocs"] > 0, "no handler ran: %r" % own)
    stats = h.stats_json(args.heaptrail, trace)
    tallies = h.replay(h.dump_rows(args.heaptrail, trace))
    h.check_stats_matches_dump(stats, tallies)
    t = tallies.get(own["pid"])
    h.expect(t is not None, "pid %d has no events" % own["pid"])
    h.check_marked(t, {"allocs": own["allocs"], "frees": own["frees"], "leaked_blocks": 0},
                   "signals")
    procs = h.stats_processes(stats, own["pid"])
    h.expect(procs and "signals" in h.command_of(procs[-1]),
             "stats command for pid %d: %r" % (own["pid"], [h.command_of(x) for x in procs]))


h.main_wrapper(main)
