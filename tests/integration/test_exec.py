"""Record the exec chain (fork+exec of /bin/true, fork+exec, posix_spawn and
vfork+exec of itself): `heaptrail record` must exit with the program's status
(7), stats must list exactly the top process and its four children with
their parent pid and command, and each leaf's marked allocations and frees
must be exactly its own. With --no-follow, only the top process is traced."""

import json
import os

import htcheck as h


def main():
    p = h.common_args(__doc__)
    p.add_argument("--no-follow", action="store_true")
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "exec.ht")
    options = ["-q"] + (["--no-follow"] if args.no_follow else [])
    proc = h.record(args.heaptrail, trace, [os.path.join(args.programs, "execchain"), "top"],
                    options=options, expect_status=7)
    own = json.loads(proc.stdout.strip().splitlines()[-1])
    top = own["pid"]
    stats = h.stats_json(args.heaptrail, trace)
    tallies = h.replay(h.dump_rows(args.heaptrail, trace))
    h.check_stats_matches_dump(stats, tallies)

    pids = set(x.get("pid") for x in stats["processes"])
    want = {top} if args.no_follow else {top} | set(c["pid"] for c in own["children"])
    h.expect(pids == want, "stats lists pids %s, expected %s" % (sorted(pids), sorted(want)))

    tp = h.stats_processes(stats, top)
    h.expect("execchain top" in h.command_of(tp[-1]),
             "top command in stats: %r" % h.command_of(tp[-1]))
    h.check_marked(tallies[top], {"allocs": own["allocs"], "frees": own["frees"],
                                  "leaked_blocks": 0}, "top")
    if args.no_follow:
        return
    for c in own["children"]:
        procs = h.stats_processes(stats, c["pid"])
        # After exec the child may be listed once, or once per image; the
        # last image is the one that must carry the new command.
        h.expect(any(x.get("ppid") == top for x in procs),
                 "%s child %d: ppid %r, expected %d" % (c["how"], c["pid"],
                                                        [x.get("ppid") for x in procs], top))
        cmd = h.command_of(procs[-1])
        h.expect(c["command"] in cmd or (c["command"] == "true" and cmd.endswith("true")),
                 "%s child %d: command %r, expected it to contain %r" %
                 (c["how"], c["pid"], cmd, c["command"]))
        t = tallies.get(c["pid"]) or h.Tally(c["pid"])
        h.check_marked(t, {"allocs": c["marked"], "frees": c["marked"], "leaked_blocks": 0},
                       c["how"] + " child")
        h.expect(t.starts >= 1, "%s child %d: no process_start event" % (c["how"], c["pid"]))


h.main_wrapper(main)
