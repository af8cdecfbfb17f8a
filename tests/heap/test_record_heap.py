"""`heaptrail record --heap=heaptrail`: the program runs on the heaptrail
heap and the trace carries its true Source values and its heap events. A
trace of python3 must show all four allocation paths (lookaside, lowfrag,
mainpath, slowpath), the process heap's Create and Expand events, and heap
events that replay without a fault: no block handed out while live, every
REALLOC's old size the size its block had."""

import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import htcheck as h  # noqa: E402

PY_WORK = r"""
import json, threading
d = {str(i): [i] * (i % 50) for i in range(20000)}
s = json.dumps(d)
def work():
    keep = [bytearray(i % 5000) for i in range(20000)]
    return len(keep)
ts = [threading.Thread(target=work) for _ in range(3)]
[t.start() for t in ts]
[t.join() for t in ts]
big = bytearray(6 << 20)
print(len(s), len(big))
"""


DOUBLE_FREE = r"""
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
p = libc.malloc(100)
libc.free(p)
libc.free(p)
print(hex(p))
"""


HEAPS = r"""
import ctypes
lib = ctypes.CDLL(None)  # the preloaded heap exports its API too
lib.ht_heap_create.restype = ctypes.c_void_p
lib.ht_heap_create.argtypes = [ctypes.c_uint, ctypes.c_size_t, ctypes.c_size_t]
lib.ht_heap_alloc.restype = ctypes.c_void_p
lib.ht_heap_alloc.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t]
lib.ht_heap_free.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p]
lib.ht_heap_compact.argtypes = [ctypes.c_void_p, ctypes.c_uint]
lib.ht_heap_destroy.argtypes = [ctypes.c_void_p]
heap = lib.ht_heap_create(0, 0, 0)
blocks = [lib.ht_heap_alloc(heap, 0, 900 << 10) for _ in range(8)]
for b in blocks:
    lib.ht_heap_free(heap, 0, b)
lib.ht_heap_compact(heap, 0)
lib.ht_heap_destroy(heap)
print(hex(heap))
"""


def heap_events(args, work, python):
    """A heap created, grown past its first region, emptied, compacted and
    destroyed: Create, Expand, Contract, SnapShot and Destroy, in that order,
    all naming it."""
    trace = os.path.join(work, "heaps.ht")
    env = dict(os.environ, HEAPTRAIL_MALLOC=args.malloc)
    proc = h.record(args.heaptrail, trace, [python, "-c", HEAPS], options=["--heap=heaptrail"], env=env)
    heap = int(proc.stdout.split()[-1], 16)
    seen = [r["event"] for r in h.dump_rows(args.heaptrail, trace)
            if r["event"].startswith("heap_") and int(r["heap"] or "0", 0) == heap]
    h.expect(seen[:1] == ["heap_create"] and seen[-1:] == ["heap_destroy"],
             "heap %#x: events %r" % (heap, seen))
    for want in ("heap_expand", "heap_contract", "heap_snapshot"):
        h.expect(want in seen, "heap %#x has no %s: %r" % (heap, want, seen))
    h.expect(seen.index("heap_expand") < seen.index("heap_contract") < seen.index("heap_destroy"),
             "heap %#x: events out of order %r" % (heap, seen))


def bad_pointers(args, work, python):
    """A double free: reported with heap, address and what is wrong; fatal by
    default; with HEAPTRAIL_HEAP_ERRORS=report the program goes on and the
    trace holds the FREE with Source invalid."""
    env = dict(os.environ, LD_PRELOAD=args.malloc)
    proc = h.run([python, "-c", DOUBLE_FREE], check=False, env=env)
    h.expect(proc.returncode == -6, "a double free did not abort: %s" % h.describe([python], proc))
    h.expect("double free" in proc.stderr and "HeapFree(0x" in proc.stderr,
             "no message naming the double free: %r" % proc.stderr)

    trace = os.path.join(work, "double-free.ht")
    env = dict(os.environ, HEAPTRAIL_MALLOC=args.malloc, HEAPTRAIL_HEAP_ERRORS="report")
    proc = h.record(args.heaptrail, trace, [python, "-c", DOUBLE_FREE], options=["--heap=heaptrail"], env=env)
    address = int(proc.stdout.split()[-1], 16)
    h.expect("HeapFree(%#x): double free" % address in proc.stderr, "no report: %r" % proc.stderr)
    frees = [r for r in h.dump_rows(args.heaptrail, trace) if r["event"] == "free" and r["address"] == address]
    h.expect([r["source"] for r in frees][-2:] == ["lookaside", "invalid"],
             "the two frees of %#x are %r" % (address, frees))


def main():
    p = h.common_args(__doc__)
    p.add_argument("--malloc", required=True, type=os.path.abspath, help="libheaptrail-malloc.so")
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    # The python3 executable itself, not a wrapper script that would run in a
    # shell first.
    python = os.path.realpath(sys.executable)
    trace = os.path.join(work, "py.ht")
    env = dict(os.environ, HEAPTRAIL_MALLOC=args.malloc)
    proc = h.record(args.heaptrail, trace, [python, "-c", PY_WORK], options=["--heap=heaptrail"], env=env)
    printed = proc.stdout.split()
    h.expect(len(printed) == 2 and printed[1] == str(6 << 20), "the program printed %r" % proc.stdout)

    rows = h.dump_rows(args.heaptrail, trace)
    python_pids = {r["pid"] for r in rows if r["event"] == "alloc"}
    h.expect(len(python_pids) == 1, "expected one process, got %r" % python_pids)
    sources = {}
    heaps = set()
    for r in rows:
        if r["event"] in ("alloc", "realloc"):
            sources[r["source"]] = sources.get(r["source"], 0) + 1
            heaps.add(r["heap"])
    for want in ("lookaside", "lowfrag", "mainpath", "slowpath"):
        h.expect(sources.get(want, 0) > 0, "no allocation from %s: %r" % (want, sources))
    h.expect(len(heaps) == 1, "python's blocks should all come from its process heap: %r" % heaps)
    events = {r["event"] for r in rows}
    for want in ("heap_create", "heap_expand", "heap_snapshot"):
        h.expect(want in events, "no %s event in %r" % (want, sorted(events)))
    creates = [r for r in rows if r["event"] == "heap_create"]
    h.expect(creates[0]["heap"] in heaps, "the process heap's Create names another heap")

    tallies = h.replay(rows)
    for pid, t in tallies.items():
        h.expect(not t.problems, "pid %d: %s" % (pid, "; ".join(t.problems)))

    stats = h.stats_json(args.heaptrail, trace)
    h.expect(stats is not None, "no stats")

    heap_events(args, work, python)
    bad_pointers(args, work, python)


if __name__ == "__main__":
    h.main_wrapper(main)
