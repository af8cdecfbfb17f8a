"""Record the stress program and require the trace to match, exactly, what
the program counted itself: per process (parent and fork child) the marked
allocs, frees, reallocs, bytes and leaked blocks, replayed from
`dump --format csv` by address; and `stats --json` to agree with the dump on
every process's event counts. Threads, cross-thread frees, thread churn and a
fork in the middle are where a tracer loses or misorders events."""

import json
import os

import htcheck as h


def main():
    p = h.common_args(__doc__)
    p.add_argument("--items", default="20000", help="blocks per producer thread")
    p.add_argument("--clock", default="auto", help="HEAPTRAIL_CLOCK for the recording")
    p.add_argument("--compress", default="auto", help="HEAPTRAIL_COMPRESS for the recording")
    p.add_argument("--record-option", action="append", default=[],
                   help="an option for heaptrail record (repeat for more)")
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "stress.ht")
    prog = os.path.join(args.programs, "stress")
    proc = h.record(args.heaptrail, trace, [prog, args.items], options=["-q"] + args.record_option,
                    env=dict(os.environ, HEAPTRAIL_CLOCK=args.clock,
                                      HEAPTRAIL_COMPRESS=args.compress))
    try:
        own = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        h.fail("stress printed no JSON: %r" % proc.stdout[-500:])

    stats = h.stats_json(args.heaptrail, trace)
    tallies = h.replay(h.dump_rows(args.heaptrail, trace))
    h.check_stats_matches_dump(stats, tallies)

    parent, child = own["parent"], own["child"]
    for who, want in (("parent", parent), ("child", child)):
        t = tallies.get(want["pid"])
        h.expect(t is not None, "%s pid %d has no events in the trace" % (who, want["pid"]))
        h.check_marked(t, want, who)

    # The child is a fork without exec: same command, parent's pid as ppid.
    pp = h.stats_processes(stats, parent["pid"])
    cp = h.stats_processes(stats, child["pid"])
    h.expect(pp and cp, "stats lacks the parent or the child: %s" %
             json.dumps(stats.get("processes"))[:2000])
    h.expect(all(c.get("ppid") == parent["pid"] for c in cp),
             "child's ppid in stats is %r, expected %d" % ([c.get("ppid") for c in cp],
                                                           parent["pid"]))
    h.expect("stress" in h.command_of(pp[0]) and "stress" in h.command_of(cp[-1]),
             "commands in stats: parent %r, child %r" % (h.command_of(pp[0]),
                                                         h.command_of(cp[-1])))
    h.expect(stats.get("lost_events", 0) == 0, "lossless recording lost %r events" %
             stats.get("lost_events"))
    if "--no-stacks" not in args.record_option:
        # The fork child records no modules of its own: its stacks resolve with
        # the modules it inherited, which the trace gives before its events.
        dump = h.run([args.heaptrail, "dump", "--format", "json", "--stacks", "--event", "alloc",
                      "--pid", str(child["pid"]), trace])
        unresolved = [e for e in map(json.loads, dump.stdout.splitlines())
                      if h.is_marked(e["size"]) and not (e["stack"] and e["stack"][0]["function"]
                                                          and (e["stack"][0]["file"] or "").endswith("stress.c"))]
        h.expect(not unresolved, "the fork child's stacks do not resolve into stress.c: %s" %
                 json.dumps(unresolved[:1]))
    h.expect(not stats.get("truncated"), "the trace is truncated")
    # Leaks stats reports can only be more than the marked ones (libc keeps
    # some blocks to the end), never fewer.
    for want, procs in ((parent, pp), (child, cp)):
        leaked = sum(p.get("leaked_blocks", 0) for p in procs)
        h.expect(leaked >= want["leaked_blocks"],
                 "pid %d: stats reports %d leaked blocks, the program leaked %d marked ones" %
                 (want["pid"], leaked, want["leaked_blocks"]))


h.main_wrapper(main)
