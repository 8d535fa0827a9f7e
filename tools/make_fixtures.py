#!/usr/bin/env python3
"""Generate small HuggingFace-parity fixtures for temper's DistilBERT.

Usage:
    python3 tools/make_fixtures.py [--out tests/fixtures]

Needs torch (>= 1.13) with numpy.  If the
interpreter that runs this has no torch but /usr/bin/python3 does (Debian's
python3-torch), the script re-executes itself with /usr/bin/python3.

Reference model:
  * If `import transformers` works, the reference is
    transformers.DistilBertForSequenceClassification (attn_implementation
    "eager") with the fixture weights loaded into it.  The pure-torch mirror
    below is ALSO run and must agree with HF (max normwise rel err < 1e-6 in
    float64), so whoever runs this with transformers installed verifies the
    mirror.
  * Otherwise the reference is `MirrorDistilBert`, a faithful pure-torch
    transcription of transformers' modeling_distilbert.  A loud note is
    printed and expected.safetensors records "reference": "torch-mirror".

Outputs per fixture directory tests/fixtures/<name>/:
  config.json                    HF DistilBertConfig keys
  model.safetensors              weights (F32 / BF16), or for tiny_c the
  model-0000k-of-00002.safetensors + model.safetensors.index.json (F16)
  expected.safetensors           inputs, labels and f32/f64 reference outputs
                                 and gradients of the loss for every parameter

Everything is deterministic: random numbers come from a self-contained
SplitMix64 generator (not torch's RNG), so weights/inputs do not depend on the
torch version.  Reference outputs are computed on CPU with one thread.
"""

import argparse
import json
import math
import os
import struct
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - environment dependent
    _alt = "/usr/bin/python3"
    if os.path.exists(_alt) and os.path.realpath(sys.executable) != os.path.realpath(_alt) \
            and not os.environ.get("TEMPER_FIXTURES_REEXEC"):
        print(f"[make_fixtures] torch not importable from {sys.executable}; re-running with {_alt}",
              file=sys.stderr)
        os.environ["TEMPER_FIXTURES_REEXEC"] = "1"
        os.execv(_alt, [_alt] + sys.argv)
    raise

assert sys.byteorder == "little", "this writer assumes a little-endian host"

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

HF_CHECK_TOL = 1e-6   # float64, normwise relative error, HF vs mirror
HF_CHECK_TOL_F32 = 1e-3  # float32 sanity bound only (op-order differences)

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
# Minimal safetensors writer / reader
# ----------------------------------------------------------------------------

ST_DTYPES = {
    torch.float64: ("F64", 8), torch.float32: ("F32", 4), torch.float16: ("F16", 2),
    torch.bfloat16: ("BF16", 2), torch.int64: ("I64", 8), torch.int32: ("I32", 4),
    torch.int16: ("I16", 2), torch.int8: ("I8", 1), torch.uint8: ("U8", 1), torch.bool: ("BOOL", 1),
}
ST_FROM_NAME = {v[0]: (k, v[1]) for k, v in ST_DTYPES.items()}


def tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def bytes_to_tensor(buf, dtype_name, shape):
    dt, _ = ST_FROM_NAME[dtype_name]
    if dt in (torch.bfloat16, torch.float16):
        t = torch.frombuffer(bytearray(buf), dtype=torch.int16).view(dt) if buf else torch.empty(0, dtype=dt)
    else:
        t = torch.frombuffer(bytearray(buf), dtype=dt) if buf else torch.empty(0, dtype=dt)
    return t.reshape(shape).clone()


def write_safetensors(path, tensors, metadata=None):
    """tensors: ordered dict name -> tensor. Data is laid out in that order."""
    header = {}
    if metadata:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
        header["__metadata__"] = dict(metadata)
    chunks = []
    off = 0
    for name, t in tensors.items():
        assert name != "__metadata__"
        dname, esize = ST_DTYPES[t.dtype]
        b = tensor_bytes(t)
        assert len(b) == t.numel() * esize
        header[name] = {"dtype": dname, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in chunks:
            f.write(b)
    return 8 + len(hjson) + off


def read_safetensors(path):
    """Strict reader. Returns (ordered dict name -> tensor, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) >= 8, path
    (n,) = struct.unpack("<Q", data[:8])
    assert n <= 100_000_000 and 8 + n <= len(data), path
    hdr = json.loads(data[8:8 + n].decode("utf-8"))
    assert data[8:9] == b"{", path
    meta = hdr.pop("__metadata__", None) or {}
    buf = data[8 + n:]
    entries = sorted(hdr.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    pos = 0
    out = {}
    for name, e in entries:
        b, en = e["data_offsets"]
        assert b == pos and en >= b, (path, name, "offsets must tile the buffer")
        _, esize = ST_FROM_NAME[e["dtype"]]
        numel = 1
        for s in e["shape"]:
            numel *= s
        assert en - b == numel * esize, (path, name)
        out[name] = bytes_to_tensor(buf[b:en], e["dtype"], e["shape"])
        pos = en
    assert pos == len(buf), (path, "trailing bytes / size mismatch")
    # restore header order
    ordered = {k: out[k] for k in hdr}
    return ordered, meta


def bit_equal(a, b):
    if a.dtype != b.dtype or list(a.shape) != list(b.shape):
        return False
    if a.dtype.is_floating_point:
        iv = {8: torch.int64, 4: torch.int32, 2: torch.int16}[a.element_size()]
        return torch.equal(a.contiguous().view(iv), b.contiguous().view(iv))
    return torch.equal(a, b)


def write_and_verify(path, tensors, metadata=None):
    write_safetensors(path, tensors, metadata)
    back, meta = read_safetensors(path)
    assert list(back.keys()) == list(tensors.keys()), path
    for k, t in tensors.items():
        assert bit_equal(back[k], t.detach().cpu().contiguous()), (path, k)
    assert meta == (metadata or {}), path
    try:  # optional cross-check with the official package
        from safetensors.torch import load_file
        ref = load_file(path)
        for k, t in tensors.items():
            assert bit_equal(ref[k], t.detach().cpu().contiguous()), (path, k, "safetensors pkg")
    except ImportError:
        pass


# ----------------------------------------------------------------------------
# Pure-torch mirror of transformers' modeling_distilbert (sequence classification)
# ----------------------------------------------------------------------------

class _Namespace(nn.Module):
    pass


class MirrorMultiHeadSelfAttention(nn.Module):
    def __init__(self, dim, n_heads, attention_dropout):
        super().__init__()
        self.n_heads = n_heads
        self.dim = dim
        self.attention_dropout = attention_dropout
        self.q_lin = nn.Linear(dim, dim)
        self.k_lin = nn.Linear(dim, dim)
        self.v_lin = nn.Linear(dim, dim)
        self.out_lin = nn.Linear(dim, dim)

    def forward(self, x, mask):
        bs, q_len, _ = x.shape
        dh = self.dim // self.n_heads

        def shape(t):  # [B,S,dim] -> [B,H,S,dh]
            return t.view(bs, -1, self.n_heads, dh).transpose(1, 2)

        def unshape(t):  # [B,H,S,dh] -> [B,S,dim]
            return t.transpose(1, 2).contiguous().view(bs, -1, self.n_heads * dh)

        q = shape(self.q_lin(x))
        k = shape(self.k_lin(x))
        v = shape(self.v_lin(x))
        q = q / math.sqrt(dh)
        scores = torch.matmul(q, k.transpose(2, 3))                   # [B,H,Sq,Sk]
        m = (mask == 0).view(bs, 1, 1, mask.shape[1]).expand_as(scores)  # mask on keys
        scores = scores.masked_fill(m, torch.finfo(scores.dtype).min)
        weights = F.softmax(scores, dim=-1)
        weights = F.dropout(weights, p=self.attention_dropout, training=self.training)
        ctx = unshape(torch.matmul(weights, v))
        return self.out_lin(ctx)


class MirrorFFN(nn.Module):
    def __init__(self, dim, hidden_dim, dropout):
        super().__init__()
        self.dropout = dropout
        self.lin1 = nn.Linear(dim, hidden_dim)
        self.lin2 = nn.Linear(hidden_dim, dim)

    def forward(self, x):
        x = self.lin1(x)
        x = F.gelu(x)  # exact erf form
        x = self.lin2(x)
        return F.dropout(x, p=self.dropout, training=self.training)


class MirrorTransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = MirrorMultiHeadSelfAttention(c["dim"], c["n_heads"], c["attention_dropout"])
        self.sa_layer_norm = nn.LayerNorm(c["dim"], eps=LN_EPS)
        self.ffn = MirrorFFN(c["dim"], c["hidden_dim"], c["dropout"])
        self.output_layer_norm = nn.LayerNorm(c["dim"], eps=LN_EPS)

    def forward(self, x, mask):
        sa = self.sa_layer_norm(self.attention(x, mask) + x)
        return self.output_layer_norm(self.ffn(sa) + sa)


class MirrorDistilBert(nn.Module):
    """Pure-torch DistilBertForSequenceClassification with HF parameter names."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.distilbert = _Namespace()
        emb = _Namespace()
        # padding_idx like HF: the pad row gets no gradient.
        emb.word_embeddings = nn.Embedding(c["vocab_size"], c["dim"], padding_idx=c["pad_token_id"])
        emb.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["dim"])
        emb.LayerNorm = nn.LayerNorm(c["dim"], eps=LN_EPS)
        self.distilbert.embeddings = emb
        tr = _Namespace()
        tr.layer = nn.ModuleList([MirrorTransformerBlock(c) for _ in range(c["n_layers"])])
        self.distilbert.transformer = tr
        self.pre_classifier = nn.Linear(c["dim"], c["dim"])
        self.classifier = nn.Linear(c["dim"], c["num_labels"])

    def forward(self, input_ids, attention_mask, labels=None):
        c = self.c
        emb = self.distilbert.embeddings
        S = input_ids.shape[1]
        pos = torch.arange(S, device=input_ids.device).unsqueeze(0)
        x = emb.word_embeddings(input_ids) + emb.position_embeddings(pos)
        x = emb.LayerNorm(x)
        x = F.dropout(x, p=c["dropout"], training=self.training)
        for blk in self.distilbert.transformer.layer:
            x = blk(x, attention_mask)
        last_hidden_state = x
        h = last_hidden_state[:, 0]
        h = F.relu(self.pre_classifier(h))
        h = F.dropout(h, p=c["seq_classif_dropout"], training=self.training)
        logits = self.classifier(h)
        loss = None
        if labels is not None:
            if c["problem_type"] == "multi_label_classification":
                loss = nn.BCEWithLogitsLoss()(logits, labels.to(logits.dtype))
            elif c["problem_type"] == "single_label_classification":
                loss = nn.CrossEntropyLoss()(logits.view(-1, c["num_labels"]), labels.view(-1))
            else:
                raise ValueError(c["problem_type"])
        return last_hidden_state, logits, loss


def functional_eager_v5(params, ids, mask, labels, c):
    """Independent functional re-derivation in the style of transformers 5.x
    (eager_attention_forward): scores = (q @ k^T) * dh**-0.5 + additive mask
    (0 / finfo.min on padded keys).  Used only as a cross-check of the mirror:
    in float64 it must agree with MirrorDistilBert to ~1e-12."""
    d, H = c["dim"], c["n_heads"]
    dh = d // H
    B, S = ids.shape
    P = params
    dt = P["classifier.weight"].dtype

    def lin(x, n):
        return x @ P[n + ".weight"].t() + P[n + ".bias"]

    def ln(x, n):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + LN_EPS) * P[n + ".weight"] + P[n + ".bias"]

    x = P["distilbert.embeddings.word_embeddings.weight"][ids] + \
        P["distilbert.embeddings.position_embeddings.weight"][:S].unsqueeze(0)
    x = ln(x, "distilbert.embeddings.LayerNorm")
    add_mask = torch.zeros(B, 1, 1, S, dtype=dt).masked_fill((mask == 0).view(B, 1, 1, S),
                                                              torch.finfo(dt).min)
    for i in range(c["n_layers"]):
        p = f"distilbert.transformer.layer.{i}."
        q = lin(x, p + "attention.q_lin").view(B, S, H, dh).transpose(1, 2)
        k = lin(x, p + "attention.k_lin").view(B, S, H, dh).transpose(1, 2)
        v = lin(x, p + "attention.v_lin").view(B, S, H, dh).transpose(1, 2)
        w = torch.softmax((q @ k.transpose(2, 3)) * dh ** -0.5 + add_mask, dim=-1)
        a = (w @ v).transpose(1, 2).reshape(B, S, d)
        sa = ln(lin(a, p + "attention.out_lin") + x, p + "sa_layer_norm")
        h1 = lin(sa, p + "ffn.lin1")
        h1 = 0.5 * h1 * (1.0 + torch.erf(h1 / math.sqrt(2.0)))
        x = ln(lin(h1, p + "ffn.lin2") + sa, p + "output_layer_norm")
    h = torch.relu(lin(x[:, 0], "pre_classifier"))
    logits = lin(h, "classifier")
    if c["problem_type"] == "multi_label_classification":
        y = labels.to(dt)
        per = torch.clamp(logits, min=0) - logits * y + torch.log1p(torch.exp(-logits.abs()))
        loss = per.mean()
    else:
        lse = torch.logsumexp(logits, dim=-1)
        loss = (lse - logits.gather(1, labels.view(-1, 1)).squeeze(1)).mean()
    return x, logits, loss


# ----------------------------------------------------------------------------
# Reference runners
# ----------------------------------------------------------------------------

def mirror_cfg(cfg, hfc):
    return dict(vocab_size=cfg["vocab_size"], dim=cfg["dim"], n_layers=cfg["n_layers"],
                n_heads=cfg["n_heads"], hidden_dim=cfg["hidden_dim"],
                max_position_embeddings=cfg["max_position_embeddings"],
                num_labels=cfg["num_labels"], problem_type=cfg["problem_type"],
                pad_token_id=hfc["pad_token_id"], dropout=hfc["dropout"],
                attention_dropout=hfc["attention_dropout"],
                seq_classif_dropout=hfc["seq_classif_dropout"])


def build_mirror(cfg, hfc, weights, dtype):
    m = MirrorDistilBert(mirror_cfg(cfg, hfc))
    sd = {k: v.to(dtype) for k, v in weights.items()}
    m.to(dtype)
    m.load_state_dict(sd, strict=True)
    m.eval()
    return m


def build_hf(cfg, hfc, weights, dtype):
    from transformers import DistilBertConfig, DistilBertForSequenceClassification
    kw = {k: v for k, v in hfc.items()
          if k not in ("model_type", "torch_dtype", "dtype", "transformers_version")}
    config = DistilBertConfig(attn_implementation="eager", **kw)
    try:
        config._attn_implementation = "eager"
    except Exception:
        pass
    model = DistilBertForSequenceClassification(config)
    model.to(dtype)
    impl = getattr(model.config, "_attn_implementation", None)
    if impl is not None and impl != "eager":
        raise RuntimeError(f"HF model uses attn_implementation={impl!r}, wanted 'eager'")
    sd = {k: v.to(dtype) for k, v in weights.items()}
    res = model.load_state_dict(sd, strict=False)
    if res.missing_keys or res.unexpected_keys:
        raise RuntimeError(f"HF state_dict mismatch: missing={res.missing_keys} "
                           f"unexpected={res.unexpected_keys}")
    hf_names = [n for n, _ in model.named_parameters()]
    if sorted(hf_names) != sorted(weights.keys()):
        raise RuntimeError(f"HF parameter names differ: {sorted(set(hf_names) ^ set(weights))}")
    model.eval()
    return model


def check_hf_from_pretrained(fdir, stored):
    """Load the written checkpoint directory with HF's own loader (config.json +
    safetensors / sharded index) and check every weight is bit-identical to what
    the reference uses.  A loader exception is reported loudly but is not fatal
    (the reference itself loads the weights via load_state_dict); a value
    mismatch is fatal."""
    try:
        from transformers import DistilBertForSequenceClassification
        try:
            m = DistilBertForSequenceClassification.from_pretrained(
                fdir, attn_implementation="eager", local_files_only=True)
        except TypeError:
            m = DistilBertForSequenceClassification.from_pretrained(fdir, local_files_only=True)
    except Exception as e:  # noqa: BLE001
        msg = f"from_pretrained FAILED: {type(e).__name__}: {str(e)[:200]}"
        print(f"  !! [{os.path.basename(fdir)}] HF {msg}")
        return msg
    got = dict(m.named_parameters())
    if sorted(got) != sorted(stored):
        raise SystemExit(f"HF from_pretrained({fdir}) parameter names differ: {sorted(set(got) ^ set(stored))}")
    for k, v in stored.items():
        if not torch.equal(got[k].detach().to(torch.float64), v.to(torch.float64)):
            raise SystemExit(f"HF from_pretrained({fdir}) loaded different values for {k}")
    print(f"  [{os.path.basename(fdir)}] HF from_pretrained: all {len(stored)} weights bit-identical "
          f"(loaded as {next(iter(got.values())).dtype})")
    return "ok"


def run_model(model, kind, ids, mask, labels, dtype):
    """Forward + backward. Returns dict: last_hidden_state, logits, loss, grads{name}."""
    model.zero_grad(set_to_none=True)
    lab = labels.to(dtype) if labels.dtype.is_floating_point else labels
    if kind == "hf":
        captured = {}

        def hook(_mod, _inp, out):
            captured["h"] = out[0]

        hdl = model.distilbert.register_forward_hook(hook)
        try:
            out = model(input_ids=ids, attention_mask=mask, labels=lab, return_dict=True)
        finally:
            hdl.remove()
        lhs, logits, loss = captured["h"], out.logits, out.loss
    else:
        lhs, logits, loss = model(ids, mask, lab)
    loss.backward()
    grads = {}
    for n, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        grads[n] = g.detach().clone()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    return dict(last_hidden_state=lhs.detach().clone(), logits=logits.detach().clone(),
                loss=loss.detach().clone(), grads=grads, params=params)


def rel_err(a, b):
    a = a.double()
    b = b.double()
    den = b.abs().max().item()
    num = (a - b).abs().max().item()
    if den == 0.0:
        return num
    return num / den


def compare(r_ref, r_other):
    errs = {"last_hidden_state": rel_err(r_other["last_hidden_state"], r_ref["last_hidden_state"]),
            "logits": rel_err(r_other["logits"], r_ref["logits"]),
            "loss": rel_err(r_other["loss"], r_ref["loss"])}
    for n in r_ref["grads"]:
        if n.endswith("attention.k_lin.bias"):
            # d loss / d k_lin.bias is exactly 0 in exact arithmetic (adding the same vector to
            # every key shifts each query's scores by a constant, which softmax ignores), so the
            # stored values are pure rounding noise: measure them against the k_lin.weight grads.
            scale = r_ref["grads"][n[:-len("bias")] + "weight"].double().abs().max().item()
            errs["grad." + n] = (r_other["grads"][n].double() - r_ref["grads"][n].double()).abs().max().item() / scale
        else:
            errs["grad." + n] = rel_err(r_other["grads"][n], r_ref["grads"][n])
    worst = max(errs.items(), key=lambda kv: kv[1])
    return worst


def hf_available():
    try:
        import transformers  # noqa: F401
        return transformers.__version__
    except Exception:  # ImportError or broken install
        return None


# ----------------------------------------------------------------------------
# Checkpoint writing
# ----------------------------------------------------------------------------

def write_checkpoint(fdir, cfg, weights):
    names = list(weights.keys())
    meta = {"format": "pt"}
    if not cfg["sharded"]:
        write_and_verify(os.path.join(fdir, "model.safetensors"), weights, meta)
        return ["model.safetensors"]
    # two shards: embeddings + first half of the rest / second half
    half = len(names) // 2
    shards = [names[:half], names[half:]]
    files = []
    weight_map = {}
    total = 0
    for i, group in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_and_verify(os.path.join(fdir, fname), {n: weights[n] for n in group}, meta)
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


def load_checkpoint(fdir):
    """Load weights back from a checkpoint dir (single file or sharded index)."""
    single = os.path.join(fdir, "model.safetensors")
    index = os.path.join(fdir, "model.safetensors.index.json")
    if os.path.exists(single):
        assert not os.path.exists(index)
        return read_safetensors(single)[0]
    with open(index) as f:
        idx = json.load(f)
    out = {}
    total = 0
    for fname in sorted(set(idx["weight_map"].values())):
        t, _ = read_safetensors(os.path.join(fdir, fname))
        for k, v in t.items():
            assert idx["weight_map"][k] == fname
            out[k] = v
            total += v.numel() * v.element_size()
    assert set(out) == set(idx["weight_map"])
    assert total == idx["metadata"]["total_size"]
    return out


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

def clean_dir(fdir):
    os.makedirs(fdir, exist_ok=True)
    for fn in os.listdir(fdir):
        if fn.endswith(".safetensors") or fn in ("config.json", "model.safetensors.index.json"):
            os.remove(os.path.join(fdir, fn))


def make_fixture(cfg, out_root, hf_version):
    name = cfg["name"]
    fdir = os.path.join(out_root, name)
    clean_dir(fdir)
    rng = SplitMix64(cfg["seed"])
    weights = make_weights(cfg, rng)
    ids, mask, labels = make_batch(cfg, rng)
    hfc = hf_config_dict(cfg, hf_version)

    with open(os.path.join(fdir, "config.json"), "w") as f:
        json.dump(hfc, f, indent=2)
        f.write("\n")
    files = ["config.json"] + write_checkpoint(fdir, cfg, weights)

    # The reference must use exactly the stored values: re-read them from disk.
    stored = load_checkpoint(fdir)
    assert list(sorted(stored)) == list(sorted(weights))
    for k in weights:
        assert bit_equal(stored[k], weights[k]), k
        assert stored[k].dtype == STORAGE_TORCH[cfg["storage"]]

    results = {}
    notes = {}
    if hf_version:
        notes["from_pretrained"] = check_hf_from_pretrained(fdir, stored)
    for p, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        mirror = build_mirror(cfg, hfc, stored, dtype)
        r_mirror = run_model(mirror, "mirror", ids, mask, labels, dtype)
        if hf_version:
            hf = build_hf(cfg, hfc, stored, dtype)
            r_ref = run_model(hf, "hf", ids, mask, labels, dtype)
            wname, werr = compare(r_ref, r_mirror)
            tol = HF_CHECK_TOL if dtype == torch.float64 else HF_CHECK_TOL_F32
            print(f"  [{name}/{p}] HF vs mirror: max normwise rel err {werr:.3e} (at {wname}), tol {tol:g}")
            if not werr < tol:
                raise SystemExit(f"HF/mirror mismatch in {name}/{p}: {wname} rel err {werr:.3e} >= {tol:g}")
            notes[p] = f"{werr:.3e}"
        else:
            r_ref = r_mirror
        # Weights the reference used are exactly the stored values (upcast).
        for k, v in stored.items():
            assert torch.equal(r_ref["params"][k], v.to(dtype)), (name, p, k)
            assert r_ref["params"][k].dtype == dtype
        results[p] = r_ref

    # Cross-check: independent functional formulation (transformers-5.x style eager attention,
    # hand-written LayerNorm / GELU / losses) in float64, gradients via autograd.
    for p, dtype, tol in (("f64", torch.float64, 1e-10), ("f32", torch.float32, 1e-4)):
        prm = {k: v.to(dtype).requires_grad_(True) for k, v in stored.items()}
        lhs_f, lg_f, loss_f = functional_eager_v5(prm, ids, mask, labels, mirror_cfg(cfg, hfc))
        gr = torch.autograd.grad(loss_f, [prm[k] for k in stored])
        r_f = dict(last_hidden_state=lhs_f.detach(), logits=lg_f.detach(), loss=loss_f.detach(),
                   grads={k: g for k, g in zip(stored, gr)})
        wname, werr = compare(results[p], r_f)
        print(f"  [{name}/{p}] functional (v5-style eager) vs reference: max rel err {werr:.3e} (at {wname})")
        assert werr < tol, (name, p, wname, werr)
        notes["functional_" + p] = f"{werr:.3e}"

    # Sanity: mask semantics - changing token ids at padded positions does not change logits.
    chk = build_mirror(cfg, hfc, stored, torch.float64)
    ids2 = ids.clone()
    ids2[mask == 0] = (ids2[mask == 0] + 17) % cfg["vocab_size"]
    with torch.no_grad():
        _, lg1, _ = chk(ids, mask, None)
        _, lg2, _ = chk(ids2, mask, None)
    assert torch.allclose(lg1, lg2, rtol=0, atol=1e-12), "padding leaks into logits"

    # Non-triviality: every parameter gets a non-zero gradient.
    # (k_lin.bias is exempt: its gradient is 0 in exact arithmetic, see compare()).
    for k, g in results["f64"]["grads"].items():
        if k.endswith("attention.k_lin.bias"):
            wscale = results["f64"]["grads"][k[:-len("bias")] + "weight"].abs().max().item()
            assert g.abs().max().item() < 1e-12 * max(1.0, wscale), (k, "expected ~0")
            continue
        assert g.abs().max().item() > 1e-6, f"(near-)zero gradient for {k}"

    reference = f"hf-transformers {hf_version}" if hf_version else "torch-mirror"
    exp = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    for p, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        r = results[p]
        exp[f"{p}.last_hidden_state"] = r["last_hidden_state"].to(dtype).contiguous()
        exp[f"{p}.logits"] = r["logits"].to(dtype).contiguous()
        exp[f"{p}.loss"] = r["loss"].to(dtype).reshape([]).contiguous()
        for k in weights:  # HF parameter order
            exp[f"{p}.grad.{k}"] = r["grads"][k].to(dtype).contiguous()
    meta = {
        "reference": reference,
        "hf_check": ("passed: max normwise rel err f64 " + notes["f64"] + ", f32 " + notes["f32"])
        + "; from_pretrained(dir): " + notes["from_pretrained"]
        if hf_version else "NOT RUN (transformers not importable)",
        "functional_check": "independent functional re-derivation (v5-style eager attention): max normwise "
                            "rel err f64 " + notes["functional_f64"] + ", f32 " + notes["functional_f32"],
        "torch_version": torch.__version__,
        "generator": "tools/make_fixtures.py",
        "fixture": name,
        "seed": str(cfg["seed"]),
        "problem_type": cfg["problem_type"],
        "loss": "BCEWithLogitsLoss(mean)" if cfg["problem_type"] == "multi_label_classification"
        else "CrossEntropyLoss(mean)",
        "mode": "eval (dropout off); f32 = model in float32, f64 = model.double(); weights upcast from stored "
                + cfg["storage"],
        "weights_storage_dtype": cfg["storage"],
        "lengths": ",".join(str(n) for n in LENGTHS),
        "grad_note": "grad of the loss w.r.t. every parameter; word_embeddings row pad_token_id=0 has zero "
                     "grad (nn.Embedding padding_idx), rows of unused ids are zero",
    }
    write_and_verify(os.path.join(fdir, "expected.safetensors"), exp, meta)
    files.append("expected.safetensors")

    r = results["f64"]
    print(f"  [{name}] reference={reference} storage={cfg['storage']} "
          f"f64.loss={r['loss'].item():.17g} f32.loss={results['f32']['loss'].item():.9g}")
    print(f"  [{name}] f64.logits[0]={[round(x, 12) for x in r['logits'][0].tolist()]}")
    for fn in files:
        print(f"    {os.path.join(fdir, fn)}  {os.path.getsize(os.path.join(fdir, fn))} bytes")
    return reference


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"),
                    help="output root (default: tests/fixtures next to this script)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    hf_version = hf_available()
    if hf_version:
        print(f"[make_fixtures] reference: transformers {hf_version} (eager); mirror cross-checked")
    else:
        bar = "!" * 78
        print(bar)
        print("!! NOTE: `import transformers` failed -- the HF check did NOT run.")
        print("!! Reference = MirrorDistilBert (pure-torch mirror of modeling_distilbert).")
        print("!! Re-run on a machine with transformers to verify mirror == HF.")
        print(bar)
    print(f"[make_fixtures] torch {torch.__version__}, out={os.path.normpath(args.out)}")
    os.makedirs(args.out, exist_ok=True)
    for cfg in FIXTURES:
        make_fixture(cfg, args.out, hf_version)
    if not hf_version:
        print("!! NOTE (again): fixtures were produced WITHOUT the HuggingFace cross-check.")


if __name__ == "__main__":
    main()
