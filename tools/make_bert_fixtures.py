#!/usr/bin/env python3
"""Generate HuggingFace-made parity fixtures for temper's BERT.

Usage:
    .venv/bin/python tools/make_bert_fixtures.py [--out tests/fixtures]

Needs torch, transformers and safetensors (tools/requirements.txt).  The
reference is transformers.BertForSequenceClassification itself
(attn_implementation "eager"), run on the CPU with one thread.

Outputs per fixture directory tests/fixtures/<name>/:
  config.json            HF BertConfig keys (model_type "bert")
  model.safetensors      the weights (F32 or BF16 storage)
  expected.safetensors   inputs (input_ids, attention_mask, token_type_ids),
                         labels, and for p in f64 / f32 (the model in
                         float64 / float32, weights upcast from storage):
                           p.last_hidden_state, p.pooler_output (BertModel),
                           p.logits, p.loss and p.grad.<name>: the gradient
                           of the loss for every parameter

Weights are drawn from a SplitMix64 generator (tools/make_fixtures.py), not
torch's RNG, so they do not depend on the torch version; they are far from
HF's std-0.02 init so that outputs and gradients are not trivial.  Rerunning
the script leaves the files byte-identical.
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file, save

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import SplitMix64  # noqa: E402

BATCH = 4
SEQ = 7
LENGTHS = [7, 5, 2, 1]  # valid length of each row; right padding with pad_token_id 0
SEGMENT_B = [3, 2, 1, 1]  # first position of token type 1 in each row (>= length: none)

FIXTURES = [
    dict(name="bert_tiny_a", seed=0xBE27A1, hidden_size=16, num_attention_heads=4, num_hidden_layers=2,
         intermediate_size=32, vocab_size=40, max_position_embeddings=12, type_vocab_size=2,
         problem_type="multi_label_classification", num_labels=4, storage="F32", hidden_act="gelu"),
    dict(name="bert_tiny_b", seed=0xBE27B2, hidden_size=12, num_attention_heads=3, num_hidden_layers=3,
         intermediate_size=20, vocab_size=30, max_position_embeddings=10, type_vocab_size=2,
         problem_type="single_label_classification", num_labels=3, storage="BF16", hidden_act="gelu"),
]

W_STD = 0.3   # Linear / Embedding weights
B_STD = 0.1   # Linear biases
LN_STD = 0.1  # LayerNorm: weight = 1 + 0.1 n, bias = 0.1 n
STORAGE = {"F32": torch.float32, "BF16": torch.bfloat16}


def save_file(tensors, path, metadata):
    """safetensors' own writer, with the JSON header's keys sorted: the package orders __metadata__ by a hash
    map, which changes from run to run, and the fixtures must be byte-identical when regenerated."""
    blob = save(tensors, metadata=metadata)
    n = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8:8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the data stays 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header + blob[8 + n:])


def hf_config(f):
    from transformers import BertConfig
    keys = ("vocab_size", "hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size",
            "max_position_embeddings", "type_vocab_size", "problem_type", "hidden_act")
    c = BertConfig(**{k: f[k] for k in keys},
                   id2label={i: f"label_{i}" for i in range(f["num_labels"])},
                   label2id={f"label_{i}": i for i in range(f["num_labels"])},
                   hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, pad_token_id=0,
                   attn_implementation="eager")
    c._attn_implementation = "eager"
    return c


def build(config, weights, dtype):
    from transformers import BertForSequenceClassification
    m = BertForSequenceClassification(config).to(dtype)
    res = m.load_state_dict({k: v.to(dtype) for k, v in weights.items()}, strict=True)
    assert not res.missing_keys and not res.unexpected_keys, res
    assert m.config._attn_implementation == "eager", m.config._attn_implementation
    m.eval()
    return m


def make_weights(config, rng, storage):
    """{name: tensor in storage dtype} in HF's named_parameters order."""
    from transformers import BertForSequenceClassification
    names = [(n, tuple(p.shape)) for n, p in BertForSequenceClassification(config).named_parameters()]
    out = {}
    for n, shape in names:
        if "LayerNorm" in n:
            t = rng.normal_tensor(shape, LN_STD, mean=1.0 if n.endswith("weight") else 0.0)
        elif n.endswith("bias"):
            t = rng.normal_tensor(shape, B_STD)
        else:
            t = rng.normal_tensor(shape, W_STD)
        out[n] = t.to(torch.float32).to(STORAGE[storage]).contiguous()
    return out


def make_batch(f, rng):
    ids = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    mask = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    types = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        for s in range(n):
            ids[b, s] = rng.randint(1, f["vocab_size"])
            mask[b, s] = 1
            types[b, s] = 1 if s >= SEGMENT_B[b] else 0
    L = f["num_labels"]
    if f["problem_type"] == "multi_label_classification":
        labels = torch.zeros(BATCH, L, dtype=torch.float32)
        for b in range(BATCH):
            for _ in range(2):
                labels[b, rng.randint(0, L)] = 1.0
    else:
        labels = torch.tensor([rng.randint(0, L) for _ in range(BATCH)], dtype=torch.int64)
    return ids, mask, types, labels


def run(model, ids, mask, types, labels, dtype):
    model.zero_grad(set_to_none=True)
    lab = labels.to(dtype) if labels.dtype.is_floating_point else labels
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=lab, return_dict=True)
    out.loss.backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
             for n, p in model.named_parameters()}
    with torch.no_grad():
        enc = model.bert(input_ids=ids, attention_mask=mask, token_type_ids=types, return_dict=True)
    return dict(last_hidden_state=enc.last_hidden_state, pooler_output=enc.pooler_output,
                logits=out.logits.detach(), loss=out.loss.detach(), grads=grads)


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def make_fixture(f, out_root, versions):
    fdir = os.path.join(out_root, f["name"])
    os.makedirs(fdir, exist_ok=True)
    rng = SplitMix64(f["seed"])
    config = hf_config(f)
    weights = make_weights(config, rng, f["storage"])
    ids, mask, types, labels = make_batch(f, rng)

    config.save_pretrained(fdir)  # config.json, as HF writes it
    save_file(weights, os.path.join(fdir, "model.safetensors"), metadata={"format": "pt"})
    stored = load_file(os.path.join(fdir, "model.safetensors"))
    assert all(torch.equal(stored[k], weights[k]) for k in weights)

    results = {}
    for p, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        results[p] = run(build(config, stored, dtype), ids, mask, types, labels, dtype)

    # HF's own loader reads the directory to the same model.
    from transformers import BertForSequenceClassification
    loaded = BertForSequenceClassification.from_pretrained(fdir, attn_implementation="eager").double().eval()
    with torch.no_grad():
        lg = loaded(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    assert rel(lg, results["f64"]["logits"]) < 1e-12, "from_pretrained(fixture dir) differs"

    # Padding does not leak: other ids / token types at padded positions leave the logits unchanged.
    chk = build(config, stored, torch.float64)
    ids2, types2 = ids.clone(), types.clone()
    ids2[mask == 0] = (ids2[mask == 0] + 7) % f["vocab_size"]
    types2[mask == 0] = 1
    with torch.no_grad():
        a = chk(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
        b = chk(input_ids=ids2, attention_mask=mask, token_type_ids=types2).logits
    assert torch.allclose(a, b, rtol=0, atol=1e-12), "padding leaks into the logits"

    # Non-trivial: every gradient is non-zero, except attention.self.key.bias's, which is 0 in exact
    # arithmetic (a shift of every key moves each query's scores by a constant, which softmax ignores).
    g64 = results["f64"]["grads"]
    for k, g in g64.items():
        if k.endswith("attention.self.key.bias"):
            assert g.abs().max().item() < 1e-12 * max(1.0, g64[k[:-4] + "weight"].abs().max().item()), k
        else:
            assert g.abs().max().item() > 1e-6, f"(near-)zero gradient for {k}"
    worst_f32 = max((rel(results["f32"]["grads"][k], g64[k]), k) for k in g64 if not k.endswith("key.bias"))

    exp = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}
    for p, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        r = results[p]
        for key in ("last_hidden_state", "pooler_output", "logits"):
            exp[f"{p}.{key}"] = r[key].to(dtype).contiguous()
        exp[f"{p}.loss"] = r["loss"].to(dtype).reshape([]).contiguous()
        for k in weights:
            exp[f"{p}.grad.{k}"] = r["grads"][k].to(dtype).contiguous()
    meta = {
        "generator": "tools/make_bert_fixtures.py",
        "reference": f"transformers {versions['transformers']} BertForSequenceClassification (eager attention)",
        "transformers_version": versions["transformers"],
        "torch_version": versions["torch"],
        "fixture": f["name"],
        "seed": str(f["seed"]),
        "problem_type": f["problem_type"],
        "weights_storage_dtype": f["storage"],
        "mode": "eval (dropout off); f64 = model.double(), f32 = model.float(); weights upcast from storage",
        "lengths": ",".join(map(str, LENGTHS)),
        "segment_b": ",".join(map(str, SEGMENT_B)),
        "grad_note": "grad of the loss for every parameter; attention.self.key.bias is 0 in exact arithmetic "
                     "(rounding noise only); word_embeddings row pad_token_id=0 has zero grad (padding_idx)",
    }
    save_file(exp, os.path.join(fdir, "expected.safetensors"), metadata=meta)
    print(f"[{f['name']}] loss f64 {results['f64']['loss'].item():.17g}, "
          f"HF f32 vs f64: logits {rel(results['f32']['logits'], results['f64']['logits']):.2e}, "
          f"worst grad {worst_f32[0]:.2e} ({worst_f32[1]})")
    for fn in ("config.json", "model.safetensors", "expected.safetensors"):
        print(f"    {os.path.join(fdir, fn)}  {os.path.getsize(os.path.join(fdir, fn))} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"))
    args = ap.parse_args()
    import transformers
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    versions = {"transformers": transformers.__version__, "torch": torch.__version__}
    print(f"[make_bert_fixtures] transformers {versions['transformers']}, torch {versions['torch']}")
    for f in FIXTURES:
        make_fixture(f, args.out, versions)


if __name__ == "__main__":
    main()
