#!/usr/bin/env python3
"""HF's fine-tuning steps on all-MiniLM-L6-v2, recorded for temper to retrace step for step (tests/test_minilm.cpp).

    .venv/bin/python tools/minilm_trajectory.py      # -> .devdata/minilm/trajectory/ (git-ignored)

The whole training step of tools/goemotions_baseline.py (the PyTorch side of docs/goemotions_pretrained.md) on
fixed batches, in float64 and without dropout, so that temper's step (forward, BCE-with-logits, backward, global
norm clipping, AdamW with HF's no-decay split, linear warmup/decay) must give the same losses, gradient norms and
weights to float64 rounding (the test allows 1e-12 relative): a difference in any part shows far above that.

- model/: all-MiniLM-L6-v2 (tools/minilm.py) as BertForSequenceClassification with the 28 GoEmotions labels
  (problem_type multi_label_classification), its new classifier drawn by transformers from torch.manual_seed(seed),
  hidden_dropout_prob and attention_probs_dropout_prob 0; save_pretrained, float32. Both sides start from it.
- reference.safetensors: per step k = 0..steps-1 the batch (step<k>.input_ids, step<k>.attention_mask, int64
  [B, S], padded to its longest text; step<k>.labels, F64 multi-hot [B, 28]) from the first steps x batch GoEmotions
  training texts in file order, tokenized by the model's tokenizer (max_length 64); loss, grad_norm (what
  clip_grad_norm_ returned: the norm before clipping) and lr (the step's learning rate), F64 [steps]; and
  final.<name>, some parameters after the last step (F64). __metadata__: the hyper-parameters and versions.
- model_dropout/ and dropout.safetensors: what steps cannot check, dropout, which draws different masks in each
  framework. The same start weights with the checkpoint's dropout (0.1 on hidden states, attention probabilities
  and the pooled output), float32, train mode: loss and global gradient norm of step 0's batch for --draws
  independent dropout draws (loss, grad_norm, F64 [draws]), and ‖h - h_eval‖ / ‖h_eval‖ of last_hidden_state at
  the tokens for as many further draws (hidden_moved). Their means and spreads are what temper's must match,
  within the sampling error of that many draws.
- masked_dropout.safetensors: dropout checked exactly: the float32-gradient batch below (input_ids,
  attention_mask, labels F64) through model_dropout/'s weights in float64, train mode, where every dropout drops
  what temper's would from a Generator seeded --dropout-seed (temper_order.dropout_uniform): loss (F64 [1]) and
  every parameter's gradient (grad.<name>, F64). __metadata__: seed, the Philox blocks the pass took (blocks) and
  the shape of each dropout in call order (calls). temper must give both to float64 rounding.
- gradients.safetensors: the float32 backward pass at this model's real sizes, which the float64 steps cannot
  check: one training batch (the first --grad-batch-size texts; input_ids, attention_mask, labels), no dropout,
  from model/'s weights: the loss (f32.loss, f64.loss) and every parameter's gradient (f32.grad.<name>,
  f64.grad.<name>; both stored as F32, which rounds the float64 one by 6e-8 relative, far below the float32
  errors compared) in float32 and in float64. HF's own float32 error against float64 is the yardstick for
  temper's.

--start DIR begins from a fine-tuned classifier instead (a HF BertForSequenceClassification directory with the
28 GoEmotions labels, e.g. temper's run_dir/best): every record above is then made at that trained state, where
dropout and float32 rounding act on a trained head; with --out elsewhere and TEMPER_MINILM_TRAJECTORY set to it,
test_minilm runs its checks there.
"""

import argparse
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torch import nn  # noqa: E402
from transformers import AutoModelForSequenceClassification  # noqa: E402

import goemotions_baseline as gb  # noqa: E402
import minilm  # noqa: E402
import temper_order  # noqa: E402

OUT_DIR = os.path.join(ROOT, ".devdata", "minilm", "trajectory")
# Parameters compared after the last step: the new head, the pooler, and one tensor of each other kind.
FINAL = ("classifier.weight", "classifier.bias", "bert.pooler.dense.weight",
         "bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.5.output.LayerNorm.weight",
         "bert.embeddings.LayerNorm.bias", "bert.embeddings.token_type_embeddings.weight")


def dropout_stats(model, config, ids, labels, pad_id, num_labels, args):
    """Loss and gradient norm of the first batch, and the change of last_hidden_state, each under args.draws
    dropout draws (float32, train mode)."""
    m = AutoModelForSequenceClassification.from_config(config, attn_implementation="eager")
    m.load_state_dict(model.state_dict())
    m.train()
    idx = list(range(args.batch_size))
    x, mask = gb.pad_batch(ids, idx, pad_id)
    y = gb.multi_hot(labels, idx, num_labels)
    torch.manual_seed(args.seed + 1)
    losses, norms = [], []
    for _ in range(args.draws):
        loss = nn.BCEWithLogitsLoss()(gb.logits_of(m, x, mask), y)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(m.parameters(), float("inf"))))
        m.zero_grad(set_to_none=True)
        losses.append(loss.item())
    # How far dropout moves last_hidden_state from the eval-mode one (at the tokens, not the padding): every
    # dropout of the encoder shows in it, where the loss of a new head hardly depends on the encoder.
    keep = mask.bool()
    with torch.no_grad():
        m.eval()
        h0 = m.bert(input_ids=x, attention_mask=mask).last_hidden_state[keep]
        m.train()
        moved = [float((m.bert(input_ids=x, attention_mask=mask).last_hidden_state[keep] - h0).norm() / h0.norm())
                 for _ in range(args.draws)]
    t = [torch.tensor(v, dtype=torch.float64) for v in (losses, norms, moved)]
    print(f"dropout, {args.draws} draws: loss {t[0].mean():.6f} ± {t[0].std():.6f}, "
          f"grad norm {t[1].mean():.6f} ± {t[1].std():.6f}, hidden state moved {t[2].mean():.6f} ± {t[2].std():.6f}",
          flush=True)
    save_file({"loss": t[0], "grad_norm": t[1], "hidden_moved": t[2]}, os.path.join(args.out, "dropout.safetensors"),
              metadata={"draws": str(args.draws), "batch_size": str(args.batch_size), "torch": torch.__version__,
                        "transformers": transformers.__version__})


def masked_dropout_gradients(model, config, ids, labels, pad_id, num_labels, args):
    """Loss and parameter gradients of the float32-gradient batch in float64 with the checkpoint's dropout, every
    dropout drawing temper's mask: torch.nn.functional.dropout (which nn.Dropout and the eager attention both
    call) is swapped for temper's Philox draws from (seed, offset 0), each call taking the next blocks as temper's
    Generator::reserve does. Where, in what order, on which layout and with what scale temper drops is then
    checked exactly, which the statistics of dropout_stats cannot."""
    temper_order.self_test()
    m = AutoModelForSequenceClassification.from_config(config, attn_implementation="eager")
    m.load_state_dict(model.state_dict())
    m = m.double()
    m.train()
    idx = list(range(args.grad_batch_size))
    x, mask = gb.pad_batch(ids, idx, pad_id)
    y = gb.multi_hot(labels, idx, num_labels).double()
    with temper_order.TemperDropout(args.dropout_seed) as drop:
        loss = nn.BCEWithLogitsLoss()(gb.logits_of(m, x, mask), y)
        loss.backward()
    out = {"input_ids": x, "attention_mask": mask, "labels": y, "loss": loss.detach().reshape(1)}
    for name, p in m.named_parameters():
        out[f"grad.{name}"] = p.grad.contiguous()
    print(f"float64 with temper's dropout masks (seed {args.dropout_seed}): loss {loss.item():.12f}, "
          f"{len(drop.shapes)} dropouts, {drop.offset} Philox blocks", flush=True)
    save_file(out, os.path.join(args.out, "masked_dropout.safetensors"),
              metadata={"seed": str(args.dropout_seed), "blocks": str(drop.offset),
                        "calls": json.dumps(drop.shapes), "torch": torch.__version__,
                        "transformers": transformers.__version__})


def float32_gradients(model, ids, labels, pad_id, num_labels, args):
    """Loss and parameter gradients of one batch without dropout, from the same weights in float32 and float64."""
    idx = list(range(args.grad_batch_size))
    x, mask = gb.pad_batch(ids, idx, pad_id)
    y = gb.multi_hot(labels, idx, num_labels)
    out = {"input_ids": x, "attention_mask": mask, "labels": y}
    for tag, m in (("f32", copy.deepcopy(model).float()), ("f64", copy.deepcopy(model).double())):
        m.train()  # the config's dropout is 0: train mode only as in a training step
        loss = nn.BCEWithLogitsLoss()(gb.logits_of(m, x, mask), y.to(m.dtype))
        loss.backward()
        out[f"{tag}.loss"] = loss.detach().double().reshape(1)
        for name, p in m.named_parameters():
            out[f"{tag}.grad.{name}"] = p.grad.float().contiguous()
        print(f"gradients, {tag}: loss {loss.item():.10f}, batch {list(x.shape)}", flush=True)
    save_file(out, os.path.join(args.out, "gradients.safetensors"),
              metadata={"batch_size": str(args.grad_batch_size), "torch": torch.__version__,
                        "transformers": transformers.__version__})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=gb.DEFAULT_DATA, help="GoEmotions directory (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--warmup", type=int, default=3, help="warmup steps of the linear schedule")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    # Inside the range of these steps' gradient norms (0.255-0.281), so most steps clip and some do not: both
    # branches run (the real runs' 1.0 is not reached here).
    ap.add_argument("--max-grad-norm", type=float, default=0.265)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--grad-batch-size", type=int, default=32,
                    help="texts in the batch of the float32-vs-float64 gradients (the runs' batch size)")
    ap.add_argument("--draws", type=int, default=200, help="dropout draws of the dropout statistics")
    ap.add_argument("--dropout-seed", type=int, default=7,
                    help="temper Generator seed of the dropout masks in masked_dropout.safetensors")
    ap.add_argument("--out", default=OUT_DIR)
    ap.add_argument("--start", default=None, metavar="DIR",
                    help="start from this fine-tuned classifier (e.g. temper's run_dir/best) instead of a new head")
    args = ap.parse_args()

    mdir = minilm.model_dir()
    names = gb.read_label_names(os.path.join(args.data, "emotions.txt"))
    texts, labels = gb.read_goemotions_tsv(os.path.join(args.data, "train.tsv"), len(names))
    n = max(args.steps * args.batch_size, args.grad_batch_size)
    ids, tok = gb.hf_tokenize_dir(texts[:n], mdir, args.max_length)

    src = args.start or mdir  # the weights (and config) the records start from; the tokenizer is mdir's
    torch.manual_seed(args.seed)
    model, config, _ = gb.pretrained_classifier(src, names, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model_dir = os.path.join(args.out, "model")
    model.save_pretrained(model_dir)
    # The same weights with the checkpoint's dropout, for the dropout checks (statistics, temper's masks).
    with_dropout = gb.multilabel_config(src, names)
    model.config = with_dropout
    model.save_pretrained(os.path.join(args.out, "model_dropout"))
    model.config = config
    dropout_stats(model, with_dropout, ids, labels, tok["pad"], len(names), args)
    masked_dropout_gradients(model, with_dropout, ids, labels, tok["pad"], len(names), args)
    float32_gradients(model, ids, labels, tok["pad"], len(names), args)
    model = model.double()
    model.train()

    decay = gb.decay_parameter_names(model)
    params = list(model.named_parameters())
    groups = [{"params": [p for s, p in params if s in decay], "weight_decay": args.weight_decay},
              {"params": [p for s, p in params if s not in decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)
    sched = transformers.get_linear_schedule_with_warmup(opt, args.warmup, args.steps)
    bce = nn.BCEWithLogitsLoss()

    out, losses, norms, lrs = {}, [], [], []
    for k in range(args.steps):
        idx = list(range(k * args.batch_size, (k + 1) * args.batch_size))
        x, m = gb.pad_batch(ids, idx, tok["pad"])
        y = gb.multi_hot(labels, idx, len(names)).double()
        lrs.append(sched.get_last_lr()[0])
        loss = bce(gb.logits_of(model, x, m), y)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)))
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        out[f"step{k}.input_ids"], out[f"step{k}.attention_mask"], out[f"step{k}.labels"] = x, m, y
        print(f"step {k + 1}: loss {losses[-1]:.10f}, grad norm {norms[-1]:.6f}, lr {lrs[-1]:.3g}", flush=True)
    out["loss"] = torch.tensor(losses, dtype=torch.float64)
    out["grad_norm"] = torch.tensor(norms, dtype=torch.float64)
    out["lr"] = torch.tensor(lrs, dtype=torch.float64)
    state = dict(model.named_parameters())
    for name in FINAL:
        out["final." + name] = state[name].detach().clone().contiguous()
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "model": src,
            "data": os.path.abspath(args.data), "tokenizer": tok["name"],
            **{k: str(v) for k, v in vars(args).items() if k not in ("data", "out")}}
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(args.out, "reference.safetensors"),
              metadata=meta)
    print(f"wrote {model_dir} and {os.path.join(args.out, 'reference.safetensors')}; clipped in "
          f"{sum(v > args.max_grad_norm for v in norms)} of {args.steps} steps; {json.dumps(meta)}")


if __name__ == "__main__":
    main()
