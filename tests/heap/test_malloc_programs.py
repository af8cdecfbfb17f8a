"""Real programs run unchanged on the heaptrail heap: python3 (with its own
small-object allocator and with PYTHONMALLOC=malloc), sqlite3, gcc and g++
(the compiler proper and the C++ operators), and git must print exactly what
they print on glibc's malloc, and exit the same way."""

import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import htcheck as h  # noqa: E402

PY_WORK = r"""
import collections, json, re, threading, hashlib
d = {str(i): [i] * (i % 50) for i in range(30000)}
s = json.dumps(d, sort_keys=True)
words = re.findall(r"\d+", s)
top = collections.Counter(words).most_common(5)
def work(n, out):
    blobs = [bytes(range(i % 256)) * (i % 40) for i in range(n)]
    out.append(hashlib.sha256(b"".join(blobs)).hexdigest())
out = []
ts = [threading.Thread(target=work, args=(3000 + k, out)) for k in range(6)]
[t.start() for t in ts]
[t.join() for t in ts]
big = bytearray(8 << 20)
big[-1] = 7
print(len(s), len(words), top, sorted(out), sum(big))
"""

PY_LIMITED = r"""
import json
d = {str(i): [i] * (i % 50) for i in range(30000)}
print(len(json.dumps(d, sort_keys=True)))
"""

SQL = """
create table t(id integer primary key, name text, blob blob);
insert into t(name, blob) select printf('n%08d', value), randomblob(value % 700)
  from generate_series(1, 60000);
create index t_name on t(name);
select count(*), sum(length(blob)), min(name), max(name) from t;
delete from t where id % 3 = 0;
vacuum;
select count(*), sum(length(blob)) from t;
select name from t order by name desc limit 3;
"""

CXX = r"""
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <iostream>
struct alignas(64) Wide { double v[8]; };
int main() {
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 50000; i++) m[std::to_string(i % 5000)].push_back(i);
    std::vector<std::unique_ptr<Wide>> w;
    for (int i = 0; i < 1000; i++) w.push_back(std::make_unique<Wide>());
    size_t aligned = 0;
    for (auto &p : w) aligned += reinterpret_cast<uintptr_t>(p.get()) % 64 == 0;
    std::cout << m.size() << " " << m["42"].size() << " " << aligned << "\n";
}
"""


def same(name, cmd, env_extra, malloc_lib, cwd=None, outputs=()):
    """Run cmd on glibc and on the heaptrail heap; stdout, stderr, the exit
    status and any output files must match."""
    results = []
    for preload in (None, malloc_lib):
        env = dict(os.environ, **env_extra)
        env.pop("LD_PRELOAD", None)
        if preload:
            env["LD_PRELOAD"] = preload
        proc = h.run(cmd, check=False, env=env, cwd=cwd, timeout=600)
        files = []
        for path in outputs:
            with open(path, "rb") as f:
                files.append(f.read())
            os.unlink(path)
        results.append((proc.returncode, proc.stdout, proc.stderr, files))
    glibc, ours = results
    h.expect(glibc[0] == 0, "%s failed on glibc: %r" % (name, glibc[2][-2000:]))
    h.expect(glibc[1] or all(glibc[3]) or name == "git fsck", "%s did no visible work" % name)
    h.expect(ours[:3] == glibc[:3],
             "%s differs on the heaptrail heap:\nglibc: %r\nheaptrail: %r" % (name, glibc[:3], ours[:3]))
    h.expect(ours[3] == glibc[3], "%s wrote different files on the heaptrail heap" % name)


def main():
    p = h.common_args(__doc__)
    p.add_argument("--malloc", required=True, type=os.path.abspath, help="libheaptrail-malloc.so")
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    python = shutil.which("python3")

    same("python3", [python, "-c", PY_WORK], {}, args.malloc)
    same("python3 (PYTHONMALLOC=malloc)", [python, "-c", PY_WORK], {"PYTHONMALLOC": "malloc"}, args.malloc)
    # Under an address-space limit (ulimit -v, as some sandboxes set): the
    # heap must not reserve more address space than it uses.
    limited = 'ulimit -v 400000 && exec "$0" -c "$1"'
    same("python3 under ulimit -v", ["sh", "-c", limited, python, PY_LIMITED], {"PYTHONMALLOC": "malloc"},
         args.malloc)

    sql = os.path.join(work, "work.sql")
    with open(sql, "w") as f:
        f.write(SQL)
    with open(sql) as f:
        script = f.read()
    same("sqlite3", ["sqlite3", ":memory:", "-cmd", ".read " + sql], {}, args.malloc)
    h.expect(script == SQL, "the SQL script changed")

    src = os.path.join(work, "gen.c")
    gen = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "workloads", "gen_c.py")
    h.run([python, gen, src, "200"])
    obj = os.path.join(work, "gen.o")
    same("gcc", ["gcc", "-O2", "-c", src, "-o", obj], {}, args.malloc, outputs=[obj])

    cxx = os.path.join(work, "prog.cpp")
    with open(cxx, "w") as f:
        f.write(CXX)
    exe = os.path.join(work, "prog")
    same("g++", ["g++", "-O1", "-std=c++17", cxx, "-o", exe], {}, args.malloc, outputs=[])
    same("a C++ program", [exe], {}, args.malloc)

    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    git_env = {"GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z",
               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
               "HOME": work, "GIT_CONFIG_NOSYSTEM": "1"}
    env = dict(os.environ, **git_env)
    h.run(["git", "init", "-q", "-b", "main", repo], env=env)
    for i in range(40):
        with open(os.path.join(repo, "f%02d.txt" % i), "w") as f:
            f.write("".join("line %d of file %d\n" % (k, i) for k in range(i * 50)))
        h.run(["git", "add", "."], env=env, cwd=repo)
        h.run(["git", "commit", "-q", "-m", "commit %d" % i], env=env, cwd=repo)
    same("git log", ["git", "log", "--stat", "-p"], git_env, args.malloc, cwd=repo)
    same("git fsck", ["git", "fsck", "--full", "--strict"], git_env, args.malloc, cwd=repo)
    same("git diff", ["git", "diff", "--stat", "HEAD~30", "HEAD"], git_env, args.malloc, cwd=repo)


if __name__ == "__main__":
    h.main_wrapper(main)
