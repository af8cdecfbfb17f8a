"""Call stacks resolve to the right place: the stack_sites program allocates
at four sites of known line (in the program, through an inlined function, in
a linked shared library, in a dlopen'ed library). Recorded with stacks and
read with `dump --format json --stacks`, each site's allocation must show, as
its innermost frame, the site's function, file and line; the inlined site
must show the inlined function, flagged, then the function it was inlined
into at the line of the call. A C++ program's `new` must show the calling
function first, not operator new."""

import json
import os

import htcheck as h


def frame_at(stack, i, where):
    h.expect(stack and len(stack) > i, "%s: stack too short: %s" % (where, json.dumps(stack)))
    return stack[i]


def expect_frame(frame, function, file, line, where):
    got = (frame.get("function"), os.path.basename(frame.get("file") or ""), frame.get("line"))
    h.expect(got == (function, file, line),
             "%s: frame is %s (%s:%s), expected %s (%s:%s)\n%s" %
             (where, got[0], got[1], got[2], function, file, line, json.dumps(frame)))


def main():
    p = h.common_args(__doc__)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "sites.ht")
    prog = os.path.join(args.programs, "stack_sites")
    lib = os.path.join(args.programs, "libstacksites_dl.so")
    proc = h.record(args.heaptrail, trace, [prog, lib], options=["-q"])
    want = json.loads(proc.stdout)
    cxx_trace = os.path.join(work, "cxx.ht")
    proc = h.record(args.heaptrail, cxx_trace, [os.path.join(args.programs, "stack_sites_cxx")],
                    options=["-q"])
    want.update(json.loads(proc.stdout))

    by_size = {}
    for t in (trace, cxx_trace):
        dump = h.run([args.heaptrail, "dump", "--format", "json", "--stacks", "--event", "alloc",
                      t])
        for text in dump.stdout.splitlines():
            ev = json.loads(text)
            by_size.setdefault(ev["size"], ev)
    for site, w in want.items():
        ev = by_size.get(w["size"])
        h.expect(ev is not None, "%s: no allocation of %d bytes" % (site, w["size"]))
        stack = ev.get("stack")
        first = frame_at(stack, 0, site)
        expect_frame(first, w["function"], w["file"], w["line"], site)
        for key in ("function", "file", "line", "module", "inlined"):
            h.expect(key in first, "%s: frame lacks %r: %s" % (site, key, json.dumps(first)))
        if site == "inline":
            h.expect(first["inlined"] is True, "the inlined frame is not flagged: %s" %
                     json.dumps(first))
            expect_frame(frame_at(stack, 1, site), w["caller"], w["file"], w["caller_line"],
                         site + " (caller)")
        else:
            h.expect(first["inlined"] is False, "%s: frame flagged inlined" % site)


h.main_wrapper(main)
