#!/usr/bin/env python3
"""temper and PyTorch + HF fine-tuning in lockstep: the same start weights, the same batches, float32, without
dropout or with the same dropout masks, losses compared step by step (docs/goemotions_pretrained.md, "In lockstep").

    .venv/bin/python tools/goemotions_lockstep.py prepare --out runs/lockstep
    D=runs/lockstep; A="--epochs 2 --batch-size 32 --max-length 64 --lr 2e-4 --seed 1"
    build/examples/goemotions --data ../shared/data/goemotions --model $D/start $A --run-dir $D/temper
    build/examples/goemotions --data ../shared/data/goemotions --model $D/start_perturbed $A \
        --run-dir $D/temper_perturbed
    .venv/bin/python tools/goemotions_hf_finetune.py --model $D/start $A --order temper --out $D/hf.json
    .venv/bin/python tools/goemotions_hf_finetune.py --model $D/start_perturbed $A --order temper \
        --out $D/hf_perturbed.json
    .venv/bin/python tools/goemotions_hf_finetune.py --model $D/start $A --order temper --float64 \
        --stop-at-step 420 --checkpoint $D/hf_float64.ckpt            # float64 is slow: its first steps
    .venv/bin/python tools/goemotions_lockstep.py losses $D/hf_float64.ckpt $D/hf_float64.json
    python3 tools/goemotions_lockstep.py compare --temper $D/temper --hf $D/hf.json \
        --hf-perturbed $D/hf_perturbed.json --temper-perturbed $D/temper_perturbed --hf-float64 $D/hf_float64.json

    # with dropout, seed S (each seed its own start: the head transformers draws for S, temper's order and masks for S)
    .venv/bin/python tools/goemotions_lockstep.py prepare --out runs/lockstep_dropout_s$S --seed $S
    D=runs/lockstep_dropout_s$S; A="--epochs 2 --batch-size 32 --max-length 64 --lr 2e-4 --seed $S"
    build/examples/goemotions --data ../shared/data/goemotions --model $D/start_dropout $A --run-dir $D/temper
    .venv/bin/python tools/goemotions_hf_finetune.py --model $D/start_dropout $A --order temper --dropout temper \
        --out $D/hf.json
    python3 tools/goemotions_lockstep.py compare --temper $D/temper --hf $D/hf.json

prepare writes start/: all-MiniLM-L6-v2 (tools/minilm.py) as BertForSequenceClassification with GoEmotions' 28
labels, its new head drawn by transformers from torch.manual_seed(--seed), hidden and attention dropout 0 (so the
head's dropout, which follows hidden_dropout_prob, is 0 too), float32, with the checkpoint's tokenizer files; and
start_perturbed/: the same weights, each multiplied by 1 + e or 1 - e (e = --perturb, default 2^-23, about one
float32 rounding; signs from a generator seeded with --seed), zeros staying zero. Both frameworks start from
start/ with the same --seed: temper's batch order is a function of it and `--order temper` gives PyTorch the same.
Each framework from start_perturbed/ measures how far two of its own float32 runs part when they differ by one
rounding: the yardstick for how far temper's and PyTorch's part. PyTorch in float64 (--float64) is the run that
both float32 runs round away from. start_dropout/: start/'s weights with the checkpoint's dropout (0.1), for runs
in lockstep with dropout: PyTorch with `--order temper --dropout temper` drops what temper's run with the same
--seed drops (tools/temper_order.py's TemperDropout, with temper's own kernel when build/ has it).

compare reads temper's run_dir/metrics.jsonl (or metrics.jsonl.gz) and the PyTorch JSON summaries (their
train_loss holds every step's loss) and checks every run's first 20 losses (which must agree with PyTorch's to float32
rounding, or the batches or start weights differ: the command fails), where each pair of runs parts (the first
step whose losses differ by more than 1e-6, 1e-4, 1e-2), per window of --window steps the differences of the mean
losses and the root-mean-square of the per-step differences, the same against float64, and the dev and test
scores. losses turns a --stop-at-step checkpoint into a small JSON that compare reads.
"""

import argparse
import gzip
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

    import goemotions_baseline as gb
    import minilm

    src = minilm.model_dir()
    names = gb.read_label_names(os.path.join(args.data, "emotions.txt"))
    torch.manual_seed(args.seed)
    model, _, _ = gb.pretrained_classifier(src, names, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    g = torch.Generator().manual_seed(args.seed)
    perturbed = {}
    for name, p in model.state_dict().items():
        if p.is_floating_point():
            sign = torch.randint(0, 2, p.shape, generator=g).float() * 2 - 1
            perturbed[name] = p * (1 + args.perturb * sign)
            changed = perturbed[name] != p
            if not bool(changed[p != 0].all()):
                raise SystemExit(f"--perturb {args.perturb}: too small to change every weight of {name} in float32")
    no_dropout = model.config
    for sub, state in (("start_dropout", None), ("start", None), ("start_perturbed", perturbed)):
        out = os.path.join(args.out, sub)
        if state is not None:
            model.load_state_dict(state, strict=False)
        model.config = gb.multilabel_config(src, names) if sub == "start_dropout" else no_dropout
        model.save_pretrained(out)
        for f in TOKENIZER_FILES:
            if os.path.isfile(os.path.join(src, f)):
                shutil.copyfile(os.path.join(src, f), os.path.join(out, f))
        print(f"wrote {out}")
    print(f"perturbation: each weight times 1 ± {args.perturb:.3g}")


def read_temper(run_dir):
    """Per-step losses, dev evaluations (step, loss, macro, micro) and the test scores with tuned thresholds."""
    losses, evals, test = {}, [], None
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(path) and os.path.isfile(path + ".gz"):  # as kept in docs/results
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8") as f:
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
        raise SystemExit(f"{path}: train steps are not 1..n (grad_accum 1 logs every step)")
    return [losses[s] for s in steps], evals, test


def read_hf(path):
    """A PyTorch run's per-step losses, dev evaluations and tuned test scores: its JSON summary, or the checkpoint
    of a run stopped with --stop-at-step (losses and evaluations so far; needs torch)."""
    if path.endswith(".ckpt"):
        r = read_ckpt(path)
    else:
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
    if r.get("order") != "temper":
        raise SystemExit(f"{path}: not run with --order temper (order {r.get('order')!r})")
    evals = [(e["step"], e["dev_loss"], e["dev_macro_f1"], e["dev_micro_f1"]) for e in r["evals"]]
    test = r.get("test_tuned_thresholds")
    return r["train_loss"], evals, (test["macro_f1"], test["micro_f1"]) if test else None


def read_ckpt(path):
    """What compare needs of a --stop-at-step checkpoint, in the JSON summary's form (`losses` writes it)."""
    import torch
    ck = torch.load(path, weights_only=False)
    hp = ck["same"]["hyper_parameters"]
    return {"order": hp.get("order"), "float64": hp.get("float64", False), "seed": hp["seed"], "lr": hp["lr"],
            "steps": ck["step"], "evals": ck["history"], "train_loss": ck["train_loss"]}


def losses(args):
    r = read_ckpt(args.ckpt)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(r, f, indent=1)
        f.write("\n")
    print(f"{args.out}: {len(r['train_loss'])} steps")


def mean(v):
    return sum(v) / len(v)


def rms(v):
    return math.sqrt(sum(x * x for x in v) / len(v))


ONSET = (1e-6, 1e-4, 1e-2)


def onset(a, b):
    """The first step at which |a - b| exceeds each of ONSET."""
    steps = [next((i + 1 for i, (x, y) in enumerate(zip(a, b)) if abs(x - y) > thr), None) for thr in ONSET]
    return ", ".join(f"> {thr:.0e} " + (f"at step {s}" if s else f"not in {len(a)} steps")
                     for thr, s in zip(ONSET, steps))


# The pairs compared, where both runs are given: across the frameworks from the same start, and each framework
# against itself from the perturbed start (the yardstick).
PAIRS = (("temper", "PyTorch"), ("temper'", "PyTorch'"), ("PyTorch'", "PyTorch"), ("temper'", "temper"))


def row(cells):
    print("| " + " | ".join(cells) + " |")


def compare(args):
    runs = {"temper": read_temper(args.temper), "PyTorch": read_hf(args.hf)}
    if args.hf_perturbed:
        runs["PyTorch'"] = read_hf(args.hf_perturbed)
    if args.temper_perturbed:
        runs["temper'"] = read_temper(args.temper_perturbed)
    loss = {name: r[0] for name, r in runs.items()}
    h = loss["PyTorch"]
    # The first steps, before rounding can add up: the same batches from (nearly) the same weights give the same
    # loss to float32 rounding (~1e-7); different batches differ by ~1e-4 already at step 1 (a new head's loss is
    # near ln 2 for any batch, so several steps are compared).
    k = min(20, *(len(v) for v in loss.values()))
    for name, v in loss.items():
        worst = max(abs(v[i] - h[i]) / abs(h[i]) for i in range(k))
        print(f"steps 1–{k}: {name}, largest relative difference to PyTorch's loss {worst:.2e} "
              f"(step 1: {v[0]:.9f})")
        if worst > 1e-5:
            raise SystemExit(f"{name}: the first {k} steps differ from PyTorch's beyond float32 rounding: not the "
                             "same start weights or batches")
    pairs = [(a, b, min(len(loss[a]), len(loss[b]))) for a, b in PAIRS if a in loss and b in loss]

    print("\nwhere the per-step losses part (|a − b| first above each bound):")
    for a, b, n in pairs:
        print(f"  {a} − {b}: {onset(loss[a][:n], loss[b][:n])}")

    W = args.window
    n_all = max(len(v) for v in loss.values())
    for what in ("mean", "rms"):
        if what == "mean":
            print(f"\nmean training loss per {W} steps (PyTorch's) and the differences of the runs' means")
        else:
            print(f"\nroot-mean-square of the per-step loss differences per {W} steps")
        head = ["steps"] + (["PyTorch"] if what == "mean" else []) + [f"{a} − {b}" for a, b, _ in pairs]
        row(head)
        print("|" + "---|" * len(head))
        for lo in range(0, n_all, W):
            hi = min(n_all, lo + W)
            cells = [f"{lo + 1}–{hi}"]
            if what == "mean":
                cells.append(f"{mean(h[lo:hi]):.4f}" if hi <= len(h) else "")
            for a, b, n in pairs:
                x, y = loss[a][lo:hi], loss[b][lo:hi]
                cells.append("" if hi > n else f"{mean(x) - mean(y):+.5f}" if what == "mean"
                             else f"{rms([u - v for u, v in zip(x, y)]):.5f}")
            row(cells)
    E = args.epoch_steps
    for a, b, n in pairs:
        spans = [(0, min(n, E))] + ([(E, n)] if n > E else [])
        print(f"{a} − {b}, mean loss difference: " + ", ".join(
            f"steps {lo + 1}–{hi} {mean(loss[a][lo:hi]) - mean(loss[b][lo:hi]):+.5f}" for lo, hi in spans))

    if args.hf_float64:
        f = read_hf(args.hf_float64)[0]
        others = [(name, v) for name, v in loss.items() if "'" not in name]  # the runs from the same start
        m = min([len(f)] + [len(v) for _, v in others])
        print(f"\nagainst PyTorch in float64 (steps 1–{m}), |run − float64| at some steps:")
        for s in (1, 2, 3, 5, 10, 20, 50, 100, 150, 200, 250, 300, 350, 400, 500, 1000, 1357, 2000, 2714):
            if s <= m:
                print(f"  step {s}: " + ", ".join(f"{name} {abs(v[s - 1] - f[s - 1]):.2e}" for name, v in others))
        for name, v in others:
            print(f"  where {name} parts from float64: {onset(v[:m], f[:m])}")
        head = ["steps", "float64"] + [f"rms {name} − float64" for name, _ in others]
        print(f"\nper {W} steps: float64's mean loss, root-mean-square of each run's per-step difference to it")
        row(head)
        print("|" + "---|" * len(head))
        for lo in range(0, m, W):
            hi = min(m, lo + W)
            row([f"{lo + 1}–{hi}", f"{mean(f[lo:hi]):.4f}"] +
                [f"{rms([x - y for x, y in zip(v[lo:hi], f[lo:hi])]):.2e}" for _, v in others])

    print("\ndev evaluations (threshold 0.3)")
    row(["run", "step", "dev loss", "macro-F1", "micro-F1"])
    print("|---|---|---|---|---|")
    for name, (_, evals, _) in runs.items():
        for step, dev_loss, macro, micro in evals:
            row([name, str(step), f"{dev_loss:.4f}", f"{macro:.4f}", f"{micro:.4f}"])
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
    co.add_argument("--hf-perturbed", default=None, metavar="JSON", help="PyTorch from start_perturbed/")
    co.add_argument("--temper-perturbed", default=None, metavar="RUN_DIR", help="temper from start_perturbed/")
    co.add_argument("--hf-float64", default=None, metavar="JSON|CKPT",
                    help="PyTorch's run in float64 (--float64; a .ckpt of --stop-at-step for its first steps)")
    co.add_argument("--window", type=int, default=200)
    co.add_argument("--epoch-steps", type=int, default=1357, help="steps per epoch, for the per-epoch means")
    lo = sub.add_parser("losses", help="a --stop-at-step checkpoint's losses as a small JSON that compare reads")
    lo.add_argument("ckpt")
    lo.add_argument("out")
    args = ap.parse_args()
    if args.cmd == "losses":
        losses(args)
    elif args.cmd == "prepare":
        if args.data is None:
            import goemotions_baseline as gb
            args.data = gb.DEFAULT_DATA
        prepare(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
