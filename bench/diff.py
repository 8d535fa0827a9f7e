#!/usr/bin/env python3
"""Compares two benchmark result files and flags regressions.

    bench/diff.py old.json new.json [--threshold 5]

Both files are Google Benchmark JSON, as written by `scripts/bench.sh --json` (or a program's
--benchmark_out). Each benchmark is compared on its real time per iteration; with repetitions the
median is used. A benchmark more than --threshold percent slower is a REGRESSION, more than that
faster is "faster". Exits 1 when there is a regression, 0 otherwise, so a CI job can gate on it.
Benchmarks that are in one file only, or that reported an error (e.g. "no CUDA GPU"), are listed
and not compared. Differences in the machine (CPU count, threads, GPU) are printed first: results
from different machines are not comparable.
"""
import argparse
import json
import statistics
import sys

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def load(path):
    """{benchmark name: median real time in ns}, {name: error message}, context."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"{path}: cannot read benchmark results: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise SystemExit(f"{path}: not a Google Benchmark JSON file (no 'benchmarks' list)")
    times, errors = {}, {}
    for b in doc["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue  # aggregates (mean/median/stddev) are recomputed from the repetitions
        name = b.get("run_name", b.get("name"))
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            continue
        times.setdefault(name, []).append(b["real_time"] * UNIT_NS[b.get("time_unit", "ns")])
    return {n: statistics.median(t) for n, t in times.items()}, errors, doc.get("context", {})


def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns:.1f} ns"


def main():
    ap = argparse.ArgumentParser(description="Compares two benchmark result files and flags regressions.")
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--threshold", type=float, default=5.0, help="percent change that counts (default 5)")
    a = ap.parse_args()
    old, old_err, old_ctx = load(a.old)
    new, new_err, new_ctx = load(a.new)

    for key in ("host_name", "num_cpus", "mhz_per_cpu", "omp_max_threads", "library_build_type"):
        if old_ctx.get(key) != new_ctx.get(key):
            print(f"note: {key} differs: {old_ctx.get(key)} -> {new_ctx.get(key)}")
    if old_ctx.get("temper_commit") or new_ctx.get("temper_commit"):
        print(f"commits: {old_ctx.get('temper_commit', '?')} -> {new_ctx.get('temper_commit', '?')}")

    common = [n for n in new if n in old]
    width = max([len(n) for n in common] + [9])
    print(f"{'benchmark':<{width}}  {'old':>12}  {'new':>12}  {'change':>8}")
    regressions = 0
    for name in common:
        change = (new[name] - old[name]) / old[name] * 100.0
        flag = ""
        if change > a.threshold:
            flag, regressions = "  REGRESSION", regressions + 1
        elif change < -a.threshold:
            flag = "  faster"
        print(f"{name:<{width}}  {fmt(old[name]):>12}  {fmt(new[name]):>12}  {change:+7.1f}%{flag}")

    for name in sorted(set(old) - set(new)):
        print(f"only in {a.old}: {name}" + (f" (error in new: {new_err[name]})" if name in new_err else ""))
    for name in sorted(set(new) - set(old)):
        print(f"only in {a.new}: {name}" + (f" (error in old: {old_err[name]})" if name in old_err else ""))
    both_err = sorted(set(old_err) & set(new_err))
    if both_err:
        print(f"not run in either file: {len(both_err)} benchmarks (e.g. {both_err[0]}: {new_err[both_err[0]]})")

    print(f"\n{len(common)} compared, {regressions} slower by more than {a.threshold:g}%")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
