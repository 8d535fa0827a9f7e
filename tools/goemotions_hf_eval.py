#!/usr/bin/env python3
"""Score fine-tuned GoEmotions classifiers with PyTorch + HF transformers, as tools/goemotions_baseline.py
scores its own model during training (eval mode, batches padded to their longest text, sigmoid >= threshold,
sklearn's F1 with zero_division 0).

    .venv/bin/python tools/goemotions_hf_eval.py runs/minilm_lr2e-4_s2/best [more dirs] [--split dev]

Each DIR is a HF checkpoint directory with the 28 GoEmotions labels (temper's run_dir/best or last, which
goemotions --run-dir writes) and its own tokenizer. Prints per DIR: the mean BCE loss, macro- and micro-F1 at
--threshold, the labels predicted per text beside the true ones, and how many labels have a true positive.
For temper's runs these must equal what the run reported for that split (docs/goemotions_pretrained.md uses
it to show that a difference between the frameworks is in the trained weights, not in the scoring).
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification  # noqa: E402

import goemotions_baseline as gb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    ap.add_argument("--data", default=gb.DEFAULT_DATA, help="GoEmotions directory (default: %(default)s)")
    ap.add_argument("--split", default="dev", choices=("dev", "test"))
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = gb.read_label_names(os.path.join(args.data, "emotions.txt"))
    L = len(names)
    texts, labels = gb.read_goemotions_tsv(os.path.join(args.data, f"{args.split}.tsv"), L)
    y = gb.indicator(labels, L)
    for d in args.dirs:
        ids, tok = gb.hf_tokenize_dir(texts, d, args.max_length)
        model = AutoModelForSequenceClassification.from_pretrained(d, attn_implementation="eager", dtype=torch.float32)
        if model.config.num_labels != L:
            raise SystemExit(f"{d}: {model.config.num_labels} labels, GoEmotions has {L}")
        probs, loss = gb.predict(model, ids, labels, L, tok["pad"], args.batch_size)
        pred = probs >= args.threshold
        s = gb.scores(y, pred)
        hit = sum(1 for j in range(L) if (pred[:, j] & (y[:, j] > 0)).any())
        print(f"{d}: {args.split} loss {loss:.6f}, macro-F1 {s['macro_f1']:.6f}, micro-F1 {s['micro_f1']:.6f} "
              f"at {args.threshold}; labels predicted per text {pred.sum(1).mean():.3f} (true {y.sum(1).mean():.3f}), "
              f"labels with a true positive {hit} of {L}", flush=True)


if __name__ == "__main__":
    main()
