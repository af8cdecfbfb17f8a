"""Record real programs with HEAPTRAIL_UNWIND_CHECK=1, which makes the
preload library walk every stack its fast walk found a second time with
libunwind and print the counts at exit: python3 (allocating from threads
too, and on the heaptrail heap), sqlite3, gcc (the driver, cc1, as), and
the test programs that allocate in signal handlers (stacks the fast walk
hands to libunwind) and that dlopen and dlclose (the walk forgets its
rules). Every stack must be the same both ways, and the big programs must
have been checked at all."""

import os
import re
import sys

import htcheck as h

CHECK_LINE = re.compile(r"heaptrail: unwind check \(pid (\d+)\): (\d+) stacks, (\d+) differ from libunwind")

THREADED_PY = """
import threading
def work(n):
    d = {}
    for i in range(n):
        d["k%d" % i] = [i, str(i)]
    return len(d)
threads = [threading.Thread(target=work, args=(20000,)) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(work(1000))
"""


def checked(args, work, name, argv, stdin=None, env=None, least=1, options=()):
    """Record argv with the check on; return the stacks checked over all its
    processes, failing on any difference."""
    trace = os.path.join(work, name + ".ht")
    full_env = dict(os.environ, HEAPTRAIL_UNWIND_CHECK="1", **(env or {}))
    with open(stdin) if stdin else open(os.devnull) as source:
        proc = h.record(args.heaptrail, trace, argv, options=["-q"] + list(options), env=full_env,
                        cwd=work, stdin=source)
    lines = CHECK_LINE.findall(proc.stderr)
    h.expect(lines, "%s: no unwind check line on stderr\n%s" % (name, proc.stderr[-2000:]))
    stacks = sum(int(n) for _, n, _ in lines)
    differing = [(pid, n, d) for pid, n, d in lines if d != "0"]
    h.expect(not differing, "%s: stacks differ from libunwind's: %r" % (name, differing))
    h.expect(stacks >= least, "%s: only %d stacks checked, expected at least %d" % (name, stacks, least))
    return stacks


def main():
    p = h.common_args(__doc__)
    p.add_argument("--python", required=True)
    p.add_argument("--sqlite3", required=True)
    p.add_argument("--gcc", required=True)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    here = os.path.dirname(os.path.abspath(__file__))
    py_env = {"PYTHONMALLOC": "malloc"}
    checked(args, work, "python", [args.python, os.path.join(here, "workloads", "alloc_heavy.py"),
                                   "20000"], env=py_env, least=100000)
    checked(args, work, "python_threads", [args.python, "-c", THREADED_PY], env=py_env,
            least=300000)
    checked(args, work, "python_heaptrail_heap", [args.python, os.path.join(here, "workloads",
                                                                            "alloc_heavy.py"),
                                                  "20000"], env=py_env, least=100000,
            options=["--heap=heaptrail"])
    checked(args, work, "sqlite", [args.sqlite3, ":memory:"],
            stdin=os.path.join(here, "workloads", "oracle.sql"), least=10000)
    h.run([sys.executable, os.path.join(here, "..", "..", "bench", "workloads", "gen_c.py"),
           os.path.join(work, "gen.c"), "20"])
    checked(args, work, "gcc", [args.gcc, "-O2", "-c", "gen.c", "-o", "gen.o"],
            env={"TMPDIR": work}, least=100000)
    checked(args, work, "signals", [os.path.join(args.programs, "signals")], least=1000)
    checked(args, work, "dlopen", [os.path.join(args.programs, "dlopen"),
                                   os.path.join(args.programs, "libhtdlwork.so")])


h.main_wrapper(main)
