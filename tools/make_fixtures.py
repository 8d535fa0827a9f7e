#!/usr/bin/env python3
"""Generate small HuggingFace-parity fixtures for temper's DistilBERT.

Usage:
    .venv/bin/python tools/make_fixtures.py [--out tests/fixtures]

Needs the packages of tools/requirements.txt (torch, transformers, safetensors).

The reference is transformers.DistilBertForSequenceClassification itself (attn_implementation
"eager") with the fixture weights loaded into it, run on CPU with one thread.  The script also
loads each written directory with from_pretrained() and checks that HF reads back exactly the
weights the reference used.

Outputs per fixture directory tests/fixtures/<name>/:
  config.json                    HF DistilBertConfig keys
  model.safetensors              weights (F32 / BF16), or for tiny_c the
  model-0000k-of-00002.safetensors + model.safetensors.index.json (F16)
  expected.safetensors           inputs, labels and f32/f64 reference outputs
                                 and gradients of the loss for every parameter;
                                 __metadata__ records the transformers and torch versions

Everything is deterministic: random numbers come from a self-contained
SplitMix64 generator (not torch's RNG), so weights/inputs do not depend on the
torch version.
"""

import argparse
import json
import math
import os
import struct

import safetensors
import safetensors.torch
import torch
import transformers
from safetensors.torch import load_file
from transformers import DistilBertConfig, DistilBertForSequenceClassification

# ----------------------------------------------------------------------------
# Fixture definitions
# ----------------------------------------------------------------------------

BATCH = 4
SEQ = 11
LENGTHS = [11, 7, 4, 1]  # valid (unpadded) length of each row; right padding with id 0

FIXTURES = [
    dict(name="tiny_a", seed=0x7E3A01, dim=32, n_heads=4, n_layers=2, hidden_dim=64,
         vocab_size=120, max_position_embeddings=24,
         problem_type="multi_label_classification", num_labels=5,
         storage="F32", sharded=False),
    dict(name="tiny_b", seed=0x7E3B02, dim=24, n_heads=2, n_layers=3, hidden_dim=40,
         vocab_size=90, max_position_embeddings=16,
         problem_type="single_label_classification", num_labels=3,
         storage="BF16", sharded=False),
    dict(name="tiny_c", seed=0x7E3C03, dim=32, n_heads=8, n_layers=1, hidden_dim=64,
         vocab_size=120, max_position_embeddings=24,
         problem_type="multi_label_classification", num_labels=5,
         storage="F16", sharded=True),
]

# Random init (deliberately NOT HF's std-0.02 init, so that outputs and
# gradients are far from trivial).
W_STD = 0.3      # Linear / Embedding weights
B_STD = 0.1      # Linear biases
LN_STD = 0.1     # LayerNorm: weight = 1 + 0.1 n, bias = 0.1 n

LN_EPS = 1e-12   # hard-coded in HF's modeling_distilbert (no config key)

STORAGE_TORCH = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
STORAGE_NAME = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


# ----------------------------------------------------------------------------
# Deterministic RNG independent of torch/numpy versions
# ----------------------------------------------------------------------------

class SplitMix64:
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.s = seed & self.MASK

    def next_u64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & self.MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def uniform(self):
        """Uniform in the open interval (0, 1)."""
        return ((self.next_u64() >> 11) + 0.5) * (2.0 ** -53)

    def normal(self):
        """Standard normal via Box-Muller (one value per pair of uniforms)."""
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def randint(self, lo, hi):
        """Integer in [lo, hi)."""
        return lo + self.next_u64() % (hi - lo)

    def normal_tensor(self, shape, std=1.0, mean=0.0):
        n = 1
        for d in shape:
            n *= d
        vals = [mean + std * self.normal() for _ in range(n)]
        return torch.tensor(vals, dtype=torch.float64).reshape(shape)


# ----------------------------------------------------------------------------
# Parameter names / shapes (exactly HF's, in HF's named_parameters() order)
# ----------------------------------------------------------------------------

def param_specs(cfg):
    """List of (name, shape, kind) with kind in {w, b, ln_w, ln_b}."""
    d, h, L = cfg["dim"], cfg["hidden_dim"], cfg["num_labels"]
    specs = [
        ("distilbert.embeddings.word_embeddings.weight", [cfg["vocab_size"], d], "w"),
        ("distilbert.embeddings.position_embeddings.weight", [cfg["max_position_embeddings"], d], "w"),
        ("distilbert.embeddings.LayerNorm.weight", [d], "ln_w"),
        ("distilbert.embeddings.LayerNorm.bias", [d], "ln_b"),
    ]
    for i in range(cfg["n_layers"]):
        p = f"distilbert.transformer.layer.{i}."
        for lin in ("q_lin", "k_lin", "v_lin", "out_lin"):
            specs.append((p + f"attention.{lin}.weight", [d, d], "w"))
            specs.append((p + f"attention.{lin}.bias", [d], "b"))
        specs.append((p + "sa_layer_norm.weight", [d], "ln_w"))
        specs.append((p + "sa_layer_norm.bias", [d], "ln_b"))
        specs.append((p + "ffn.lin1.weight", [h, d], "w"))
        specs.append((p + "ffn.lin1.bias", [h], "b"))
        specs.append((p + "ffn.lin2.weight", [d, h], "w"))
        specs.append((p + "ffn.lin2.bias", [d], "b"))
        specs.append((p + "output_layer_norm.weight", [d], "ln_w"))
        specs.append((p + "output_layer_norm.bias", [d], "ln_b"))
    specs += [
        ("pre_classifier.weight", [d, d], "w"),
        ("pre_classifier.bias", [d], "b"),
        ("classifier.weight", [L, d], "w"),
        ("classifier.bias", [L], "b"),
    ]
    return specs


def make_weights(cfg, rng):
    """Returns {name: tensor in storage dtype} (f64 draw -> f32 -> storage dtype)."""
    sdt = STORAGE_TORCH[cfg["storage"]]
    out = {}
    for name, shape, kind in param_specs(cfg):
        if kind == "w":
            t = rng.normal_tensor(shape, W_STD)
        elif kind == "b":
            t = rng.normal_tensor(shape, B_STD)
        elif kind == "ln_w":
            t = rng.normal_tensor(shape, LN_STD, mean=1.0)
        else:
            t = rng.normal_tensor(shape, LN_STD)
        out[name] = t.to(torch.float32).to(sdt).contiguous()
    return out


def make_batch(cfg, rng):
    ids = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    mask = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        for s in range(n):
            ids[b, s] = rng.randint(1, cfg["vocab_size"])
            mask[b, s] = 1
    L = cfg["num_labels"]
    if cfg["problem_type"] == "multi_label_classification":
        labels = torch.zeros(BATCH, L, dtype=torch.float32)
        for b in range(BATCH):
            k = 1 + rng.randint(0, 2)  # 1 or 2 positives
            chosen = set()
            while len(chosen) < k:
                chosen.add(rng.randint(0, L))
            for j in chosen:
                labels[b, j] = 1.0
    else:
        labels = torch.tensor([rng.randint(0, L) for _ in range(BATCH)], dtype=torch.int64)
    return ids, mask, labels


def hf_config_dict(cfg, transformers_version=None):
    L = cfg["num_labels"]
    id2label = {str(i): f"label_{i}" for i in range(L)}
    label2id = {f"label_{i}": i for i in range(L)}
    d = {
        "model_type": "distilbert",
        "architectures": ["DistilBertForSequenceClassification"],
        "vocab_size": cfg["vocab_size"],
        "dim": cfg["dim"],
        "n_layers": cfg["n_layers"],
        "n_heads": cfg["n_heads"],
        "hidden_dim": cfg["hidden_dim"],
        "max_position_embeddings": cfg["max_position_embeddings"],
        "dropout": 0.1,
        "attention_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "qa_dropout": 0.1,
        "activation": "gelu",
        "sinusoidal_pos_embds": False,
        "initializer_range": 0.02,
        "pad_token_id": 0,
        "tie_weights_": True,
        "problem_type": cfg["problem_type"],
        "id2label": id2label,
        "label2id": label2id,
        "torch_dtype": STORAGE_NAME[cfg["storage"]],
        "dtype": STORAGE_NAME[cfg["storage"]],
    }
    if transformers_version:
        d["transformers_version"] = transformers_version
    return d


# ----------------------------------------------------------------------------
# Checkpoint files (the safetensors package; verified by reading back)
# ----------------------------------------------------------------------------

def save_sorted(tensors, path, metadata):
    """safetensors.torch.save with a canonical header: the package writes __metadata__ in hash-map
    order, which differs from run to run; sorted keys make reruns byte-identical."""
    buf = safetensors.torch.save(tensors, metadata=metadata)
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    meta = header.pop("__metadata__")
    header = {"__metadata__": dict(sorted(meta.items())),
              **dict(sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]))}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + buf[8 + n:])


def bit_equal(a, b):
    if a.dtype != b.dtype or list(a.shape) != list(b.shape):
        return False
    if a.dtype.is_floating_point:
        iv = {8: torch.int64, 4: torch.int32, 2: torch.int16}[a.element_size()]
        return torch.equal(a.contiguous().view(iv), b.contiguous().view(iv))
    return torch.equal(a, b)


def save_and_verify(path, tensors, metadata):
    save_sorted({k: v.detach().contiguous() for k, v in tensors.items()}, path, metadata)
    back = load_file(path)
    with safetensors.safe_open(path, "pt") as f:
        assert f.metadata() == metadata, path
    assert sorted(back) == sorted(tensors), path
    for k, t in tensors.items():
        assert bit_equal(back[k], t.detach().contiguous()), (path, k)


def write_checkpoint(fdir, cfg, weights):
    meta = {"format": "pt"}
    if not cfg["sharded"]:
        save_and_verify(os.path.join(fdir, "model.safetensors"), weights, meta)
        return ["model.safetensors"]
    # two shards: embeddings + first half of the rest / second half
    names = list(weights.keys())
    half = len(names) // 2
    shards = [names[:half], names[half:]]
    files = []
    weight_map = {}
    total = 0
    for i, group in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_and_verify(os.path.join(fdir, fname), {n: weights[n] for n in group}, meta)
        for n in group:
            weight_map[n] = fname
            total += weights[n].numel() * weights[n].element_size()
        files.append(fname)
    index = {"metadata": {"total_size": total},
             "weight_map": {k: weight_map[k] for k in sorted(weight_map)}}
    with open(os.path.join(fdir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return files + ["model.safetensors.index.json"]


# ----------------------------------------------------------------------------
# The reference: transformers' own model
# ----------------------------------------------------------------------------

def build_hf(hfc, weights, dtype):
    kw = {k: v for k, v in hfc.items()
          if k not in ("model_type", "torch_dtype", "dtype", "transformers_version")}
    model = DistilBertForSequenceClassification(DistilBertConfig(attn_implementation="eager", **kw))
    model.to(dtype)
    if model.config._attn_implementation != "eager":
        raise SystemExit(f"HF model uses attn_implementation={model.config._attn_implementation!r}, wanted 'eager'")
    res = model.load_state_dict({k: v.to(dtype) for k, v in weights.items()}, strict=False)
    if res.missing_keys or res.unexpected_keys:
        raise SystemExit(f"HF state_dict mismatch: missing={res.missing_keys} unexpected={res.unexpected_keys}")
    names = [n for n, _ in model.named_parameters()]
    if sorted(names) != sorted(weights):
        raise SystemExit(f"HF parameter names differ: {sorted(set(names) ^ set(weights))}")
    model.eval()
    return model


def check_from_pretrained(fdir, weights):
    """HF's own loader (config.json + safetensors / sharded index) must read back exactly the
    weights the reference uses."""
    m = DistilBertForSequenceClassification.from_pretrained(fdir, attn_implementation="eager",
                                                            local_files_only=True)
    got = dict(m.named_parameters())
    if sorted(got) != sorted(weights):
        raise SystemExit(f"from_pretrained({fdir}) parameter names differ: {sorted(set(got) ^ set(weights))}")
    for k, v in weights.items():
        if not torch.equal(got[k].detach().to(torch.float64), v.to(torch.float64)):
            raise SystemExit(f"from_pretrained({fdir}) loaded different values for {k}")
    print(f"  [{os.path.basename(fdir)}] from_pretrained: all {len(weights)} weights bit-identical "
          f"(loaded as {next(iter(got.values())).dtype})")


def run_model(model, ids, mask, labels, dtype):
    """Forward + backward. Returns dict: last_hidden_state, logits, loss, grads{name}, params{name}."""
    model.zero_grad(set_to_none=True)
    lab = labels.to(dtype) if labels.dtype.is_floating_point else labels
    captured = {}
    hdl = model.distilbert.register_forward_hook(lambda _m, _i, out: captured.update(h=out[0]))
    try:
        out = model(input_ids=ids, attention_mask=mask, labels=lab, return_dict=True)
    finally:
        hdl.remove()
    out.loss.backward()
    grads = {}
    for n, p in model.named_parameters():
        grads[n] = (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    return dict(last_hidden_state=captured["h"].detach().clone(), logits=out.logits.detach().clone(),
                loss=out.loss.detach().clone(), grads=grads, params=params)


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

def clean_dir(fdir):
    os.makedirs(fdir, exist_ok=True)
    for fn in os.listdir(fdir):
        if fn.endswith(".safetensors") or fn in ("config.json", "model.safetensors.index.json"):
            os.remove(os.path.join(fdir, fn))


def load_checkpoint(fdir):
    """Weights back from a checkpoint dir (single file or sharded index)."""
    single = os.path.join(fdir, "model.safetensors")
    if os.path.exists(single):
        return load_file(single)
    with open(os.path.join(fdir, "model.safetensors.index.json")) as f:
        idx = json.load(f)
    out = {}
    for fname in sorted(set(idx["weight_map"].values())):
        out.update(load_file(os.path.join(fdir, fname)))
    assert set(out) == set(idx["weight_map"])
    return out


def make_fixture(cfg, out_root):
    name = cfg["name"]
    fdir = os.path.join(out_root, name)
    clean_dir(fdir)
    rng = SplitMix64(cfg["seed"])
    weights = make_weights(cfg, rng)
    ids, mask, labels = make_batch(cfg, rng)
    hfc = hf_config_dict(cfg, transformers.__version__)

    with open(os.path.join(fdir, "config.json"), "w") as f:
        json.dump(hfc, f, indent=2)
        f.write("\n")
    files = ["config.json"] + write_checkpoint(fdir, cfg, weights)

    # The reference must use exactly the stored values: re-read them from disk.
    stored = load_checkpoint(fdir)
    assert sorted(stored) == sorted(weights)
    for k in weights:
        assert bit_equal(stored[k], weights[k]), k
    check_from_pretrained(fdir, stored)

    results = {}
    for p, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        r = run_model(build_hf(hfc, stored, dtype), ids, mask, labels, dtype)
        for k, v in stored.items():  # the reference computed with the stored values, upcast
            assert torch.equal(r["params"][k], v.to(dtype)) and r["params"][k].dtype == dtype, (name, p, k)
        results[p] = r

    # Mask semantics: changing token ids at padded positions does not change the logits.
    chk = build_hf(hfc, stored, torch.float64)
    ids2 = ids.clone()
    ids2[mask == 0] = (ids2[mask == 0] + 17) % cfg["vocab_size"]
    with torch.no_grad():
        lg1 = chk(input_ids=ids, attention_mask=mask).logits
        lg2 = chk(input_ids=ids2, attention_mask=mask).logits
    assert torch.allclose(lg1, lg2, rtol=0, atol=1e-12), "padding leaks into logits"

    # Non-triviality: every parameter gets a non-zero gradient. k_lin.bias is exempt: its gradient
    # is 0 in exact arithmetic (adding the same vector to every key shifts each query's scores by
    # a constant, which softmax ignores), so only rounding noise is stored.
    for k, g in results["f64"]["grads"].items():
        if k.endswith("attention.k_lin.bias"):
            wscale = results["f64"]["grads"][k[:-len("bias")] + "weight"].abs().max().item()
            assert g.abs().max().item() < 1e-12 * max(1.0, wscale), (k, "expected ~0")
            continue
        assert g.abs().max().item() > 1e-6, f"(near-)zero gradient for {k}"

    exp = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    for p, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        r = results[p]
        exp[f"{p}.last_hidden_state"] = r["last_hidden_state"].to(dtype).contiguous()
        exp[f"{p}.logits"] = r["logits"].to(dtype).contiguous()
        exp[f"{p}.loss"] = r["loss"].to(dtype).reshape([]).contiguous()
        for k in weights:  # HF parameter order
            exp[f"{p}.grad.{k}"] = r["grads"][k].to(dtype).contiguous()
    meta = {
        "reference": "transformers.DistilBertForSequenceClassification (attn_implementation eager)",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "safetensors_version": safetensors.__version__,
        "from_pretrained_check": "passed: from_pretrained(dir) loads bit-identical weights",
        "generator": "tools/make_fixtures.py",
        "fixture": name,
        "seed": str(cfg["seed"]),
        "problem_type": cfg["problem_type"],
        "loss": "BCEWithLogitsLoss(mean)" if cfg["problem_type"] == "multi_label_classification"
        else "CrossEntropyLoss(mean)",
        "mode": "eval (dropout off); f32 = model in float32, f64 = model.double(); weights upcast from stored "
                + cfg["storage"] + "; CPU, one thread",
        "weights_storage_dtype": cfg["storage"],
        "lengths": ",".join(str(n) for n in LENGTHS),
        "grad_note": "grad of the loss w.r.t. every parameter; word_embeddings row pad_token_id=0 has zero "
                     "grad (nn.Embedding padding_idx), rows of unused ids are zero",
    }
    save_and_verify(os.path.join(fdir, "expected.safetensors"), exp, meta)
    files.append("expected.safetensors")

    r = results["f64"]
    print(f"  [{name}] storage={cfg['storage']} "
          f"f64.loss={r['loss'].item():.17g} f32.loss={results['f32']['loss'].item():.9g}")
    for fn in files:
        print(f"    {os.path.join(fdir, fn)}  {os.path.getsize(os.path.join(fdir, fn))} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"),
                    help="output root (default: tests/fixtures next to this script)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    print(f"[make_fixtures] reference: transformers {transformers.__version__} (eager), "
          f"torch {torch.__version__}, out={os.path.normpath(args.out)}")
    os.makedirs(args.out, exist_ok=True)
    for cfg in FIXTURES:
        make_fixture(cfg, args.out)


if __name__ == "__main__":
    main()
