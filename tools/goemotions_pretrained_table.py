#!/usr/bin/env python3
"""The tables of docs/goemotions_pretrained.md from the fine-tuning runs of temper and PyTorch + HF.

    python3 tools/goemotions_pretrained_table.py --temper runs/minilm_s1 runs/minilm_s2 \\
        --hf runs/hf_minilm_s1.json runs/hf_minilm_s2.json

--temper: run directories of `goemotions --model DIR --run-dir ...` (metrics.jsonl: dev evaluations at the
fixed threshold and the test line, scored with the per-label thresholds tuned on dev; last/trainer_state.json:
training seconds per epoch). --hf: JSON summaries of tools/goemotions_hf_finetune.py --out. Prints one row per
run, then mean and sample standard deviation per framework and the difference of the means. Standard library
only.
"""

import argparse
import json
import os
import statistics
import sys

COLUMNS = ("dev_macro", "dev_micro", "test_macro", "test_micro")


def temper_run(run_dir):
    evals, test = [], None
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "eval":
                evals.append(e)
            elif e["type"] == "test":
                test = e
    if not evals or test is None:
        sys.exit(f"{run_dir}/metrics.jsonl: no dev evaluation or no test line: the run has not finished")
    best = max(evals, key=lambda e: e["macro_f1"])  # the first of equal ones, as the Trainer keeps it
    with open(os.path.join(run_dir, "last", "trainer_state.json"), encoding="utf-8") as f:
        state = json.load(f)
    if "epoch_train_seconds" not in state:
        sys.exit(f"{run_dir}/last/trainer_state.json: no epoch_train_seconds (a run of an older temper)")
    return {"seed": state["seed"], "dev_macro": best["macro_f1"],
            "dev_micro": best["micro_f1"], "test_macro": test["macro_f1"], "test_micro": test["micro_f1"],
            "epoch_seconds": state["epoch_train_seconds"]}


def hf_run(path):
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    return {"seed": s["seed"], "dev_macro": s["best_dev_macro_f1"],
            "dev_micro": s["dev_at_best"]["micro_f1"], "test_macro": s["test_tuned_thresholds"]["macro_f1"],
            "test_micro": s["test_tuned_thresholds"]["micro_f1"], "epoch_seconds": s["train_seconds_per_epoch"]}


def mean_sd(values):
    m = statistics.fmean(values)
    return m, (statistics.stdev(values) if len(values) > 1 else float("nan"))


def epochs_text(seconds):
    return ", ".join(f"{s / 60:.1f}" for s in seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--temper", nargs="*", default=[], metavar="RUN_DIR")
    ap.add_argument("--hf", nargs="*", default=[], metavar="JSON")
    args = ap.parse_args()
    groups = [("temper", [temper_run(d) for d in args.temper]), ("PyTorch + HF", [hf_run(p) for p in args.hf])]

    print("| framework | seed | dev macro-F1 | dev micro-F1 | test macro-F1 | test micro-F1 | minutes per epoch |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in groups:
        for r in runs:
            print(f"| {name} | {r['seed']} | " + " | ".join(f"{r[c]:.4f}" for c in COLUMNS) +
                  f" | {epochs_text(r['epoch_seconds'])} |")
    print()
    print("| framework | runs | dev macro-F1 | dev micro-F1 | test macro-F1 | test micro-F1 | minutes per epoch |")
    print("|---|---|---|---|---|---|---|")
    means = {}
    for name, runs in groups:
        if not runs:
            continue
        cells = []
        for c in COLUMNS:
            m, sd = mean_sd([r[c] for r in runs])
            means[(name, c)] = m
            cells.append(f"{m:.4f} ± {sd:.4f}" if len(runs) > 1 else f"{m:.4f}")
        epoch_minutes = mean_sd([s / 60 for r in runs for s in r["epoch_seconds"]])[0]
        print(f"| {name} | {len(runs)} | " + " | ".join(cells) + f" | {epoch_minutes:.1f} |")
    if all(g[1] for g in groups):
        print(f"| temper − PyTorch | | " +
              " | ".join(f"{means[('temper', c)] - means[('PyTorch + HF', c)]:+.4f}" for c in COLUMNS) + " | |")


if __name__ == "__main__":
    main()
