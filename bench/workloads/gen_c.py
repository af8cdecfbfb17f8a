"""Write the C file the gcc workload of the benchmarks compiles: many small
functions with loops and switches, so that cc1 works for a second or two."""
import sys

out = ["#include <string.h>", "struct rec { int id; double w; char name[16]; };"]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
for i in range(n):
    out.append("""static int f%(i)d(const struct rec *r, int n)
{
    int acc = %(i)d;
    for (int k = 0; k < n; k++) {
        switch ((k + %(i)d) %% 5) {
        case 0: acc += r[k].id * %(j)d; break;
        case 1: acc ^= (int)(r[k].w * %(i)d.5); break;
        case 2: acc -= (int)strlen(r[k].name); break;
        default: acc += k << (%(i)d %% 7);
        }
    }
    return acc;
}""" % {"i": i, "j": i + 1})
out.append("int run_all(const struct rec *r, int n);")
out.append("int run_all(const struct rec *r, int n)\n{\n    int s = 0;")
out += ["    s += f%d(r, n);" % i for i in range(n)]
out.append("    return s;\n}\n")
with open(sys.argv[1], "w") as f:
    f.write("\n".join(out))
