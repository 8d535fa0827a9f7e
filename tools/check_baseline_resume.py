#!/usr/bin/env python3
"""Checks that tools/goemotions_baseline.py's --stop-at-step/--resume continue a run exactly: a short
fine-tuning run (tools/goemotions_hf_finetune.py's setup on the first GoEmotions examples) done straight and
in three parts (stopped mid-epoch, then at an epoch's end after its evaluation) must give the same training
losses, evaluations, thresholds and test scores, bit for bit. Exits non-zero, naming what differs, when not.

    .venv/bin/python tools/check_baseline_resume.py --data ../shared/data/goemotions [--dropout temper]

Needs the packages of tools/requirements.txt and the GoEmotions data; about two minutes on 2 cores.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(extra, out, data, threads, dropout):
    cmd = [sys.executable, os.path.join(HERE, "goemotions_hf_finetune.py"), "--data", data, "--limit-train", "320",
           "--limit-eval", "64", "--epochs", "2", "--seed", "3", "--threads", str(threads), "--log-every", "0",
           "--out", out, "--dropout", dropout] + extra
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def comparable(path):
    with open(path) as f:
        s = json.load(f)
    for e in s["evals"]:
        del e["elapsed_s"]  # wall time
    keep = ("steps", "best_step", "best_dev_macro_f1", "dev_at_best", "evals", "test_fixed_threshold",
            "test_tuned_thresholds", "test_loss", "tuned_thresholds", "train_loss")
    return {k: s[k] for k in keep}, s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "goemotions"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dropout", choices=("torch", "temper"), default="torch",
                    help="goemotions_baseline's --dropout: temper's masks must continue from the saved offset")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        straight, parts = os.path.join(tmp, "straight.json"), os.path.join(tmp, "parts.json")
        run([], straight, args.data, args.threads, args.dropout)
        run(["--stop-at-step", "7"], parts, args.data, args.threads, args.dropout)  # 10 steps per epoch: mid-epoch
        if os.path.exists(parts):
            raise SystemExit("FAIL: the run stopped at step 7 wrote its summary")
        # after epoch 1's evaluation
        run(["--resume", "--stop-at-step", "10"], parts, args.data, args.threads, args.dropout)
        run(["--resume"], parts, args.data, args.threads, args.dropout)
        a, sa = comparable(straight)
        b, sb = comparable(parts)
    bad = [k for k in a if a[k] != b[k]]
    if bad:
        for k in bad:
            print(f"FAIL: {k} differs:\n  straight {a[k]}\n  parts    {b[k]}")
        raise SystemExit(1)
    if len(sb["train_seconds_per_epoch"]) != 2 or sb["train_seconds"] <= 0:
        raise SystemExit(f"FAIL: training times of the resumed run: {sb['train_seconds_per_epoch']}")
    print(f"OK: {a['steps']} steps, losses, {len(a['evals'])} evaluations, thresholds and test scores equal bit for "
          f"bit (test macro-F1 {a['test_tuned_thresholds']['macro_f1']:.4f}); epoch times straight "
          f"{[round(x, 1) for x in sa['train_seconds_per_epoch']]} s, in parts "
          f"{[round(x, 1) for x in sb['train_seconds_per_epoch']]} s")


if __name__ == "__main__":
    main()
