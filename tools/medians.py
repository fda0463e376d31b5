"""Medians of repeated benchmark rounds: reads lines of '|'-separated fields, groups them by the key
fields and prints each group's keys with the median of every value field (in first-seen order).

    python3 tools/medians.py FILE --keys 1,2 --values 3,4
"""
import argparse
import collections
import statistics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--keys", required=True, help="0-based key field indices, e.g. 1,2")
    parser.add_argument("--values", required=True, help="0-based value field indices, e.g. 3,4")
    args = parser.parse_args()
    keys = [int(i) for i in args.keys.split(",")]
    values = [int(i) for i in args.values.split(",")]
    groups = collections.defaultdict(list)
    for line in open(args.file):
        fields = line.rstrip("\n").split("|")
        groups[tuple(fields[i] for i in keys)].append([float(fields[i]) for i in values])
    for key, rows in groups.items():
        print(" | ".join(list(key) + [f"{statistics.median(column):.2f}" for column in zip(*rows)]))


if __name__ == "__main__":
    main()
