"""Shared helpers of the integration tests: run the heaptrail CLI, read its
`stats --json` and `dump --format csv` output, and replay a dump to count what
each process did.

Only the Python 3 standard library is used. Every helper fails loudly with
the command line and its output, so that a failing test says why.
"""

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys

# Marked sizes: the same three numbers as tests/programs/marked.h.
MARK_REM = 777
MARK_MOD = 1009
MARK_SLOTS = 16
MARK_MAX = MARK_REM + MARK_MOD * (MARK_SLOTS - 1)

# Hang protection only: a test never asserts on time, but a recorder that
# deadlocks must fail the test instead of blocking the suite.
DEFAULT_TIMEOUT = 120


def is_marked(size):
    return MARK_REM <= size <= MARK_MAX and size % MARK_MOD == MARK_REM


class TestFailure(Exception):
    pass


def fail(msg):
    raise TestFailure(msg)


def expect(cond, msg):
    if not cond:
        fail(msg)


def main_wrapper(fn):
    """Run fn(args), turn TestFailure into exit status 1 with a message."""
    try:
        fn()
    except TestFailure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    print("PASS")


def common_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--heaptrail", required=True, type=os.path.abspath,
                   help="the heaptrail binary")
    p.add_argument("--programs", type=os.path.abspath, help="folder of the built test programs")
    p.add_argument("--workdir", required=True, type=os.path.abspath,
                   help="scratch folder, emptied first")
    return p


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def describe(cmd, proc):
    out = proc.stdout if isinstance(proc.stdout, str) else ""
    err = proc.stderr if isinstance(proc.stderr, str) else ""
    return "command: %s\nexit status: %s\nstdout (tail):\n%s\nstderr (tail):\n%s" % (
        " ".join(cmd), proc.returncode, out[-3000:], err[-3000:])


def run(cmd, timeout=DEFAULT_TIMEOUT, check=True, **kw):
    """Run a command, capture text output; with check, require exit 0."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    try:
        proc = subprocess.run(cmd, timeout=timeout, text=True, **kw)
    except subprocess.TimeoutExpired:
        fail("no answer within %d s (hang?): %s" % (timeout, " ".join(cmd)))
    if check and proc.returncode != 0:
        fail("command failed\n" + describe(cmd, proc))
    return proc


def record(heaptrail, trace, cmd, options=(), expect_status=0, **kw):
    """heaptrail record -f -o TRACE OPTIONS -- CMD; returns the CompletedProcess.
    The exit status must be expect_status (record passes on CMD's)."""
    full = [heaptrail, "record", "-f", "-o", trace] + list(options) + ["--"] + list(cmd)
    proc = run(full, check=False, **kw)
    if expect_status is not None and proc.returncode != expect_status:
        fail("record exited %s, expected %s\n%s" % (proc.returncode, expect_status,
                                                    describe(full, proc)))
    return proc


def stats_json(heaptrail, trace):
    cmd = [heaptrail, "stats", "--json", trace]
    proc = run(cmd)
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        fail("stats --json is not JSON (%s)\n%s" % (e, describe(cmd, proc)))


DUMP_HEADER = ["time_ns", "pid", "tid", "event", "heap", "address", "size", "old_address",
               "old_size", "source"]


def _int(text):
    return int(text, 0) if text else 0


def dump_rows(heaptrail, trace):
    """The events of `dump --format csv`, as dicts with integer fields."""
    cmd = [heaptrail, "dump", "--format", "csv", trace]
    proc = run(cmd, timeout=300)
    reader = csv.reader(io.StringIO(proc.stdout))
    header = next(reader, None)
    expect(header is not None and header[:len(DUMP_HEADER)] == DUMP_HEADER,
           "dump header is %r, expected it to start with %r" % (header, DUMP_HEADER))
    rows = []
    for n, fields in enumerate(reader, start=2):
        if not fields:
            continue
        r = dict(zip(header, fields))
        try:
            for key in ("time_ns", "pid", "tid", "address", "size", "old_address", "old_size"):
                r[key] = _int(r.get(key, ""))
        except ValueError:
            fail("dump line %d is not numeric where it should be: %r" % (n, fields))
        rows.append(r)
    return rows


class Tally:
    """What one pid did, replayed from the dump."""

    def __init__(self, pid):
        self.pid = pid
        self.events = {"alloc": 0, "free": 0, "realloc": 0}
        self.free_null = 0
        self.starts = 0
        self.m_allocs = self.m_frees = self.m_reallocs = self.m_bytes = 0
        self.live = {}  # address -> [(size, marked), ...], oldest first; reset by exec
        self.problems = []  # faults that touch marked blocks

    @property
    def m_leaked(self):
        return sum(1 for blocks in self.live.values() for size, marked in blocks if marked)

    def problem(self, text):
        if len(self.problems) < 20:
            self.problems.append(text)

    def add(self, addr, size):
        blocks = self.live.setdefault(addr, [])
        if blocks:
            self.problem("%#x handed out while still live" % addr)
        blocks.append((size, is_marked(size)))

    def remove(self, addr):
        blocks = self.live.get(addr)
        if not blocks:
            return None
        block = blocks.pop(0)
        if not blocks:
            del self.live[addr]
        return block


def replay(rows):
    """Replay the heap events per pid in file order. Returns {pid: Tally}.

    Marked counting follows the trace's rules: a marked ALLOC or REALLOC is
    one alloc (and a REALLOC one free as well); a FREE counts as marked when
    the block it releases was marked. A fork child starts with an empty map:
    the test programs never free a block their parent made.

    File order, not time order: the recorder puts a REALLOC that moved a
    block before another thread's ALLOC of the block it released, even when
    that ALLOC was stamped while the realloc call was still returning. In
    file order every FREE and REALLOC must find its block live, no address
    may be handed out while live, and a REALLOC's OldSize must be the size
    the block had; each of these is a fault."""
    tallies = {}
    for r in rows:
        t = tallies.get(r["pid"])
        if t is None:
            t = tallies[r["pid"]] = Tally(r["pid"])
        ev = r["event"]
        if ev == "process_start":
            t.starts += 1
            t.live = {}  # a new image after exec: a new address space
            continue
        if ev not in t.events:
            continue
        t.events[ev] += 1
        addr, size = r["address"], r["size"]
        if ev == "alloc":
            t.add(addr, size)
            if is_marked(size):
                t.m_allocs += 1
                t.m_bytes += size
        elif ev == "free":
            if addr == 0:
                t.free_null += 1
                continue
            old = t.remove(addr)
            if old and old[1]:
                t.m_frees += 1
        else:  # realloc
            old = t.remove(r["old_address"])
            if old is not None and old[0] != r["old_size"]:
                t.problem("realloc at %d ns of %#x says old size %d, the block had %d" %
                          (r["time_ns"], r["old_address"], r["old_size"], old[0]))
            if is_marked(size):
                if old is None:
                    t.problem("realloc of unknown block %#x at %d ns" % (r["old_address"],
                                                                       r["time_ns"]))
                elif not old[1]:
                    t.problem("realloc at %d ns of unmarked block %#x to marked size %d" %
                              (r["time_ns"], r["old_address"], size))
                t.m_allocs += 1
                t.m_frees += 1
                t.m_reallocs += 1
                t.m_bytes += size
            elif old and old[1]:
                t.problem("realloc at %d ns moved marked block %#x to unmarked size %d" %
                          (r["time_ns"], r["old_address"], size))
            t.add(addr, size)
    for t in tallies.values():
        for addr, blocks in t.live.items():
            if len(blocks) > 1 and any(marked for size, marked in blocks):
                t.problem("%d blocks still live at %#x at the end" % (len(blocks), addr))
    return tallies


def stats_processes(stats, pid):
    return [p for p in stats.get("processes", []) if p.get("pid") == pid]


def check_stats_matches_dump(stats, tallies):
    """stats and dump read the same file: their per-process event counts, and
    the totals, must agree exactly."""
    errors = []
    expect(isinstance(stats.get("processes"), list) and stats["processes"],
           "stats has no processes: %s" % json.dumps(stats)[:2000])
    pids = set(p.get("pid") for p in stats["processes"])
    for pid, t in tallies.items():
        if pid not in pids and any(t.events.values()):
            errors.append("pid %d has heap events in the dump but no entry in stats" % pid)
    totals = {"alloc": 0, "free": 0, "realloc": 0}
    for pid in pids:
        procs = stats_processes(stats, pid)
        t = tallies.get(pid) or Tally(pid)
        for kind in totals:
            got = sum(p.get("events", {}).get(kind, 0) for p in procs)
            totals[kind] += got
            if got != t.events[kind]:
                errors.append("pid %d: stats says %d %s events, the dump has %d" %
                              (pid, got, kind, t.events[kind]))
    top = stats.get("events")
    if isinstance(top, dict):
        for kind, n in totals.items():
            if top.get(kind) != n:
                errors.append("stats totals say %s %s events, its processes add up to %d" %
                              (top.get(kind), kind, n))
    else:
        errors.append("stats has no top-level events totals")
    if errors:
        fail("stats and dump disagree:\n  " + "\n  ".join(errors))


def check_marked(t, want, who):
    """Compare a process's marked counts from the dump with what the program
    said it did (a dict with allocs, frees, reallocs, bytes, leaked_blocks;
    missing keys are not compared)."""
    got = {"allocs": t.m_allocs, "frees": t.m_frees, "reallocs": t.m_reallocs,
           "bytes": t.m_bytes, "leaked_blocks": t.m_leaked}
    diffs = ["%s: trace %d, program %d" % (k, got[k], want[k])
             for k in got if k in want and got[k] != want[k]]
    if t.problems:
        diffs.append("faults: " + "; ".join(t.problems))
    if t.free_null:
        diffs.append("%d FREE events of address 0 (free(NULL) must leave none)" % t.free_null)
    if diffs:
        fail("%s (pid %d): the trace does not match the program's own counts:\n  %s" %
             (who, t.pid, "\n  ".join(diffs)))


def command_of(proc):
    c = proc.get("command", "")
    return " ".join(c) if isinstance(c, list) else str(c)
