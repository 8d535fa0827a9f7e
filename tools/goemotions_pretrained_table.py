#!/usr/bin/env python3
"""The tables of docs/goemotions_pretrained.md from the fine-tuning runs of temper and PyTorch + HF.

    python3 tools/goemotions_pretrained_table.py --temper runs/minilm_s1 runs/minilm_s2 \\
        --hf runs/hf_minilm_s1.json runs/hf_minilm_s2.json

--temper: run directories of `goemotions --model DIR --run-dir ...` (metrics.jsonl: dev evaluations at the
fixed threshold and the test line, scored with the per-label thresholds tuned on dev; last/trainer_state.json:
training seconds per epoch; either may be gzipped, as name.gz). --hf: JSON summaries of
tools/goemotions_hf_finetune.py --out. --rows: JSON files holding a list of rows already in this tool's form
(framework, seed, lr, dev_macro, dev_micro, test_macro, test_micro, epoch_seconds, machine), for runs whose
own output is gone. --untimed: runs (the same paths as given to --temper/--hf) that shared the machine with
other work: their F1 counts, their minutes per epoch are shown with a * and left out of the comparison of times.
--loss-windows N: also the training loss per window of N steps, averaged over each framework's --temper and
--hf runs (each step's own loss, not a logged running mean), and the difference: where the frameworks part.
A run's machine is the first line of machine.txt in the folder that holds its run directory
or JSON ("unnamed" without one).

All runs must have the same peak learning rate (a sweep's points are tabled one lr at a time; the tool
says which runs differ). Prints one row per run, then mean and sample standard deviation per framework and
the difference of the means; with two runs or more in each framework, the difference per measure (the four
F1s, the dev loss of the best epoch, the training loss of the last epoch) with Welch's t and the exact
two-sided permutation p; minutes per epoch are compared only between runs on the same machine.
--group NAME RUN... (twice) compares any two groups of runs instead, e.g. PyTorch with its own and with temper's
random streams; --paired pairs them by seed (paired t, exact sign-flip p). Standard library only.
"""

import argparse
import gzip
import itertools
import json
import math
import os
import statistics
import sys

COLUMNS = ("dev_macro", "dev_micro", "test_macro", "test_micro")
FRAMEWORKS = {"temper": "temper", "pytorch": "PyTorch + HF"}


def open_text(path):
    """path, or path.gz where only that is there (docs/results keeps the runs' larger files compressed)."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        return gzip.open(path + ".gz", "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def machine_of(path):
    f = os.path.join(os.path.dirname(os.path.abspath(path).rstrip("/")), "machine.txt")
    if not os.path.exists(f):
        return "unnamed"
    with open(f, encoding="utf-8") as m:
        return m.readline().strip()


def temper_run(run_dir):
    evals, test, lr, losses = [], None, 0.0, []
    with open_text(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "train":
                lr = max(lr, e["lr"])  # the peak of warmup-then-decay is the lr the run was given
                losses.append((e["step"], e["loss"]))
            elif e["type"] == "eval":
                evals.append(e)
            elif e["type"] == "test":
                test = e
    if not evals or test is None:
        sys.exit(f"{run_dir}/metrics.jsonl: no dev evaluation or no test line: the run has not finished")
    best = max(evals, key=lambda e: e["macro_f1"])  # the first of equal ones, as the Trainer keeps it
    with open_text(os.path.join(run_dir, "last", "trainer_state.json")) as f:
        state = json.load(f)
    if "epoch_train_seconds" not in state:
        sys.exit(f"{run_dir}/last/trainer_state.json: no epoch_train_seconds (a run of an older temper)")
    return {"framework": "temper", "machine": machine_of(run_dir), "seed": state["seed"], "lr": lr,
            "dev_macro": best["macro_f1"], "dev_micro": best["micro_f1"],
            "test_macro": test["macro_f1"], "test_micro": test["micro_f1"], "dev_loss": best["loss"],
            "epoch_seconds": state["epoch_train_seconds"], "train_loss": [v for _, v in sorted(losses)]}


def hf_run(path):
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    return {"framework": "pytorch", "machine": machine_of(path), "seed": s["seed"], "lr": s["hyper_parameters"]["lr"],
            "dev_macro": s["best_dev_macro_f1"], "dev_micro": s["dev_at_best"]["micro_f1"],
            "test_macro": s["test_tuned_thresholds"]["macro_f1"], "test_micro": s["test_tuned_thresholds"]["micro_f1"],
            "dev_loss": next(e["dev_loss"] for e in s["evals"] if e["step"] == s["best_step"]),
            "epoch_seconds": s["train_seconds_per_epoch"], "train_loss": s["train_loss"]}


def given_rows(path):
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    need = {"framework", "machine", "seed", "lr", "epoch_seconds", *COLUMNS}
    for i, r in enumerate(rows):
        if not need <= r.keys() or r["framework"] not in FRAMEWORKS:
            sys.exit(f"{path}: row {i}: expected the keys {sorted(need)} and framework one of {sorted(FRAMEWORKS)}")
    return rows


def mean_sd(values):
    m = statistics.fmean(values)
    return m, (statistics.stdev(values) if len(values) > 1 else float("nan"))


def welch_t(a, b):
    return (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(
        statistics.variance(a) / len(a) + statistics.variance(b) / len(b))


def permutation_p(a, b):
    """Exact two-sided p of the difference of the means: the share of all splits of the pooled runs into
    groups of len(a) and len(b) whose means differ at least as much (no assumption about the distribution;
    with 3 runs each the smallest possible p is 2/20 = 0.1, with 5 each 2/252 = 0.008)."""
    pooled, total = a + b, sum(a) + sum(b)
    observed = abs(statistics.fmean(a) - statistics.fmean(b))
    splits = extreme = 0
    for chosen in itertools.combinations(pooled, len(a)):
        part = sum(chosen)
        splits += 1
        extreme += abs(part / len(a) - (total - part) / len(b)) >= observed * (1 - 1e-9)
    return extreme / splits


def sign_flip_p(d):
    """Exact two-sided p of the mean of paired differences d: the share of all 2^len(d) sign assignments whose mean
    is at least as far from 0 (with 4 pairs the smallest possible p is 2/16 = 0.125, with 6 pairs 2/64 = 0.031)."""
    observed, extreme = abs(sum(d)), 0
    for signs in itertools.product((1, -1), repeat=len(d)):
        extreme += abs(sum(s * x for s, x in zip(signs, d))) >= observed * (1 - 1e-9)
    return extreme / 2 ** len(d)


def paired_t(d):
    sd = statistics.stdev(d)
    return statistics.fmean(d) / (sd / math.sqrt(len(d))) if sd > 0 else float("nan")


def last_epoch_loss(r):
    per_epoch = len(r["train_loss"]) // len(r["epoch_seconds"])
    return statistics.fmean(r["train_loss"][-per_epoch:])


MEASURES = [(c, c.replace("_", " ").replace("macro", "macro-F1").replace("micro", "micro-F1"), lambda r, c=c: r[c])
            for c in COLUMNS]
MEASURES += [("dev_loss", "dev loss (best epoch)", lambda r: r["dev_loss"]),
             ("train_loss", "training loss, last epoch", last_epoch_loss)]


def differences(groups, a="temper", b="PyTorch"):
    """a − b (the two groups) per measure with Welch's t and the exact permutation p, over the runs that have it."""
    print()
    print(f"| measure | {a} − {b} | Welch's t | permutation p (two-sided) | runs |")
    print("|---|---|---|---|---|")
    for key, label, value in MEASURES:
        t, p = ([value(r) for r in rs if key in r] for _, rs in groups)
        if len(t) < 2 or len(p) < 2:
            continue
        print(f"| {label} | {statistics.fmean(t) - statistics.fmean(p):+.4f} | {welch_t(t, p):+.1f} | "
              f"{permutation_p(t, p):.3f} | {len(t)} + {len(p)} |")


def paired_differences(groups):
    """a − b per measure over the seeds both groups ran, with each seed's difference, the paired t and the exact
    sign-flip p."""
    (a, ra), (b, rb) = groups
    by_seed = {r["seed"]: r for r in rb}
    pairs = [(r, by_seed[r["seed"]]) for r in ra if r["seed"] in by_seed]
    if len(pairs) < 2:
        sys.exit(f"--paired: {a} and {b} share fewer than two seeds")
    print()
    print(f"| measure | {a} − {b}, per seed ({', '.join(str(x['seed']) for x, _ in pairs)}) | mean | paired t | "
          "sign-flip p (two-sided) |")
    print("|---|---|---|---|---|")
    for key, label, value in MEASURES:
        d = [value(x) - value(y) for x, y in pairs if key in x and key in y]
        if len(d) == len(pairs):
            print(f"| {label} | {' '.join(f'{v:+.4f}' for v in d)} | {statistics.fmean(d):+.4f} | "
                  f"{paired_t(d):+.1f} | {sign_flip_p(d):.3f} |")


def require_one_lr(runs):
    """A sweep's points are tabled one lr at a time: exits naming each run's lr when they differ."""
    lrs = sorted({f"{r['lr']:.3g}" for r in runs})
    if len(lrs) > 1:
        sys.exit("runs with different learning rates (" + ", ".join(lrs) + "): table one lr at a time; " +
                 "; ".join(f"{r['framework']} seed {r['seed']}: {r['lr']:.3g}" for r in runs))


def run_of(path):
    """A temper run directory or a PyTorch JSON summary."""
    return temper_run(path) if os.path.isdir(path) else hf_run(path)


def compare_groups(specs, paired):
    """--group NAME RUN... twice: each run's scores, then the first group − the second."""
    groups = [(name, sorted((run_of(p) for p in paths), key=lambda r: r["seed"])) for name, *paths in specs]
    require_one_lr([r for _, rs in groups for r in rs])
    print("| group | seed | dev macro-F1 | dev micro-F1 | test macro-F1 | test micro-F1 | dev loss | "
          "training loss, last epoch |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in groups:
        for r in rs:
            print(f"| {name} | {r['seed']} | " + " | ".join(f"{r[c]:.4f}" for c in COLUMNS) +
                  f" | {r['dev_loss']:.4f} | {last_epoch_loss(r):.4f} |")
    if paired:
        paired_differences(groups)
    elif all(len(rs) > 1 for _, rs in groups):
        differences(groups, groups[0][0], groups[1][0])


def epochs_text(seconds):
    return ", ".join(f"{s / 60:.1f}" for s in seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--temper", nargs="*", default=[], metavar="RUN_DIR")
    ap.add_argument("--hf", nargs="*", default=[], metavar="JSON")
    ap.add_argument("--rows", nargs="*", default=[], metavar="JSON")
    ap.add_argument("--untimed", nargs="*", default=[], metavar="PATH")
    ap.add_argument("--loss-windows", type=int, default=0, metavar="N")
    ap.add_argument("--group", nargs="+", action="append", default=[], metavar="NAME RUN",
                    help="twice: compare these two groups of runs (run directories or JSON summaries) instead")
    ap.add_argument("--paired", action="store_true", help="with --group: pair the runs by seed")
    args = ap.parse_args()
    if args.group:
        if len(args.group) != 2 or any(len(g) < 2 for g in args.group) or args.temper or args.hf or args.rows:
            sys.exit("--group NAME RUN...: exactly twice, each with a name and runs, and no --temper/--hf/--rows")
        compare_groups(args.group, args.paired)
        return
    untimed = {os.path.abspath(p) for p in args.untimed}
    for p in untimed - {os.path.abspath(p) for p in args.temper + args.hf}:
        sys.exit(f"--untimed {p}: not one of the runs given to --temper or --hf")
    runs = [dict(temper_run(d), timed=os.path.abspath(d) not in untimed) for d in args.temper]
    runs += [dict(hf_run(p), timed=os.path.abspath(p) not in untimed) for p in args.hf]
    runs += [dict(r, timed=True) for p in args.rows for r in given_rows(p)]
    require_one_lr(runs)
    groups = [(FRAMEWORKS[f], sorted((r for r in runs if r["framework"] == f), key=lambda r: (r["seed"], r["machine"])))
              for f in FRAMEWORKS]

    print("| framework | seed | dev macro-F1 | dev micro-F1 | test macro-F1 | test micro-F1 | minutes per epoch | machine |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in groups:
        for r in rs:
            print(f"| {name} | {r['seed']} | " + " | ".join(f"{r[c]:.4f}" for c in COLUMNS) +
                  f" | {epochs_text(r['epoch_seconds'])}{'' if r['timed'] else ' *'} | {r['machine']} |")
    print()
    print("| framework | runs | dev macro-F1 | dev micro-F1 | test macro-F1 | test micro-F1 |")
    print("|---|---|---|---|---|---|")
    means = {}
    for name, rs in groups:
        if not rs:
            continue
        cells = []
        for c in COLUMNS:
            m, sd = mean_sd([r[c] for r in rs])
            means[(name, c)] = m
            cells.append(f"{m:.4f} ± {sd:.4f}" if len(rs) > 1 else f"{m:.4f}")
        print(f"| {name} | {len(rs)} | " + " | ".join(cells) + " |")
    if all(g[1] for g in groups):
        print("| temper − PyTorch | | " +
              " | ".join(f"{means[('temper', c)] - means[('PyTorch + HF', c)]:+.4f}" for c in COLUMNS) + " |")

    if all(len(rs) > 1 for _, rs in groups):
        differences(groups)

    # Training time: mean minutes per epoch over each framework's runs on one machine, where both ran there.
    machines = sorted({r["machine"] for r in runs})
    timed = []
    for machine in machines:
        per = {name: [s / 60 for r in rs if r["machine"] == machine and r["timed"] for s in r["epoch_seconds"]]
               for name, rs in groups}
        if all(per.values()):
            timed.append((machine, per))
    if timed:
        print()
        print("| machine | temper minutes per epoch | PyTorch + HF minutes per epoch | PyTorch ÷ temper |")
        print("|---|---|---|---|")
        for machine, per in timed:
            t, p = (mean_sd(per[name]) for name, _ in groups)
            print(f"| {machine} | {t[0]:.1f} ({len(per['temper'])} epochs) | {p[0]:.1f} ({len(per['PyTorch + HF'])} "
                  f"epochs) | {p[0] / t[0]:.2f} |")

    if args.loss_windows > 0:
        loss_windows(groups, args.loss_windows)


def loss_windows(groups, n):
    """Mean training loss per window of n steps over each framework's runs that carry their losses."""
    curves = {name: [r["train_loss"] for r in rs if "train_loss" in r] for name, rs in groups}
    if not all(curves.values()):
        sys.exit("--loss-windows: each framework needs a run given by --temper or --hf (--rows carry no losses)")
    steps = min(len(c) for cs in curves.values() for c in cs)
    print()
    print(f"| steps | temper training loss ({len(curves['temper'])} runs) | PyTorch + HF ({len(curves['PyTorch + HF'])} "
          "runs) | temper − PyTorch |")
    print("|---|---|---|---|")
    for lo in range(0, steps, n):
        hi = min(steps, lo + n)
        t, p = (statistics.fmean(statistics.fmean(c[lo:hi]) for c in curves[name]) for name, _ in groups)
        print(f"| {lo + 1}–{hi} | {t:.4f} | {p:.4f} | {t - p:+.4f} |")


if __name__ == "__main__":
    main()
