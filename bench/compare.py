#!/usr/bin/env python3
"""Times temper and PyTorch (HF transformers' DistilBERT) side by side, on the same shapes, precision and
thread count, in one run, and prints one table of ratios.

    bench/compare_pytorch.py                        # CPU rows on all cores, tokenizer; GPU rows if a GPU is there
    bench/compare_pytorch.py --threads 1 --json out.json
    bench/compare_pytorch.py --only cpu             # or gpu, tokenizer

temper's numbers come from its Google Benchmark programs (build/bench/temper_bench and temper_bench_cuda;
build them first: scripts/bench.sh --build-only). PyTorch's are taken here with the same protocol: warm-up,
then repetitions of at least --min-time seconds each, and the median over repetitions of the time per
iteration. GPU times use CUDA events around the loop. Both models are full-size distilbert-base-uncased with
random weights and a 28-label multi-label head; inputs have no padding.

The PyTorch model is transformers' DistilBertForSequenceClassification (default attention implementation);
the table says which version. The tokenizer row compares against HF tokenizers (the Python package). Needs
the packages of tools/requirements.txt (CONTRIBUTING.md).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="temper build directory (default: build)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for both (default: all cores)")
    ap.add_argument("--repetitions", type=int, default=5, help="timed repetitions; the median is reported")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per repetition, at least one iteration")
    ap.add_argument("--only", choices=["cpu", "gpu", "tokenizer"], action="append",
                    help="run only these sections (repeatable); default: all that this machine can run")
    ap.add_argument("--cpu-shapes", default="1x128,8x128,32x128",
                    help="CPU inference shapes BxS, comma-separated (default: 1x128,8x128,32x128)")
    ap.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    return ap.parse_args()


ARGS = parse_args()
# Thread counts must be fixed before torch (and its OpenMP runtime) is imported.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

try:
    import torch
except ImportError:
    raise SystemExit("compare_pytorch.py needs PyTorch: .venv/bin/pip install -r tools/requirements.txt")

torch.set_num_threads(ARGS.threads)


# ------------------------------------------------------------------------------------------------------
# temper: run a Google Benchmark program and read the median of its repetitions
# ------------------------------------------------------------------------------------------------------

UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def temper_median_ms(program, name_regex, env_extra=None):
    """Median real time per iteration (ms) of the one benchmark matching name_regex, and its counters."""
    path = os.path.join(ARGS.build, "bench", program)
    if not os.path.exists(path):
        raise SystemExit(f"{path} not found: build it first (scripts/bench.sh --build-only)")
    env = dict(os.environ, **(env_extra or {}))
    cmd = [path, f"--benchmark_filter={name_regex}", f"--benchmark_repetitions={ARGS.repetitions}",
           f"--benchmark_min_time={ARGS.min_time}", "--benchmark_format=json"]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    if not runs:
        raise SystemExit(f"{program}: no benchmark matches {name_regex}")
    if len({b["run_name"] for b in runs}) != 1:
        raise SystemExit(f"{program}: {name_regex} matches several benchmarks: {sorted({b['run_name'] for b in runs})}")
    if any(b.get("error_occurred") for b in runs):
        raise RuntimeError(runs[0].get("error_message", "benchmark reported an error"))
    times = [b["real_time"] * UNIT_MS[b["time_unit"]] for b in runs]
    return statistics.median(times), runs[0]


# ------------------------------------------------------------------------------------------------------
# PyTorch
# ------------------------------------------------------------------------------------------------------

def build_torch_model(device):
    import transformers
    from transformers import DistilBertConfig, DistilBertForSequenceClassification
    cfg = DistilBertConfig(num_labels=28, problem_type="multi_label_classification")
    model = DistilBertForSequenceClassification(cfg)
    label = f"transformers {transformers.__version__} ({cfg._attn_implementation or 'default'} attention)"
    return model.to(device), label


def logits_of(out):
    return out.logits


def torch_median_ms(fn, device):
    """Warm-up, then ARGS.repetitions repetitions of >= ARGS.min_time s; median ms per iteration."""
    cuda = device.startswith("cuda")
    for _ in range(3):
        fn()
    if cuda:
        torch.cuda.synchronize()
    per_iter = []
    for _ in range(ARGS.repetitions):
        iters, elapsed_ms = 0, 0.0
        while elapsed_ms < ARGS.min_time * 1e3 or iters == 0:
            n = max(1, iters)  # double the batch of iterations until the repetition is long enough
            if cuda:
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(n):
                    fn()
                stop.record()
                stop.synchronize()
                elapsed_ms += start.elapsed_time(stop)
            else:
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                elapsed_ms += (time.perf_counter() - t0) * 1e3
            iters += n
        per_iter.append(elapsed_ms / iters)
    return statistics.median(per_iter)


def random_batch(B, S, device):
    g = torch.Generator().manual_seed(B * 1000 + S)
    ids = torch.randint(1000, 21000, (B, S), generator=g).to(device)
    mask = torch.ones(B, S, dtype=torch.long, device=device)
    targets = torch.zeros(B, 28, device=device)
    targets[torch.arange(B), torch.arange(B) % 28] = 1
    return ids, mask, targets


def set_precision(precision):
    """fp32: strict IEEE fp32 GEMMs; tf32: TF32 tensor-core GEMMs; bf16: autocast to bfloat16."""
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"


def autocast(device, precision):
    enabled = precision == "bf16"
    return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=enabled)


def torch_inference(model, B, S, device, precision):
    ids, mask, _ = random_batch(B, S, device)
    model.eval()
    set_precision(precision)

    def step():
        with torch.inference_mode(), autocast(device, precision):
            logits_of(model(input_ids=ids, attention_mask=mask))
    return torch_median_ms(step, device)


def torch_train_step(model, B, S, device, precision):
    ids, mask, targets = random_batch(B, S, device)
    model.train()
    set_precision(precision)
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-5)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        with autocast(device, precision):
            loss = loss_fn(logits_of(model(input_ids=ids, attention_mask=mask)).float(), targets)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return torch_median_ms(step, device)


# ------------------------------------------------------------------------------------------------------
# Tokenizer: HF tokenizers on the same corpus as bench/bench_tokenizer.cpp
# ------------------------------------------------------------------------------------------------------

def tokenizer_corpus():
    shared = os.path.join(ROOT, "..", "shared", "data")
    tsv, vocab = os.path.join(shared, "goemotions", "train.tsv"), os.path.join(shared, "bert-base-uncased", "vocab.txt")
    if os.path.exists(tsv) and os.path.exists(vocab):
        with open(tsv, encoding="utf-8") as f:
            return [line.rstrip("\n").split("\t")[0] for line in f if line.strip("\n")], vocab, "GoEmotions train.tsv"
    fx = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
    with open(os.path.join(fx, "corpus.json"), encoding="utf-8") as f:
        return json.load(f)["lines"], os.path.join(fx, "vocab_uncased.txt"), "fixture corpus"


def hf_tokenizer_ms(threads):
    """Median ms to encode the corpus in batches of 1024 (truncate to 128, pad to longest)."""
    texts, vocab, _ = tokenizer_corpus()
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    # Rayon reads RAYON_NUM_THREADS when its pool starts: run in a child so the setting takes effect.
    code = f"""
import json, statistics, time, tokenizers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
t = Tokenizer(models.WordPiece.from_file({vocab!r}, unk_token="[UNK]", max_input_chars_per_word=100))
t.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True)
t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
t.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
t.post_processor = processors.TemplateProcessing(single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
    special_tokens=[("[CLS]", t.token_to_id("[CLS]")), ("[SEP]", t.token_to_id("[SEP]"))])
t.enable_truncation(128)
t.enable_padding(pad_id=t.token_to_id("[PAD]"), pad_token="[PAD]")
texts = json.load(open(0))
def run():
    for i in range(0, len(texts), 1024):
        t.encode_batch(texts[i:i + 1024])
run()
ms = []
for _ in range({ARGS.repetitions}):
    t0 = time.perf_counter(); run(); ms.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({{"ms": statistics.median(ms), "version": tokenizers.__version__}}))
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, input=json.dumps(texts), check=True,
                         capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["ms"], f"HF tokenizers {r['version']} (Python)"


# ------------------------------------------------------------------------------------------------------

ROWS = []


def row(section, what, precision, threads, temper_ms, torch_ms, note=""):
    ROWS.append(dict(section=section, what=what, precision=precision, threads=threads, temper_ms=temper_ms,
                     pytorch_ms=torch_ms, ratio=temper_ms / torch_ms, speedup=torch_ms / temper_ms, note=note))
    print(f"  {what:<28} {precision:<5} temper {temper_ms:10.3f} ms   PyTorch {torch_ms:10.3f} ms   "
          f"speed-up {torch_ms / temper_ms:5.2f}x", file=sys.stderr, flush=True)


def cpu_section(model):
    omp = {"OMP_NUM_THREADS": str(ARGS.threads)}
    for shape in ARGS.cpu_shapes.split(","):
        B, S = (int(x) for x in shape.split("x"))
        t_ms, _ = temper_median_ms("temper_bench", f"^BM_DistilBertForward/{B}/{S}/", omp)
        row("cpu", f"inference B={B} S={S}", "fp32", ARGS.threads, t_ms, torch_inference(model, B, S, "cpu", "fp32"))
    t_ms, _ = temper_median_ms("temper_bench", "^BM_DistilBertTrainStep/8/128/", omp)
    row("cpu", "train step B=8 S=128", "fp32", ARGS.threads, t_ms, torch_train_step(model, 8, 128, "cpu", "fp32"))


def gpu_section():
    model, _ = build_torch_model("cuda")
    cases = [("inference", 1, 128), ("inference", 128, 128), ("train step", 32, 128)]
    for precision in ("fp32", "tf32", "bf16"):
        for kind, B, S in cases:
            base = "BM_CudaDistilBertForward" if kind == "inference" else "BM_CudaDistilBertTrainStep"
            torch_ms = None  # measured once, compared with temper eager and temper replayed from a CUDA graph
            mode = {"fp32": "strict", "tf32": "tf32", "bf16": "bf16"}[precision]  # temper's MathMode names
            variants = [(f"{base}/{mode}", ""), (f"{base}Graph/{mode}", " (CUDA graph)")]
            if precision == "bf16":  # bf16 activations with fp32 master weights: autocast's counterpart
                variants.append((f"{base}Mixed", " (bf16 activations)"))
            for bench, label in variants:
                try:
                    t_ms, _ = temper_median_ms("temper_bench_cuda", f"^{bench}/{B}/{S}/")
                except (RuntimeError, SystemExit, subprocess.CalledProcessError) as e:
                    print(f"  temper {bench} {B}x{S} {precision}: {e}", file=sys.stderr)
                    continue
                if torch_ms is None:
                    fn = torch_inference if kind == "inference" else torch_train_step
                    torch_ms = fn(model, B, S, "cuda", precision)
                row("gpu", f"{kind} B={B} S={S}{label}", precision, 0, t_ms, torch_ms)
    set_precision("fp32")


def tokenizer_section():
    texts, _, corpus = tokenizer_corpus()
    for threads in sorted({1, ARGS.threads}):
        t_ms, _ = temper_median_ms("temper_bench", f"^BM_TokenizerEncodeBatch/{threads}/")
        hf_ms, label = hf_tokenizer_ms(threads)
        row("tokenizer", f"encode_batch {len(texts)} texts", "-", threads, t_ms, hf_ms,
            f"Tokenizer: {corpus}, batches of 1024, truncation 128, padding to the longest; {label}")


def main():
    sections = ARGS.only or ["cpu", "gpu", "tokenizer"]
    cpu_model, model_label = build_torch_model("cpu")  # built once: the label, and the CPU rows
    print(f"PyTorch {torch.__version__}; model: {model_label}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; threads {ARGS.threads}", file=sys.stderr)
    if "cpu" in sections:
        cpu_section(cpu_model)
    if "gpu" in sections:
        if torch.cuda.is_available():
            gpu_section()
        elif ARGS.only:
            raise SystemExit("--only gpu: PyTorch sees no CUDA GPU")
        else:
            print("  GPU rows skipped: PyTorch sees no CUDA GPU", file=sys.stderr)
    if "tokenizer" in sections:
        tokenizer_section()

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"\ntemper vs PyTorch {torch.__version__} ({model_label}); GPU: {gpu}; "
          f"median of {ARGS.repetitions} repetitions of >= {ARGS.min_time} s\n")
    print("| section | what | precision | threads | temper ms | PyTorch ms | temper/PyTorch | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for r in ROWS:
        th = r["threads"] if r["threads"] else "-"
        print(f"| {r['section']} | {r['what']} | {r['precision']} | {th} | {r['temper_ms']:.3f} | "
              f"{r['pytorch_ms']:.3f} | {r['ratio']:.3f} | {r['speedup']:.2f}x |")
    notes = {r["note"] for r in ROWS if r["note"]}
    for n in sorted(notes):
        print(f"\n{n}")
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(dict(pytorch=torch.__version__, model=model_label, gpu=gpu, threads=ARGS.threads,
                           repetitions=ARGS.repetitions, rows=ROWS), f, indent=1)


if __name__ == "__main__":
    main()
