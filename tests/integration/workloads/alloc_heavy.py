# An allocation-heavy Python workload for the valgrind oracle test. Run with
# PYTHONMALLOC=malloc so that every object goes through malloc/realloc/free,
# and PYTHONHASHSEED=0 so that two runs allocate exactly alike. Sized to take
# a few seconds under valgrind: tens of thousands of allocations of many sizes,
# list and string growth (realloc), and a final clean-up that frees most of it.
import sys


def build_records(n):
    records = {}
    for i in range(n):
        key = "key-%06d" % i
        records[key] = {"id": i, "name": key.upper(), "tags": [i % 7, i % 11, str(i)]}
    return records


def grow_strings(n):
    parts = []
    text = ""
    for i in range(n):
        text += "x%d," % i  # repeated concatenation resizes the string in place
        if len(text) > 4000:
            parts.append(text)
            text = ""
    return parts


def churn(records):
    # Delete every third entry and rebuild a smaller index: frees interleaved
    # with allocations of other sizes.
    for i in range(0, len(records), 3):
        del records["key-%06d" % i]
    index = {}
    for key, rec in records.items():
        index.setdefault(rec["id"] % 97, []).append(key)
    return index


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    records = build_records(n)
    parts = grow_strings(n)
    index = churn(records)
    total = sum(len(v) for v in index.values()) + len(parts)
    print("records=%d parts=%d index=%d total=%d" % (len(records), len(parts), len(index), total))
    del records, parts, index


main()
