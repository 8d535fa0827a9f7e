#!/usr/bin/env python3
"""temper and PyTorch + HF fine-tuning in lockstep: the same start weights, the same batches, no dropout, float32,
losses compared step by step (docs/goemotions_pretrained.md, "In lockstep").

    .venv/bin/python tools/goemotions_lockstep.py prepare --out runs/lockstep
    build/examples/goemotions --data ../shared/data/goemotions --model runs/lockstep/start --epochs 2 \\
        --batch-size 32 --max-length 64 --lr 2e-4 --seed 1 --run-dir runs/lockstep/temper
    .venv/bin/python tools/goemotions_hf_finetune.py --model runs/lockstep/start --lr 2e-4 --seed 1 --order temper \\
        --out runs/lockstep/hf.json
    .venv/bin/python tools/goemotions_hf_finetune.py --model runs/lockstep/start_perturbed --lr 2e-4 --seed 1 \\
        --order temper --out runs/lockstep/hf_perturbed.json
    .venv/bin/python tools/goemotions_lockstep.py compare --temper runs/lockstep/temper --hf runs/lockstep/hf.json \\
        --hf-perturbed runs/lockstep/hf_perturbed.json

prepare writes start/: all-MiniLM-L6-v2 (tools/minilm.py) as BertForSequenceClassification with GoEmotions' 28
labels, its new head drawn by transformers from torch.manual_seed(--seed), hidden and attention dropout 0 (so the
head's dropout, which follows hidden_dropout_prob, is 0 too), float32, with the checkpoint's tokenizer files; and
start_perturbed/: the same weights, each multiplied by 1 + e or 1 - e (e = --perturb, default 2^-23, about one
float32 rounding; signs from a generator seeded with --seed), zeros staying zero. Both frameworks start from
start/ with the same --seed: temper's batch order is a function of it and `--order temper` gives PyTorch the same.
PyTorch from start_perturbed/ measures how far two float32 runs part when they differ by rounding only: the
yardstick for how far temper's and PyTorch's part.

compare reads temper's run_dir/metrics.jsonl and the PyTorch JSON summaries (their train_loss holds every step's
loss) and prints the step-1 losses (which must agree to float32 rounding, or the batches or start weights differ:
the command fails), the per-step loss difference at some steps, per window of --window steps the mean losses and
the root-mean-square of the per-step differences, and the dev evaluations.
"""

import argparse
import json
import math
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def prepare(args):
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    import goemotions_baseline as gb
    import minilm

    src = minilm.model_dir()
    names = gb.read_label_names(os.path.join(args.data, "emotions.txt"))
    torch.manual_seed(args.seed)
    config = AutoConfig.from_pretrained(src, num_labels=len(names), problem_type="multi_label_classification",
                                        id2label=dict(enumerate(names)), label2id={s: i for i, s in enumerate(names)},
                                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = AutoModelForSequenceClassification.from_pretrained(src, config=config, attn_implementation="eager",
                                                               dtype=torch.float32)
    g = torch.Generator().manual_seed(args.seed)
    perturbed = {}
    for name, p in model.state_dict().items():
        if p.is_floating_point():
            sign = torch.randint(0, 2, p.shape, generator=g).float() * 2 - 1
            perturbed[name] = p * (1 + args.perturb * sign)
            changed = perturbed[name] != p
            if not bool(changed[p != 0].all()):
                raise SystemExit(f"--perturb {args.perturb}: too small to change every weight of {name} in float32")
    for sub, state in (("start", None), ("start_perturbed", perturbed)):
        out = os.path.join(args.out, sub)
        if state is not None:
            model.load_state_dict(state, strict=False)
        model.save_pretrained(out)
        for f in TOKENIZER_FILES:
            if os.path.isfile(os.path.join(src, f)):
                shutil.copyfile(os.path.join(src, f), os.path.join(out, f))
        print(f"wrote {out}")
    print(f"perturbation: each weight times 1 ± {args.perturb:.3g}")


def read_temper(run_dir):
    """Per-step losses, dev evaluations (step, loss, macro, micro) and the test scores with tuned thresholds."""
    losses, evals, test = {}, [], None
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["type"] == "train":
                losses[r["step"]] = r["loss"]
            elif r["type"] == "eval":
                evals.append((r["step"], r["loss"], r["macro_f1"], r["micro_f1"]))
            elif r["type"] == "test":
                test = (r["macro_f1"], r["micro_f1"])
    steps = sorted(losses)
    if steps != list(range(1, len(steps) + 1)):
        raise SystemExit(f"{run_dir}/metrics.jsonl: train steps are not 1..n (grad_accum 1 logs every step)")
    return [losses[s] for s in steps], evals, test


def read_hf(path):
    with open(path, encoding="utf-8") as f:
        r = json.load(f)
    if r.get("order") != "temper":
        raise SystemExit(f"{path}: not run with --order temper (order {r.get('order')!r})")
    evals = [(e["step"], e["dev_loss"], e["dev_macro_f1"], e["dev_micro_f1"]) for e in r["evals"]]
    return r["train_loss"], evals, (r["test_tuned_thresholds"]["macro_f1"], r["test_tuned_thresholds"]["micro_f1"])


def mean(v):
    return sum(v) / len(v)


def rms(v):
    return math.sqrt(sum(x * x for x in v) / len(v))


def compare(args):
    runs = {"temper": read_temper(args.temper), "PyTorch": read_hf(args.hf)}
    if args.hf_perturbed:
        runs["PyTorch'"] = read_hf(args.hf_perturbed)
    n = min(len(r[0]) for r in runs.values())
    if len({len(r[0]) for r in runs.values()}) > 1:
        print(f"note: the runs have {[len(r[0]) for r in runs.values()]} steps; compared over the first {n}")
    t, h = runs["temper"][0], runs["PyTorch"][0]
    p = runs["PyTorch'"][0] if "PyTorch'" in runs else None
    first = abs(t[0] - h[0]) / abs(h[0])
    print(f"step 1: loss temper {t[0]:.9f}, PyTorch {h[0]:.9f}, relative difference {first:.2e}")
    if first > 1e-5:
        raise SystemExit("step 1 differs beyond float32 rounding: not the same start weights or batches")

    def row(cells):
        print("| " + " | ".join(cells) + " |")

    print("\nper-step loss difference |temper − PyTorch|" + (", |PyTorch' − PyTorch|" if p else "") + ":")
    for s in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 1500, 2000, 2500):
        if s <= n:
            print(f"  step {s}: {abs(t[s - 1] - h[s - 1]):.2e}" + (f", {abs(p[s - 1] - h[s - 1]):.2e}" if p else ""))

    W = args.window
    head = ["steps", "temper", "PyTorch", "temper − PyTorch", "rms"]
    if p:
        head += ["PyTorch'", "PyTorch' − PyTorch", "rms'"]
    print(f"\nmean training loss per {W} steps; rms: root-mean-square of the per-step differences in the window")
    row(head)
    print("|" + "---|" * len(head))
    for lo in range(0, n, W):
        hi = min(n, lo + W)
        tw, hw = t[lo:hi], h[lo:hi]
        cells = [f"{lo + 1}–{hi}", f"{mean(tw):.4f}", f"{mean(hw):.4f}", f"{mean(tw) - mean(hw):+.5f}",
                 f"{rms([a - b for a, b in zip(tw, hw)]):.5f}"]
        if p:
            pw = p[lo:hi]
            cells += [f"{mean(pw):.4f}", f"{mean(pw) - mean(hw):+.5f}", f"{rms([a - b for a, b in zip(pw, hw)]):.5f}"]
        row(cells)
    spans = [(0, n)] + ([(0, args.epoch_steps), (args.epoch_steps, n)] if 0 < args.epoch_steps < n else [])
    for lo, hi in spans:
        line = f"steps {lo + 1}–{hi}: mean loss difference temper − PyTorch {mean(t[lo:hi]) - mean(h[lo:hi]):+.5f}"
        if p:
            line += f", PyTorch' − PyTorch {mean(p[lo:hi]) - mean(h[lo:hi]):+.5f}"
        print(line)

    print("\ndev evaluations (threshold 0.3)")
    row(["run", "step", "dev loss", "macro-F1", "micro-F1"])
    print("|---|---|---|---|---|")
    for name, (_, evals, _) in runs.items():
        for step, loss, macro, micro in evals:
            row([name, str(step), f"{loss:.4f}", f"{macro:.4f}", f"{micro:.4f}"])
    print("\ntest, the best epoch's model with per-label thresholds tuned on dev")
    row(["run", "macro-F1", "micro-F1"])
    print("|---|---|---|")
    for name, (_, _, test) in runs.items():
        if test:
            row([name, f"{test[0]:.4f}", f"{test[1]:.4f}"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("prepare", help="write start/ and start_perturbed/")
    pr.add_argument("--out", required=True)
    pr.add_argument("--seed", type=int, default=1, help="torch seed of the new head and of the perturbation's signs")
    pr.add_argument("--perturb", type=float, default=2.0 ** -23, help="relative perturbation of each weight")
    pr.add_argument("--data", default=None, help="GoEmotions directory (emotions.txt; default: goemotions_baseline's)")
    co = sub.add_parser("compare", help="compare the runs' losses step by step")
    co.add_argument("--temper", required=True, metavar="RUN_DIR")
    co.add_argument("--hf", required=True, metavar="JSON")
    co.add_argument("--hf-perturbed", default=None, metavar="JSON")
    co.add_argument("--window", type=int, default=200)
    co.add_argument("--epoch-steps", type=int, default=1357, help="steps per epoch, for the per-epoch means")
    args = ap.parse_args()
    if args.cmd == "prepare":
        if args.data is None:
            import goemotions_baseline as gb
            args.data = gb.DEFAULT_DATA
        prepare(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
