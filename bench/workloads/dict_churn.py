# The Python workload of the benchmarks: build a dict of 300k entries, then
# delete them all. Run with PYTHONMALLOC=malloc so every object allocation goes
# through malloc: about 3 M allocations and 3 M frees.
N = 300_000

d = {}
for i in range(N):
    d["key-%d" % i] = [i, str(i), (i, i + 1)]
for i in range(N):
    del d["key-%d" % i]
print(len(d))
