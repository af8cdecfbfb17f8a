"""SIGKILL the traced program in the middle of its work: `heaptrail record`
must exit 137 (128 + SIGKILL), the trace must read cleanly (info and stats
succeed, nothing truncated or lost: the collector, not the killed program,
owns the file), and it must hold every allocation the program had completed
and published before it died: at least the last published count of marked
ALLOC events, and at most 256 more (the program publishes every 256)."""

import os
import signal
import subprocess
import time

import htcheck as h


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None


def main():
    p = h.common_args(__doc__)
    p.add_argument("--at-least", type=int, default=100000,
                   help="kill once the program has published this many allocations")
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "kill9.ht")
    pidfile = os.path.join(work, "pid")
    progfile = os.path.join(work, "progress")
    cmd = [args.heaptrail, "record", "-q", "-f", "-o", trace, "--",
           os.path.join(args.programs, "progress"), pidfile, progfile]
    with open(os.path.join(work, "record.err"), "w+") as err:
        rec = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 60  # hang protection, not a measurement
        while True:
            if rec.poll() is not None:
                err.seek(0)
                h.fail("record ended (status %s) before the kill:\n%s" % (rec.returncode,
                                                                        err.read()[-2000:]))
            n = read_int(progfile)
            if n is not None and n >= args.at_least:
                break
            if time.monotonic() > deadline:
                rec.kill()
                h.fail("the traced program published %r allocations, never %d" %
                       (n, args.at_least))
            time.sleep(0.02)
        pid = read_int(pidfile)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            h.expect(b"progress" in f.read(), "pid %d is not the traced program" % pid)
        os.kill(pid, signal.SIGKILL)
        try:
            status = rec.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rec.kill()
            h.fail("record did not finish within 60 s of the traced program's death")
        err.seek(0)
        err_text = err.read()
    h.expect(status == 137, "record exited %s, expected 137 (128 + SIGKILL); stderr:\n%s" %
             (status, err_text[-2000:]))
    published = read_int(progfile)

    h.run([args.heaptrail, "info", trace])
    stats = h.stats_json(args.heaptrail, trace)
    h.expect(not stats.get("truncated"), "the trace is truncated")
    h.expect(stats.get("lost_events", 0) == 0, "%r events lost" % stats.get("lost_events"))
    h.expect(h.stats_processes(stats, pid), "stats has no process %d" % pid)
    tallies = h.replay(h.dump_rows(args.heaptrail, trace))
    h.check_stats_matches_dump(stats, tallies)
    t = tallies.get(pid)
    got = t.m_allocs if t else 0
    h.expect(published <= got <= published + 256,
             "the trace holds %d marked allocations of pid %d; the program had published %d "
             "before SIGKILL (expected %d..%d)" % (got, pid, published, published,
                                                   published + 256))
    print("published %d, traced %d" % (published, got))


h.main_wrapper(main)
