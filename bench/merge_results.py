#!/usr/bin/env python3
"""Merges Google Benchmark JSON files (one per benchmark program) into one document on stdout.

    bench/merge_results.py COMMIT a.json [b.json ...]

The context is the first file's, plus "temper_commit"; the benchmarks are concatenated. Used by
scripts/bench.sh --json; compare two merged files with bench/diff.py.
"""
import json
import sys


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    commit, files = sys.argv[1], sys.argv[2:]
    merged = None
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        if merged is None:
            merged = {"context": dict(doc.get("context", {}), temper_commit=commit), "benchmarks": []}
        merged["benchmarks"].extend(doc.get("benchmarks", []))
    json.dump(merged, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
