"""Standalone mode: the stress program started with LD_PRELOAD and
HEAPTRAIL_OUTPUT (no `heaptrail record`) starts its own collector, which
writes a complete trace after the program (and its fork child) are gone. The
trace must match the program's own counts exactly, like a recorded one, the
file must be private and %p must become the program's pid. A program sent
to a session that no longer exists runs untraced and says so."""

import json
import os
import subprocess
import time

import htcheck as h


def main():
    p = h.common_args(__doc__)
    p.add_argument("--preload", required=True, type=os.path.abspath,
                   help="libheaptrail-preload.so")
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    stale = dict(os.environ, LD_PRELOAD=args.preload,
                 HEAPTRAIL_SESSION=os.path.join(work, "no-such-session"))
    proc = h.run(["/bin/true"], env=stale)
    h.expect("cannot join the recording session" in proc.stderr,
             "an untraced process said nothing: %r" % proc.stderr)
    env = dict(os.environ)
    env.pop("HEAPTRAIL_SESSION", None)
    env["LD_PRELOAD"] = args.preload
    env["HEAPTRAIL_OUTPUT"] = os.path.join(work, "svc.%p.ht")
    env["HEAPTRAIL_COLLECTOR"] = args.heaptrail
    proc = h.run([os.path.join(args.programs, "stress"), "5000"], env=env)
    own = json.loads(proc.stdout.strip().splitlines()[-1])
    parent, child = own["parent"], own["child"]
    trace = os.path.join(work, "svc.%d.ht" % parent["pid"])

    # The collector outlives the program: wait for it to finish the file.
    deadline = time.time() + 60
    while True:
        info = subprocess.run([args.heaptrail, "info", trace], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if info.returncode == 0 and "complete         yes" in info.stdout:
            break
        h.expect(time.time() < deadline,
                 "no complete trace at %s after 60 s:\n%s%s" % (trace, info.stdout, info.stderr))
        time.sleep(0.2)
    h.expect(os.stat(trace).st_mode & 0o777 == 0o600,
             "%s has mode %o, expected 600" % (trace, os.stat(trace).st_mode & 0o777))

    stats = h.stats_json(args.heaptrail, trace)
    tallies = h.replay(h.dump_rows(args.heaptrail, trace))
    h.check_stats_matches_dump(stats, tallies)
    for who, want in (("parent", parent), ("child", child)):
        t = tallies.get(want["pid"])
        h.expect(t is not None, "%s pid %d has no events in the trace" % (who, want["pid"]))
        h.check_marked(t, want, who)
    h.expect(stats.get("lost_events", 0) == 0, "lost %r events" % stats.get("lost_events"))
    h.expect(sum(a for a in stats["anomalies"].values()) == 0,
             "anomalies: %r" % stats["anomalies"])


h.main_wrapper(main)
