#!/usr/bin/env python3
"""PyTorch baseline for temper's `goemotions` runs: random init (issue 4, item 7) or fine-tuning (issue 20).

Trains DistilBertForSequenceClassification from random init on GoEmotions with the setup of
temper's Trainer (include/temper/train/trainer.hpp) and writes a JSON summary, so the two
frameworks' dev macro-F1 can be compared (docs/goemotions_parity.md):

    .venv/bin/python tools/goemotions_baseline.py --config tools/goemotions_small_config.json \\
        --epochs 2 --batch-size 32 --lr 1e-3 --max-length 64 --warmup-ratio 0.1 --weight-decay 0.01 \\
        --max-grad-norm 1 --threshold 0.3 --seed 1 --threads 1 --out runs-parity/torch_s1.json

The defaults of the training options are those of `goemotions` (3 epochs, batch 16, lr 2e-5,
max_length 128, warmup 0.1, weight decay 0.01, clipping 1.0, threshold 0.3).

What is the same as temper's goemotions program (`--init random --config FILE --vocab FILE`):
  * data: train/dev/test.tsv ("text<TAB>ids<TAB>comment id", ids comma-separated) + emotions.txt;
  * tokens: transformers' BertTokenizerFast from vocab.txt (lower case), truncated to max_length
    tokens with [CLS] and [SEP] included; temper's WordPiece is tested to give the same ids
    (tests/test_tokenizer_goemotions.cpp);
  * model: the config file's DistilBERT with a multi-label head, transformers'
    DistilBertForSequenceClassification (eager attention);
  * init: HF's DistilBertPreTrainedModel._init_weights: Linear and Embedding weights
    N(0, initializer_range), biases 0, the padding row 0, LayerNorm weight 1 and bias 0;
  * optimisation: torch.optim.AdamW (betas 0.9/0.999, eps 1e-8) with HF Trainer's no-decay
    groups (biases and LayerNorm weights get weight decay 0), transformers'
    get_linear_schedule_with_warmup, warmup = ceil(warmup_ratio * total steps),
    clip_grad_norm_(max_grad_norm), BCEWithLogitsLoss (mean);
  * batches: a new random permutation of the training set every epoch, batches of batch_size
    (the last one short), each padded with [PAD] to its longest example;
  * evaluation: on dev at the end of every epoch (and at the last step), eval mode, probability
    sigmoid(logit) >= threshold; the best dev macro-F1 keeps its weights; at the end the best
    model's per-label thresholds are tuned on dev (grid 0.05..0.95 step 0.05, ties to the value
    nearest 0.5, then the higher) and the test set is scored with them and with the fixed threshold;
  * metrics: sklearn's precision_recall_fscore_support semantics with zero_division=0 (macro = mean
    over all 28 labels; micro pools the counts), exact-match accuracy.

What differs: the random numbers (torch's generator vs temper's Philox streams), so initial
weights, batch order and dropout masks differ; compare several seeds per framework. --order temper
takes temper's batch order for --seed instead (tools/temper_order.py), for runs in lockstep with temper's
(tools/goemotions_lockstep.py).

Needs the packages of tools/requirements.txt (torch, transformers, safetensors, numpy). The
script says which BLAS torch uses: a torch built against the reference BLAS (BLAS_INFO=generic,
e.g. Debian's python3-torch) is about 25x slower on these matmuls than OpenBLAS or MKL.

--stop-at-step N writes a checkpoint (--checkpoint FILE: weights, AdamW and schedule state, the random
generators, the batch position, the evaluations so far and the time spent) after step N and exits; --resume
continues from it with the same options and gives the same losses and scores as one straight run
(tools/check_baseline_resume.py checks that), with the training times adding both parts: a long run can be
done in pieces.

--init-from DIR and --save-init DIR exchange initial weights with temper (HF directories), for
checks that take the random initialisation out of the comparison.

--model DIR fine-tunes a pretrained HF checkpoint instead, like temper's `goemotions --model DIR`
(tools/goemotions_hf_finetune.py runs it with the fine-tuning defaults): AutoModelForSequenceClassification
(DistilBERT or BERT by config.json's model_type, eager attention) with problem_type
multi_label_classification and GoEmotions' 28 labels, the new head initialised by transformers
(N(0, initializer_range), bias 0), and DIR's own tokenizer (AutoTokenizer) truncating to max_length;
--config, --vocab and the random init are not used. Everything else is as above.
"""

import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import transformers
from safetensors.torch import load_file, save_file
from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, BertTokenizerFast,
                          DistilBertConfig, DistilBertForSequenceClassification, get_linear_schedule_with_warmup)

import temper_order  # this directory: temper's batch order and dropout draws

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "goemotions"))  # see ../shared/README.md
# The training options the JSON summary records (and a --resume must match).
HYPER_PARAMETERS = ("epochs", "batch_size", "max_length", "lr", "weight_decay", "warmup_ratio", "max_grad_norm",
                    "max_steps", "threshold")

# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def read_label_names(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def read_goemotions_tsv(path, num_labels):
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for lineno, line in enumerate(f.read().split("\n"), 1):
            if line == "":
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise SystemExit(f"{path}:{lineno}: expected 3 tab-separated fields, found {len(fields)}")
            ids = [int(x) for x in fields[1].split(",")]
            if not ids or any(i < 0 or i >= num_labels for i in ids):
                raise SystemExit(f"{path}:{lineno}: label ids {fields[1]!r} outside 0..{num_labels - 1}")
            texts.append(fields[0])
            labels.append(ids)
    return texts, labels


def hf_tokenize(texts, vocab, max_length):
    """transformers' BertTokenizerFast for bert-base-uncased's vocab.txt, truncating to max_length
    tokens ([CLS] and [SEP] included)."""
    t = BertTokenizerFast(vocab=vocab, do_lower_case=True)  # transformers 5: `vocab`, not vocab_file
    if len(t.get_vocab()) < 1000:
        raise SystemExit(f"BertTokenizerFast read {len(t.get_vocab())} tokens from {vocab}")
    ids = t(texts, truncation=True, max_length=max_length)["input_ids"]
    return ids, {"version": transformers.__version__, "pad": t.pad_token_id,
                 "name": f"BertTokenizerFast (transformers {transformers.__version__}), {os.path.abspath(vocab)}"}


def hf_tokenize_dir(texts, model_dir, max_length):
    """The model directory's own tokenizer (AutoTokenizer: tokenizer.json or vocab.txt), truncating to max_length
    tokens; unpadded (padding=False also turns off a padding that tokenizer.json may switch on)."""
    t = AutoTokenizer.from_pretrained(model_dir)
    ids = t(texts, truncation=True, max_length=max_length, padding=False)["input_ids"]
    return ids, {"version": transformers.__version__, "pad": t.pad_token_id,
                 "name": f"{type(t).__name__} (transformers {transformers.__version__}), {os.path.abspath(model_dir)}"}


def pad_batch(ids, idx, pad_id):
    longest = max(len(ids[i]) for i in idx)
    x = torch.full((len(idx), longest), pad_id, dtype=torch.long)
    m = torch.zeros((len(idx), longest), dtype=torch.long)
    for b, i in enumerate(idx):
        x[b, :len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
        m[b, :len(ids[i])] = 1
    return x, m


def multi_hot(labels, idx, num_labels):
    y = torch.zeros((len(idx), num_labels), dtype=torch.float32)
    for b, i in enumerate(idx):
        y[b, labels[i]] = 1.0
    return y


# ----------------------------------------------------------------------------------------------
# Metrics (sklearn semantics, zero_division = 0)
# ----------------------------------------------------------------------------------------------


def indicator(labels, num_labels):
    y = np.zeros((len(labels), num_labels), dtype=bool)
    for i, ls in enumerate(labels):
        y[i, ls] = True
    return y


def f1_of(tp, fp, fn):
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)


def scores(y_true, y_pred):
    tp = (y_true & y_pred).sum(0).astype(np.float64)
    fp = (~y_true & y_pred).sum(0).astype(np.float64)
    fn = (y_true & ~y_pred).sum(0).astype(np.float64)
    per_label = f1_of(tp, fp, fn)
    micro = float(f1_of(tp.sum(), fp.sum(), fn.sum()))
    return {"macro_f1": float(per_label.mean()), "micro_f1": micro,
            "accuracy": float((y_true == y_pred).all(1).mean()), "per_label_f1": per_label.tolist()}


def tune_thresholds(probs, y_true, lo=0.05, hi=0.95, step=0.05, prefer=0.5):
    """temper::train::tune_thresholds: per label the grid value with the best F1 (ties: nearest
    `prefer`, then the higher value)."""
    n = int(math.floor((hi - lo) / step + 1e-9))
    grid = [round((lo + k * step) * 1e9) / 1e9 for k in range(n + 1)]
    best = []
    for j in range(y_true.shape[1]):
        yt = y_true[:, j]
        best_num, best_den, best_t = -1, 1, prefer
        for t in grid:
            yp = probs[:, j] >= t
            tp, fp, fn = int((yt & yp).sum()), int((~yt & yp).sum()), int((yt & ~yp).sum())
            num, den = 2 * tp, 2 * tp + fp + fn
            if den == 0:
                num, den = 0, 1
            lhs, rhs = num * best_den, best_num * den
            dist, best_dist = abs(t - prefer), abs(best_t - prefer)
            closer = dist < best_dist - 1e-9 or (abs(dist - best_dist) <= 1e-9 and t > best_t)
            if best_num < 0 or lhs > rhs or (lhs == rhs and closer):
                best_num, best_den, best_t = num, den, t
        best.append(best_t)
    return np.array(best)


# ----------------------------------------------------------------------------------------------
# Model, init, optimiser
# ----------------------------------------------------------------------------------------------


def build_model(cfg):
    kw = {k: v for k, v in cfg.items() if k not in ("model_type", "architectures", "torch_dtype", "dtype",
                                                     "transformers_version")}
    config = DistilBertConfig(attn_implementation="eager", **kw)
    return DistilBertForSequenceClassification(config), f"transformers {transformers.__version__}"


def multilabel_config(model_dir, names, **overrides):
    """model_dir's config with a multi-label head for `names`; `overrides` set further fields (e.g. dropout 0)."""
    return AutoConfig.from_pretrained(model_dir, num_labels=len(names), problem_type="multi_label_classification",
                                      id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
                                      **overrides)


def pretrained_classifier(model_dir, names, **overrides):
    """model_dir's weights with a multi-label head for `names` (new ones drawn from torch's default generator where
    the checkpoint has none), float32, eager attention: (model, config, loading info)."""
    config = multilabel_config(model_dir, names, **overrides)
    model, info = AutoModelForSequenceClassification.from_pretrained(
        model_dir, config=config, attn_implementation="eager", dtype=torch.float32, output_loading_info=True)
    return model, config, info


def load_pretrained(model_dir, names):
    """A pretrained checkpoint with a new multi-label head for `names` (what temper's goemotions --model DIR builds)."""
    model, config, info = pretrained_classifier(model_dir, names)
    new = sorted(info["missing_keys"])
    print(f"loaded {model_dir}: newly initialised {new}; unused {sorted(info['unexpected_keys'])}", flush=True)
    return model, config.to_dict(), f"transformers {transformers.__version__} {type(model).__name__} from {model_dir}"


def init_weights(model, std):
    """transformers' DistilBertPreTrainedModel._init_weights over all modules."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.weight.data.normal_(mean=0.0, std=std)
            if m.bias is not None:
                m.bias.data.zero_()
        elif isinstance(m, nn.Embedding):
            m.weight.data.normal_(mean=0.0, std=std)
            if m.padding_idx is not None:
                m.weight.data[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            m.bias.data.zero_()
            m.weight.data.fill_(1.0)


def parameter_names(model, forbidden):
    """transformers.trainer_pt_utils.get_parameter_names: the parameters not inside a `forbidden` layer."""
    result = []
    for name, child in model.named_children():
        if not isinstance(child, forbidden):
            result += [f"{name}.{n}" for n in parameter_names(child, forbidden)]
    result += list(model._parameters.keys())
    return result


def decay_parameter_names(model):
    """transformers' Trainer.get_decay_parameter_names: not in a LayerNorm and not a bias."""
    return {n for n in parameter_names(model, (nn.LayerNorm,)) if "bias" not in n}


@torch.no_grad()
def predict(model, ids, labels, num_labels, pad_id, batch_size):
    was_training = model.training
    model.eval()
    probs, loss_sum = [], 0.0
    bce = nn.BCEWithLogitsLoss()
    for lo in range(0, len(ids), batch_size):
        idx = list(range(lo, min(len(ids), lo + batch_size)))
        x, m = pad_batch(ids, idx, pad_id)
        logits = logits_of(model, x, m)
        loss_sum += float(bce(logits, multi_hot(labels, idx, num_labels).to(logits.dtype))) * len(idx)
        probs.append(torch.sigmoid(logits.double()).numpy())
    model.train(was_training)
    return np.concatenate(probs), loss_sum / len(ids)


def save_checkpoint(path, state):
    """torch.save to a temporary file renamed over `path`: an interrupted write never leaves a broken checkpoint."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def logits_of(model, x, m):
    return model(input_ids=x, attention_mask=m).logits


# ----------------------------------------------------------------------------------------------


def main(defaults=None, description="PyTorch baseline of temper's goemotions --init random run"):
    """`defaults`: option defaults that replace the ones below (tools/goemotions_hf_finetune.py's)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--vocab", default=os.path.join(ROOT, "..", "shared", "data", "bert-base-uncased", "vocab.txt"))
    ap.add_argument("--config", default=os.path.join(HERE, "goemotions_small_config.json"))
    ap.add_argument("--model", default=None, metavar="DIR",
                    help="fine-tune this pretrained HF directory (its tokenizer too) instead of a random init")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps (0: all epochs)")
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--limit-eval", type=int, default=0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--order", choices=("torch", "temper"), default="torch",
                    help="batch order: torch.randperm from --seed, or temper's Trainer order for --seed "
                         "(tools/temper_order.py), so that both frameworks see the same batches")
    ap.add_argument("--dropout", choices=("torch", "temper"), default="torch",
                    help="dropout masks: torch's generator, or temper's Trainer draws for --seed "
                         "(temper_order.TemperDropout; BERT models), so that both frameworks drop the same elements")
    ap.add_argument("--float64", action="store_true",
                    help="train in float64 (model.double()): the reference that float32 runs round away from")
    ap.add_argument("--init-from", default=None, metavar="DIR",
                    help="start from DIR/model.safetensors (e.g. a temper checkpoint) instead of a random init: "
                         "for step-by-step checks against temper from the same weights")
    ap.add_argument("--save-init", default=None, metavar="DIR",
                    help="write the initial weights as an HF directory (config.json, model.safetensors, vocab.txt) "
                         "that temper's goemotions --model DIR can start from")
    ap.add_argument("--stop-at-step", type=int, default=0,
                    help="after this optimizer step, write --checkpoint and exit (continue with --resume)")
    ap.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    ap.add_argument("--checkpoint", default=None, metavar="FILE",
                    help="the file --stop-at-step writes and --resume reads (default: --out with .ckpt)")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--out", default=None, help="JSON summary file")
    if defaults:
        ap.set_defaults(**defaults)
    args = ap.parse_args()
    if (args.stop_at_step or args.resume) and not args.checkpoint:
        if not args.out:
            raise SystemExit("--stop-at-step and --resume need --checkpoint FILE (or --out, next to which it goes)")
        args.checkpoint = os.path.splitext(args.out)[0] + ".ckpt"

    t0 = time.time()
    torch.set_num_threads(args.threads)
    with open("/proc/self/maps") as f:
        blas = "OpenBLAS" if "openblas" in f.read().lower() else "the BLAS torch was built with"
    if blas != "OpenBLAS" and "BLAS_INFO=generic" in torch.__config__.show():
        blas = "the reference BLAS (slow: see the docstring for OpenBLAS)"
    print(f"torch {torch.__version__}, {args.threads} thread(s), matmuls in {blas}", flush=True)
    names = read_label_names(os.path.join(args.data, "emotions.txt"))
    L = len(names)
    splits = {s: read_goemotions_tsv(os.path.join(args.data, f"{s}.tsv"), L) for s in ("train", "dev", "test")}
    if args.limit_train:
        splits["train"] = tuple(v[:args.limit_train] for v in splits["train"])
    if args.limit_eval:
        for s in ("dev", "test"):
            splits[s] = tuple(v[:args.limit_eval] for v in splits[s])
    if args.model:
        if args.init_from or args.save_init:
            raise SystemExit("--init-from and --save-init are for the random init, not with --model")
        with open(os.path.join(args.model, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
    else:
        with open(args.config, encoding="utf-8") as f:
            cfg = json.load(f)
        if len(cfg["id2label"]) != L or [cfg["id2label"][str(i)] for i in range(L)] != names:
            raise SystemExit(f"{args.config}: id2label differs from emotions.txt")
        if cfg.get("problem_type") != "multi_label_classification":
            raise SystemExit(f"{args.config}: problem_type must be multi_label_classification")

    all_texts = splits["train"][0] + splits["dev"][0] + splits["test"][0]
    if args.model:
        all_ids, tok_info = hf_tokenize_dir(all_texts, args.model, args.max_length)
    else:
        all_ids, tok_info = hf_tokenize(all_texts, args.vocab, args.max_length)
    n_tr, n_dev = len(splits["train"][0]), len(splits["dev"][0])
    ids = {"train": all_ids[:n_tr], "dev": all_ids[n_tr:n_tr + n_dev], "test": all_ids[n_tr + n_dev:]}
    pad_id = tok_info["pad"]
    assert pad_id == cfg.get("pad_token_id", 0), (pad_id, cfg.get("pad_token_id"))
    labels = {s: splits[s][1] for s in splits}
    print(f"data: train {n_tr}, dev {n_dev}, test {len(ids['test'])}, {L} labels; tokens: {tok_info['name']}, "
          f"max_length {args.max_length}; {time.time() - t0:.1f} s", flush=True)

    torch.manual_seed(args.seed)
    if args.model:
        model, cfg, ref = load_pretrained(args.model, names)
    else:
        model, ref = build_model(cfg)
        init_weights(model, cfg["initializer_range"])
    if args.init_from:
        weights = load_file(os.path.join(args.init_from, "model.safetensors"))
        model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
        ref += f", weights from {args.init_from}"
    if args.save_init:
        os.makedirs(args.save_init, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
                  os.path.join(args.save_init, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(args.save_init, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        with open(args.vocab, "rb") as src, open(os.path.join(args.save_init, "vocab.txt"), "wb") as dst:
            dst.write(src.read())
    if args.float64:
        model = model.double()
        ref += ", float64"
    decay = decay_parameter_names(model)
    params = list(model.named_parameters())
    groups = [{"params": [p for n, p in params if n in decay], "weight_decay": args.weight_decay},
              {"params": [p for n, p in params if n not in decay], "weight_decay": 0.0}]
    n_params = sum(p.numel() for _, p in params)
    layers, dim = cfg.get("n_layers", cfg.get("num_hidden_layers")), cfg.get("dim", cfg.get("hidden_size"))
    print(f"model: {ref}, {layers} layers, dim {dim}, {n_params} parameters; "
          f"{len(groups[0]['params'])} tensors with weight decay, {len(groups[1]['params'])} without", flush=True)
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)

    B = args.batch_size
    steps_per_epoch = (n_tr + B - 1) // B
    total = steps_per_epoch * args.epochs
    if args.max_steps > 0:
        total = min(total, args.max_steps)
    warmup = math.ceil(args.warmup_ratio * total)
    sched = get_linear_schedule_with_warmup(opt, warmup, total)
    bce = nn.BCEWithLogitsLoss()
    perm_gen = torch.Generator().manual_seed(args.seed)
    # temper's Trainer draws its dropout masks from Generator(derive_seed(seed, 2)), offset 0 at the first step.
    drop = temper_order.TemperDropout(temper_order.derive_seed(args.seed, 2)) if args.dropout == "temper" else None
    y_dev = indicator(labels["dev"], L)

    history, train_loss, best, best_state, best_step, step = [], [], -1.0, None, -1, 0
    eval_s, epoch_train_s = 0.0, []  # evaluation time; training time (no evaluation) per epoch
    start_epoch, start_lo, order = 0, 0, None
    # What must match for --resume to continue the same run.
    same = {"hyper_parameters": {k: getattr(args, k) for k in HYPER_PARAMETERS + ("seed", "limit_train",
                                                                                   "limit_eval", "model", "config",
                                                                                   "order", "dropout", "float64")},
            "threads": args.threads}
    train_s_before = epoch_s_before = 0.0
    if args.resume:
        if not os.path.isfile(args.checkpoint):
            raise SystemExit(f"--resume: no checkpoint {args.checkpoint} (written by a run with --stop-at-step)")
        ck = torch.load(args.checkpoint, weights_only=False)
        if ck["same"] != same:
            raise SystemExit(f"{args.checkpoint}: written with {ck['same']}, not {same}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        perm_gen.set_state(ck["perm_gen"])
        torch.set_rng_state(ck["torch_rng"])
        if drop:
            drop.offset = ck["temper_dropout_offset"]
        (history, train_loss, best, best_state, best_step, step, eval_s, epoch_train_s, start_epoch, start_lo, order,
         train_s_before, epoch_s_before) = (ck[k] for k in (
            "history", "train_loss", "best", "best_state", "best_step", "step", "eval_s", "epoch_train_s", "epoch",
            "lo", "order", "train_s", "epoch_s"))
        print(f"resumed from {args.checkpoint} at step {step}", flush=True)
    model.train()
    if drop:
        drop.__enter__()  # for the rest of the run; evaluation (eval mode) draws nothing, as in temper
    # Clocks started earlier by the time already spent, so the totals add the parts of a resumed run.
    t_train = time.time() - train_s_before
    t_epoch = time.time() - epoch_s_before
    window, window_n, t_window = 0.0, 0, time.time()
    done = False
    for epoch in range(start_epoch, args.epochs):
        if epoch != start_epoch or order is None:
            order = (temper_order.epoch_order(n_tr, epoch, args.seed) if args.order == "temper"
                     else torch.randperm(n_tr, generator=perm_gen).tolist())
        for lo in range(start_lo if epoch == start_epoch else 0, n_tr, B):
            idx = order[lo:lo + B]
            x, m = pad_batch(ids["train"], idx, pad_id)
            logits = logits_of(model, x, m)
            loss = bce(logits, multi_hot(labels["train"], idx, L).to(logits.dtype))
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise SystemExit(f"loss is {loss_value} at step {step + 1}")
            loss.backward()
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            train_loss.append(loss_value)
            window += loss_value
            window_n += 1
            if args.log_every and step % args.log_every == 0:
                dt = time.time() - t_window
                print(f"step {step}/{total}: loss {window / window_n:.4f}, lr {sched.get_last_lr()[0]:.3g}, "
                      f"{window_n * B / dt:.1f} samples/s", flush=True)
                window, window_n, t_window = 0.0, 0, time.time()
            last = step >= total
            if lo + B >= n_tr or last:
                t_eval = time.time()
                epoch_train_s.append(t_eval - t_epoch)
                probs, dev_loss = predict(model, ids["dev"], labels["dev"], L, pad_id, args.eval_batch_size)
                s = scores(y_dev, probs >= args.threshold)
                history.append({"step": step, "epoch": epoch + 1, "dev_loss": dev_loss, "dev_macro_f1": s["macro_f1"],
                                "dev_micro_f1": s["micro_f1"], "dev_accuracy": s["accuracy"],
                                "elapsed_s": time.time() - t_train})
                print(f"step {step}: dev loss {dev_loss:.4f}, macro-F1 {s['macro_f1']:.4f}, "
                      f"micro-F1 {s['micro_f1']:.4f}", flush=True)
                if s["macro_f1"] > best:
                    best, best_step, best_state = s["macro_f1"], step, copy.deepcopy(model.state_dict())
                eval_s += time.time() - t_eval
                t_window += time.time() - t_eval  # samples/s counts training only
                t_epoch = time.time()
            if last:
                done = True
                break
            if step == args.stop_at_step:
                save_checkpoint(args.checkpoint, {
                    "same": same, "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "perm_gen": perm_gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "temper_dropout_offset": drop.offset if drop else 0,
                    "history": history, "train_loss": train_loss, "best": best,
                    "best_state": best_state, "best_step": best_step, "step": step, "eval_s": eval_s,
                    "epoch_train_s": epoch_train_s, "epoch": epoch, "lo": lo + B, "order": order,
                    "train_s": time.time() - t_train, "epoch_s": time.time() - t_epoch})
                print(f"stopped at step {step}; continue with --resume (checkpoint {args.checkpoint})", flush=True)
                return
        if done:
            break
    train_s = time.time() - t_train

    model.load_state_dict(best_state)
    dev_probs, _ = predict(model, ids["dev"], labels["dev"], L, pad_id, args.eval_batch_size)
    th = tune_thresholds(dev_probs, y_dev)
    test_probs, test_loss = predict(model, ids["test"], labels["test"], L, pad_id, args.eval_batch_size)
    y_test = indicator(labels["test"], L)
    test_fixed = scores(y_test, test_probs >= args.threshold)
    test_tuned = scores(y_test, test_probs >= th[None, :])
    dev_best = scores(y_dev, dev_probs >= args.threshold)
    summary = {
        "framework": "pytorch", "torch": torch.__version__, "reference_model": ref,
        "tokenizer": tok_info["name"],
        "config": os.path.abspath(os.path.join(args.model, "config.json") if args.model else args.config),
        "seed": args.seed, "order": args.order, "dropout": args.dropout, "float64": args.float64,
        "threads": args.threads, "blas": blas,
        "hyper_parameters": {k: getattr(args, k) for k in HYPER_PARAMETERS},
        "steps": step, "warmup_steps": warmup, "total_steps": total,
        "best_step": best_step, "best_dev_macro_f1": best, "dev_at_best": {k: v for k, v in dev_best.items()
                                                                          if k != "per_label_f1"},
        "last_dev_macro_f1": history[-1]["dev_macro_f1"], "last_dev_micro_f1": history[-1]["dev_micro_f1"],
        "evals": history,
        "test_fixed_threshold": {k: v for k, v in test_fixed.items() if k != "per_label_f1"},
        "test_tuned_thresholds": {k: v for k, v in test_tuned.items() if k != "per_label_f1"},
        "test_loss": test_loss, "tuned_thresholds": th.tolist(),
        "train_loss": train_loss, "train_seconds": train_s, "total_seconds": time.time() - t0,
        "eval_seconds": eval_s, "train_seconds_per_epoch": epoch_train_s,
        "seconds_per_step": (train_s - eval_s) / step,
    }
    print(f"\ntrained {step} steps in {train_s:.1f} s ({(train_s - eval_s) / step:.3f} s per step without the "
          f"{eval_s:.1f} s of evaluation); best dev macro-F1 {best:.4f} at step {best_step}")
    print(f"test (fixed threshold {args.threshold}): micro-F1 {test_fixed['micro_f1']:.4f}, "
          f"macro-F1 {test_fixed['macro_f1']:.4f}; tuned thresholds: micro-F1 {test_tuned['micro_f1']:.4f}, "
          f"macro-F1 {test_tuned['macro_f1']:.4f}")
    print(f"total time {summary['total_seconds']:.1f} s")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
