"""`heaptrail record` on bad input: each case is one ctest test.

  unknown-option   an unknown option: exit 2, a usage message, no file made
  missing-command  no command (with and without `--`): exit 2, no file made
  existing-output  an existing -o file without -f: refused, file untouched;
                   with -f: replaced by a trace
  cannot-execute   a missing or non-executable command: "cannot execute", 127
  setuid           a set-user-ID or set-group-ID program: refused with a
                   message, and the program does not run
  mode             the trace is created 0600 even under umask 0, also with the
                   default name heaptrail.<cmd>.<pid>.ht in the working folder
  symlink          an -o path that is a symlink is refused, with and without
                   -f, and the file it points to is neither created nor touched
  disk-full        the disk fills while recording (a 64 KiB tmpfs): exit 1, a
                   message saying how many events the file holds, the program
                   still runs to its end, and the file reads as truncated
                   (skipped, exit 77, where tmpfs cannot be mounted)
"""

import os
import re
import shutil
import stat
import subprocess
import sys

import htcheck as h


def record(args, argv, cwd):
    return h.run([args.heaptrail, "record"] + argv, check=False, cwd=cwd, timeout=60)


def trace_reads(args, path):
    h.run([args.heaptrail, "info", path])


def case_unknown_option(args, work):
    proc = record(args, ["--no-such-option", "--", "/bin/true"], work)
    h.expect(proc.returncode == 2, "exit %s, expected 2\n%s" % (proc.returncode, proc.stderr))
    h.expect(re.search(r"usage|heaptrail help record", proc.stderr, re.I),
             "no usage message on stderr: %r" % proc.stderr)
    h.expect(os.listdir(work) == [], "files were left behind: %s" % os.listdir(work))


def case_missing_command(args, work):
    for argv in ([], ["--"], ["-o", "x.ht"], ["-o", "x.ht", "--"]):
        proc = record(args, argv, work)
        h.expect(proc.returncode == 2, "record %s: exit %s, expected 2\n%s" %
                 (" ".join(argv), proc.returncode, proc.stderr))
        h.expect(proc.stderr.strip(), "record %s: no message" % " ".join(argv))
        h.expect(os.listdir(work) == [], "record %s left files: %s" % (" ".join(argv),
                                                                      os.listdir(work)))


def case_existing_output(args, work):
    path = os.path.join(work, "keep.ht")
    with open(path, "w") as f:
        f.write("precious\n")
    os.utime(path, (1000000000, 1000000000))
    proc = record(args, ["-o", path, "--", "/bin/true"], work)
    h.expect(proc.returncode != 0, "record overwrote an existing file without -f")
    h.expect(proc.stderr.strip(), "refused without a message")
    with open(path) as f:
        h.expect(f.read() == "precious\n", "the existing file was changed")
    h.expect(os.stat(path).st_mtime == 1000000000, "the existing file was touched")
    proc = record(args, ["-f", "-q", "-o", path, "--", "/bin/true"], work)
    h.expect(proc.returncode == 0, "with -f: exit %s\n%s" % (proc.returncode, proc.stderr))
    trace_reads(args, path)


def case_cannot_execute(args, work):
    plain = os.path.join(work, "not-executable")
    with open(plain, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(plain, 0o644)
    for cmd in ([os.path.join(work, "no-such-program")], [plain], ["no-such-program-on-path"]):
        proc = record(args, ["-f", "-o", os.path.join(work, "x.ht"), "--"] + cmd, work)
        h.expect(proc.returncode == 127, "%s: exit %s, expected 127\n%s" %
                 (cmd[0], proc.returncode, proc.stderr))
        h.expect("cannot execute" in proc.stderr, "%s: stderr lacks 'cannot execute': %r" %
                 (cmd[0], proc.stderr))


def case_setuid(args, work):
    # A copy of touch that would leave a marker if it ran. We run as root, so
    # a setuid-root copy is what a careless recorder would happily preload.
    touch = shutil.which("touch")
    h.expect(touch, "no touch(1) to copy")
    for name, bits in (("suid-touch", stat.S_ISUID), ("sgid-touch", stat.S_ISGID)):
        prog = os.path.join(work, name)
        shutil.copy(touch, prog)
        os.chmod(prog, 0o755 | bits)
        marker = os.path.join(work, name + ".ran")
        proc = record(args, ["-f", "-o", os.path.join(work, name + ".ht"), "--", prog, marker],
                      work)
        h.expect(proc.returncode != 0, "%s: recorded a set-id program (exit 0)" % name)
        h.expect(not os.path.exists(marker), "%s: the set-id program ran" % name)
        h.expect(re.search(r"set-?[ug]id|set-(user|group)-id|setuid|setgid", proc.stderr, re.I),
                 "%s: the refusal does not say why: %r" % (name, proc.stderr))


def case_mode(args, work):
    old = os.umask(0)
    try:
        path = os.path.join(work, "mode.ht")
        proc = record(args, ["-q", "-o", path, "--", "/bin/true"], work)
        h.expect(proc.returncode == 0, "exit %s\n%s" % (proc.returncode, proc.stderr))
        mode = stat.S_IMODE(os.stat(path).st_mode)
        h.expect(mode == 0o600, "-o trace has mode %o, expected 600" % mode)
        os.unlink(path)
        proc = record(args, ["-q", "--", "/bin/true"], work)
        h.expect(proc.returncode == 0, "exit %s\n%s" % (proc.returncode, proc.stderr))
        names = os.listdir(work)
        h.expect(len(names) == 1 and re.fullmatch(r"heaptrail\.true\.\d+\.ht", names[0]),
                 "default output name: %s, expected heaptrail.true.<pid>.ht" % names)
        mode = stat.S_IMODE(os.stat(os.path.join(work, names[0])).st_mode)
        h.expect(mode == 0o600, "default trace has mode %o, expected 600" % mode)
        trace_reads(args, os.path.join(work, names[0]))
    finally:
        os.umask(old)


def case_symlink(args, work):
    victim = os.path.join(work, "victim")
    link = os.path.join(work, "link.ht")
    os.symlink(victim, link)  # dangling: a recorder that follows it creates victim
    proc = record(args, ["-q", "-o", link, "--", "/bin/true"], work)
    h.expect(proc.returncode != 0, "record wrote through a dangling symlink")
    h.expect(not os.path.exists(victim), "the symlink was followed: %s created" % victim)
    h.expect(os.path.islink(link), "the symlink itself was replaced")
    with open(victim, "w") as f:
        f.write("precious\n")
    proc = record(args, ["-q", "-f", "-o", link, "--", "/bin/true"], work)
    with open(victim) as f:
        h.expect(f.read() == "precious\n", "-f wrote through the symlink into its target")
    h.expect(proc.returncode != 0, "-f on a symlink output was not refused")


def case_disk_full(args, work):
    small = os.path.join(work, "small")
    os.mkdir(small)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small],
                      stderr=subprocess.DEVNULL).returncode != 0:
        print("SKIP: cannot mount a small tmpfs here")
        sys.exit(77)
    try:
        trace = os.path.join(small, "full.ht")
        marker = os.path.join(work, "done")
        proc = record(args, ["-o", trace, "--", "sh", "-c",
                             "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; "
                             "seq 1 200000 | sort -n >/dev/null; touch '%s'" % marker], work)
        h.expect(proc.returncode == 1, "exit %s, expected 1\n%s" % (proc.returncode, proc.stderr))
        h.expect(re.search(r"cannot write .*No space left on device; it holds \d+ of the \d+ "
                           r"events", proc.stderr), "no useful message:\n%s" % proc.stderr)
        h.expect(os.path.exists(marker), "the program did not run to its end")
        info = h.run([args.heaptrail, "info", trace])
        h.expect("truncated" in info.stdout + info.stderr,
                 "the cut file does not read as truncated:\n%s%s" % (info.stdout, info.stderr))
    finally:
        subprocess.run(["umount", small])


CASES = {
    "unknown-option": case_unknown_option,
    "missing-command": case_missing_command,
    "existing-output": case_existing_output,
    "cannot-execute": case_cannot_execute,
    "setuid": case_setuid,
    "mode": case_mode,
    "symlink": case_symlink,
    "disk-full": case_disk_full,
}


def main():
    p = h.common_args(__doc__)
    p.add_argument("case", choices=sorted(CASES))
    args = p.parse_args()
    CASES[args.case](args, h.fresh_dir(args.workdir))


h.main_wrapper(main)
