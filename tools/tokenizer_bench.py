#!/usr/bin/env python3
"""Times HuggingFace tokenizers (the Rust core, through its Python binding) on the same work as
bench/bench_tokenizer.cpp: GoEmotions train.tsv with bert-base-uncased when ../shared/data has
them, else tests/fixtures/tokenizer/corpus.json with the fixture vocabulary.

    .venv/bin/python tools/tokenizer_bench.py                      # batch uses all cores (Rayon)
    RAYON_NUM_THREADS=1 .venv/bin/python tools/tokenizer_bench.py  # batch on one thread
    .venv/bin/python tools/tokenizer_bench.py --json               # last line: {"version", "encode_ms", "encode_batch_ms"}

"encode" makes one encode() call per text, so it includes the binding's per-call cost (a Python
Encoding object per text); "encode_batch" sends 1024 texts per call, so that cost is small.
Needs `tokenizers` (tools/requirements.txt).
"""

import argparse
import json
import os
import platform
import statistics
import time

import tokenizers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def corpus():
    shared = os.path.join(ROOT, "..", "shared", "data")
    tsv, vocab = os.path.join(shared, "goemotions", "train.tsv"), os.path.join(shared, "bert-base-uncased", "vocab.txt")
    if os.path.exists(tsv) and os.path.exists(vocab):
        with open(tsv, encoding="utf-8", newline="") as f:
            return [line.split("\t")[0] for line in f.read().split("\n") if line != ""], vocab
    fx = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
    with open(os.path.join(fx, "corpus.json"), encoding="utf-8") as f:
        return json.load(f)["lines"], os.path.join(fx, "vocab_uncased.txt")


def bert_uncased(vocab):
    """transformers' BertTokenizerFast pipeline for an uncased vocabulary."""
    t = Tokenizer(models.WordPiece.from_file(vocab, unk_token="[UNK]", continuing_subword_prefix="##",
                                             max_input_chars_per_word=100))
    t.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True,
                                              lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    t.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", t.token_to_id("[CLS]")), ("[SEP]", t.token_to_id("[SEP]"))])
    return t


def median_ms(fn, reps):
    fn()  # warm-up
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)


def main():
    ap = argparse.ArgumentParser(description="HF tokenizers timings on the bench_tokenizer corpus")
    ap.add_argument("--json", action="store_true", help="print one JSON line with the timings")
    ap.add_argument("--repetitions", type=int, default=5, help="timed runs after one warm-up; the median is reported")
    ap.add_argument("--batch-only", action="store_true", help="time encode_batch only (encode_ms is null)")
    args = ap.parse_args()
    texts, vocab = corpus()
    nbytes = sum(len(s.encode("utf-8")) for s in texts)
    t = bert_uncased(vocab)

    def show(name, ms):
        if not args.json:
            print(f"{name:<34} {ms:8.1f} ms   {nbytes / ms / 1e3:7.2f} MB/s   {len(texts) / ms:7.1f} k texts/s")

    if not args.json:
        print(f"HF tokenizers {tokenizers.__version__} via Python {platform.python_version()}, {len(texts)} texts, "
              f"{nbytes / 1e6:.2f} MB, {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
              f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}")

    def encode_each():
        for s in texts:
            t.encode(s)

    encode_ms = None
    if not args.batch_only:
        encode_ms = median_ms(encode_each, args.repetitions)
        show("encode (one call per text)", encode_ms)
    t.enable_truncation(128)
    t.enable_padding(pad_id=t.token_to_id("[PAD]"), pad_token="[PAD]")

    def encode_batches():
        for i in range(0, len(texts), 1024):
            t.encode_batch(texts[i:i + 1024])

    batch_ms = median_ms(encode_batches, args.repetitions)
    show("encode_batch (1024 per call, 128)", batch_ms)
    if args.json:
        print(json.dumps({"version": tokenizers.__version__, "texts": len(texts), "bytes": nbytes,
                          "encode_ms": encode_ms, "encode_batch_ms": batch_ms}))


if __name__ == "__main__":
    main()
