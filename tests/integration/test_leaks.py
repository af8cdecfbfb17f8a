"""Leak reports: the leaky program leaks marked blocks from two sites of known
line, frees others from the same sites, and forks a child that leaks one
block. `leaks --json` must show each site's group with its exact blocks and
bytes and the site as innermost frame, the child's leak under the child's
pid, and totals that add up; `--error-exitcode` must fail on the leaks; a
suppression file naming a site must move its group to the suppressed
totals; a bad suppression file must be refused naming its line; and
`--no-suppress` must show at least the groups shown without it."""

import json
import os

import htcheck as h


def leaks_json(heaptrail, trace, options=(), expect_status=0):
    cmd = [heaptrail, "leaks", "--json"] + list(options) + [trace]
    proc = h.run(cmd, check=False)
    h.expect(proc.returncode == expect_status, "leaks exited %s, expected %s\n%s" %
             (proc.returncode, expect_status, h.describe(cmd, proc)))
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        h.fail("leaks --json is not JSON (%s)\n%s" % (e, h.describe(cmd, proc)))


def group_of(report, pid, size, function):
    """The group of pid whose blocks have the marked size and whose innermost
    frame is function."""
    for g in report["groups"]:
        stack = g.get("stack") or []
        if (g["pid"] == pid and g["blocks"] and g["bytes"] % size == 0 and
                g["bytes"] // size == g["blocks"] and stack and
                stack[0].get("function") == function):
            return g
    return None


def check_totals(report, where):
    groups = report["groups"]
    h.expect(report["leaked_bytes"] == sum(g["bytes"] for g in groups),
             "%s: leaked_bytes %d is not the sum of the groups' bytes" %
             (where, report["leaked_bytes"]))
    h.expect(report["leaked_blocks"] == sum(g["blocks"] for g in groups),
             "%s: leaked_blocks %d is not the sum of the groups' blocks" %
             (where, report["leaked_blocks"]))
    sizes = [g["bytes"] for g in groups]
    h.expect(sizes == sorted(sizes, reverse=True), "%s: groups not largest first" % where)
    for key in ("suppressed_blocks", "suppressed_bytes"):
        h.expect(isinstance(report.get(key), int), "%s: no %s" % (where, key))


def expect_site(report, pid, site, file, where):
    g = group_of(report, pid, site["size"], site["function"])
    h.expect(g is not None, "%s: no group of pid %d for %s (%d-byte blocks)\n%s" %
             (where, pid, site["function"], site["size"], json.dumps(report, indent=1)))
    h.expect((g["blocks"], g["bytes"]) == (site["blocks"], site["blocks"] * site["size"]),
             "%s: %s leaked %d blocks, %d bytes; expected %d, %d" %
             (where, site["function"], g["blocks"], g["bytes"], site["blocks"],
              site["blocks"] * site["size"]))
    first = g["stack"][0]
    for key in ("function", "file", "line", "module", "inlined"):
        h.expect(key in first, "%s: frame lacks %r: %s" % (where, key, json.dumps(first)))
    got = (os.path.basename(first["file"] or ""), first["line"])
    h.expect(got == (file, site["line"]), "%s: %s is at %s:%s, expected %s:%d" %
             (where, site["function"], got[0], got[1], file, site["line"]))
    return g


def main():
    p = h.common_args(__doc__)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "leaky.ht")
    proc = h.record(args.heaptrail, trace, [os.path.join(args.programs, "leaky")],
                    options=["-q"])
    want = json.loads(proc.stdout)

    report = leaks_json(args.heaptrail, trace)
    check_totals(report, "leaks")
    for site in want["sites"]:
        expect_site(report, want["pid"], site, want["file"], "leaks")
    child = want["child"]
    expect_site(report, child["pid"], child, want["file"], "leaks (child)")
    h.expect(group_of(report, want["pid"], child["size"], child["function"]) is None,
             "the child's leak is reported under the parent")

    # CI use: leaks remain, so the chosen status comes back.
    leaks_json(args.heaptrail, trace, ["--error-exitcode", "7"], expect_status=7)

    # A suppression file naming one site moves its group to the suppressed totals.
    small = want["sites"][0]
    supp = os.path.join(work, "leaky.supp")
    with open(supp, "w") as f:
        f.write("# the small site is known\n\n  %s  \n" % small["function"])
    quiet = leaks_json(args.heaptrail, trace, ["--suppressions", supp])
    check_totals(quiet, "--suppressions")
    h.expect(group_of(quiet, want["pid"], small["size"], small["function"]) is None,
             "the suppressed site still shows")
    expect_site(quiet, want["pid"], want["sites"][1], want["file"], "--suppressions")
    small_bytes = small["blocks"] * small["size"]
    h.expect(quiet["suppressed_bytes"] == report["suppressed_bytes"] + small_bytes and
             quiet["suppressed_blocks"] == report["suppressed_blocks"] + small["blocks"],
             "the suppressed site is not counted as suppressed: %d bytes before, %d after" %
             (report["suppressed_bytes"], quiet["suppressed_bytes"]))
    h.expect(quiet["leaked_bytes"] == report["leaked_bytes"] - small_bytes,
             "leaked_bytes did not drop by the suppressed site's bytes")

    # A bad pattern is refused, naming the file and the line.
    bad = os.path.join(work, "bad.supp")
    with open(bad, "w") as f:
        f.write("# fine\nmain\nleak_[small\n")
    cmd = [args.heaptrail, "leaks", "--suppressions", bad, trace]
    proc = h.run(cmd, check=False)
    h.expect(proc.returncode == 2 and "%s:3" % bad in proc.stderr,
             "a bad suppression file is not refused at its line\n" + h.describe(cmd, proc))

    everything = leaks_json(args.heaptrail, trace, ["--no-suppress"])
    check_totals(everything, "--no-suppress")
    h.expect(everything["suppressed_bytes"] == 0 and everything["suppressed_blocks"] == 0,
             "--no-suppress still suppressed something")
    h.expect(len(everything["groups"]) >= len(report["groups"]),
             "--no-suppress shows fewer groups (%d) than the default (%d)" %
             (len(everything["groups"]), len(report["groups"])))
    h.expect(everything["leaked_bytes"] == report["leaked_bytes"] + report["suppressed_bytes"],
             "--no-suppress does not add up to leaked + suppressed")

    # The text report names the sites too.
    text = h.run([args.heaptrail, "leaks", trace]).stdout
    for site in want["sites"]:
        h.expect("%s (" % site["function"] in text, "the text report lacks %s\n%s" %
                 (site["function"], text))


h.main_wrapper(main)
