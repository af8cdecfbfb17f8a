"""Record the dlopen program (a library loaded and unloaded three times,
allocating in its constructor, its code and its destructor): the trace must
hold exactly the marked allocations, frees, reallocs and bytes the program
counted, and stats must agree with the dump."""

import json
import os

import htcheck as h


def main():
    args = h.common_args(__doc__).parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "dlopen.ht")
    lib = os.path.join(args.programs, "libhtdlwork.so")
    proc = h.record(args.heaptrail, trace, [os.path.join(args.programs, "dlopen"), lib],
                    options=["-q"])
    own = json.loads(proc.stdout.strip().splitlines()[-1])
    stats = h.stats_json(args.heaptrail, trace)
    tallies = h.replay(h.dump_rows(args.heaptrail, trace))
    h.check_stats_matches_dump(stats, tallies)
    h.expect(len(tallies) == 1, "expected one process, the dump has pids %s" % sorted(tallies))
    t = next(iter(tallies.values()))
    own["leaked_blocks"] = 0
    h.check_marked(t, own, "dlopen")
    procs = h.stats_processes(stats, t.pid)
    h.expect(procs and "dlopen" in h.command_of(procs[-1]),
             "stats command: %r" % [h.command_of(x) for x in procs])


h.main_wrapper(main)
