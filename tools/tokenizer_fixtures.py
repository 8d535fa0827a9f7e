#!/usr/bin/env python3
"""Writes the expected outputs of HuggingFace tokenizers (the Rust core, through its Python
binding) that tests/test_tokenizer*.cpp compare against.

    .venv/bin/python tools/tokenizer_fixtures.py                # -> tests/fixtures/tokenizer/{hf_*,tokenizer_*}.json
    .venv/bin/python tools/tokenizer_fixtures.py --goemotions   # -> .devdata/tokenizer/goemotions_bert-base-uncased.jsonl
                                                                #    and goemotions_minilm.jsonl (real vocab +
                                                                #    GoEmotions from ../shared/data; never committed)

Needs `tokenizers` and `transformers` (tools/requirements.txt).

The tokenizer is built like transformers' BertTokenizerFast (its BertConverter): BertNormalizer,
BertPreTokenizer, WordPiece(unk [UNK], "##", max_input_chars_per_word 100), TemplateProcessing
"[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1", WordPiece decoder, and [PAD] [UNK] [CLS] [SEP]
[MASK] as special added tokens. Every configuration that BertTokenizerFast can express is checked
against transformers.BertTokenizerFast itself (same ids, type ids and offsets), and the GoEmotions
expectations come from BertTokenizerFast directly. Offsets are in code points (what the Python
binding reports for str input).
"""

import argparse
import json
import os

import tokenizers
import transformers
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
GENERATOR = "tools/tokenizer_fixtures.py"
VERSION = f"{tokenizers.__version__} (Rust core via the Python binding)"

UNCASED = {"cleanText": True, "handleChineseChars": True, "stripAccents": True, "lowercase": True}
CASED = {"cleanText": True, "handleChineseChars": True, "stripAccents": False, "lowercase": False}


def bert_normalizer(o):
    """BertNormalizer from the camelCase options recorded in the fixtures (a missing key: the default)."""
    return normalizers.BertNormalizer(clean_text=o.get("cleanText", True),
                                      handle_chinese_chars=o.get("handleChineseChars", True),
                                      strip_accents=o.get("stripAccents"), lowercase=o.get("lowercase", True))


def bert_tokenizer(vocab_file, normalizer):
    """normalizer None: no normalizer, no post-processor and no decoder."""
    t = Tokenizer(models.WordPiece.from_file(vocab_file, unk_token="[UNK]", continuing_subword_prefix="##",
                                             max_input_chars_per_word=100))
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.add_special_tokens(SPECIALS)
    if normalizer is None:
        return t
    t.normalizer = bert_normalizer(normalizer)
    t.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", t.token_to_id("[CLS]")), ("[SEP]", t.token_to_id("[SEP]"))])
    t.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    return t


def hf_fast(vocab_file, **options):
    """transformers' own BertTokenizerFast for a vocab.txt."""
    # transformers 5 takes the file as `vocab`; an unknown keyword such as vocab_file is ignored
    # and leaves a vocabulary of the special tokens only, so check the size.
    t = BertTokenizerFast(vocab=vocab_file, **options)
    with open(vocab_file, encoding="utf-8") as f:
        n = sum(1 for _ in f)
    if len(t.get_vocab()) != n:
        raise SystemExit(f"BertTokenizerFast has {len(t.get_vocab())} tokens, {vocab_file} has {n}")
    return t


def dumps(v):
    # JSON.stringify's compact form, non-ASCII kept as is: the format the fixtures always had.
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def write_json(path, obj):
    """One JSON value per line inside arrays of records: small diffs when something changes."""
    parts = []
    for k, v in obj.items():
        if isinstance(v, list) and v and isinstance(v[0], (dict, list)):  # like JS typeof "object"
            parts.append(f"{dumps(k)}: [\n" + ",\n".join("  " + dumps(x) for x in v) + "\n]")
        else:
            parts.append(f"{dumps(k)}: {dumps(v)}")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n" + ",\n".join(parts) + "\n}\n")


def flat(offsets):
    return [x for pair in offsets for x in pair]


def run_case(t, name, inputs, pair=False, add_special_tokens=True, max_length=None, offsets=False, tokens=False):
    """Encodes every input of a case; which fields are kept depends on what the case checks."""
    if max_length:
        t.enable_truncation(max_length, strategy="longest_first")
    else:
        t.no_truncation()
    results = []
    for x in inputs:
        e = t.encode(x[0], x[1], add_special_tokens=add_special_tokens) if pair else \
            t.encode(x, add_special_tokens=add_special_tokens)
        r = {"ids": e.ids}
        if pair:
            r["type_ids"] = e.type_ids
        if offsets:
            r["offsets"] = flat(e.offsets)
        if tokens:
            r["tokens"] = e.tokens
        results.append(r)
    t.no_truncation()
    return {"name": name, "pair": pair, "add_special_tokens": add_special_tokens, "max_length": max_length,
            "results": results}


def check_against_fast(fast, case, inputs, extra_tokens):
    """The same case through transformers.BertTokenizerFast must give the same ids/type ids/offsets."""
    if extra_tokens:
        fast.add_tokens([AddedToken(c, special=s, lstrip=o.get("leftStrip", False), rstrip=o.get("rightStrip", False),
                                    normalized=o.get("normalized", True)) for c, s, o in extra_tokens])
    for x, want in zip(inputs, case["results"]):
        a, b = (x[0], x[1]) if case["pair"] else (x, None)
        kw = dict(add_special_tokens=case["add_special_tokens"], return_offsets_mapping=True,
                  return_token_type_ids=True)
        if case["max_length"]:
            kw.update(truncation="longest_first", max_length=case["max_length"])
        if b == "":
            # transformers' __call__ treats an empty second text as no pair ([CLS] a [SEP]); the
            # tokenizer it built encodes the pair as tokenizers does ([CLS] a [SEP] [SEP]).
            fast.backend_tokenizer.enable_truncation(case["max_length"]) if case["max_length"] else \
                fast.backend_tokenizer.no_truncation()
            e = fast.backend_tokenizer.encode(a, b, add_special_tokens=case["add_special_tokens"])
            got = {"input_ids": e.ids, "token_type_ids": e.type_ids, "offset_mapping": e.offsets}
        else:
            got = fast(a, b, **kw) if b is not None else fast(a, **kw)
        if got["input_ids"] != want["ids"]:
            raise SystemExit(f"BertTokenizerFast differs on {x!r} ({case['name']}): {got['input_ids']} vs {want['ids']}")
        if "type_ids" in want and got["token_type_ids"] != want["type_ids"]:
            raise SystemExit(f"BertTokenizerFast type ids differ on {x!r} ({case['name']})")
        if "offsets" in want and flat(got["offset_mapping"]) != want["offsets"]:
            raise SystemExit(f"BertTokenizerFast offsets differ on {x!r} ({case['name']})")


def write_config(name, vocab, normalizer, corpus, full=True, extra_tokens=None, lines=None, pairs=None):
    vocab_file = os.path.join(FIXTURES, vocab)
    t = bert_tokenizer(vocab_file, normalizer)
    if extra_tokens:
        t.add_tokens([AddedToken(c, special=s, lstrip=o.get("leftStrip", False), rstrip=o.get("rightStrip", False),
                                 normalized=o.get("normalized", True)) for c, s, o in extra_tokens])
    lines = corpus["lines"] if lines is None else lines
    pairs = corpus["pairs"] if pairs is None else pairs
    cases = [run_case(t, "single", lines, offsets=True, tokens=True),
             run_case(t, "pair", pairs, pair=True, offsets=True)]
    if full:
        cases += [run_case(t, "single_plain", lines, add_special_tokens=False),
                  run_case(t, "single_trunc8", lines, max_length=8, offsets=True),
                  run_case(t, "pair_plain", pairs, pair=True, add_special_tokens=False),
                  run_case(t, "pair_trunc12", pairs, pair=True, max_length=12, offsets=True),
                  run_case(t, "pair_trunc12_plain", pairs, pair=True, max_length=12, add_special_tokens=False)]
    checked = "no"
    if normalizer is not None:
        fast = hf_fast(vocab_file, do_lower_case=normalizer["lowercase"],
                       tokenize_chinese_chars=normalizer["handleChineseChars"],
                       strip_accents=normalizer["stripAccents"])
        for c in cases:
            check_against_fast(fast, c, pairs if c["pair"] else lines, extra_tokens if c is cases[0] else None)
        checked = "yes"
    decode = [{"skip": t.decode(r["ids"], skip_special_tokens=True),
               "keep": t.decode(r["ids"], skip_special_tokens=False)} for r in cases[0]["results"]]
    t.save(os.path.join(FIXTURES, f"tokenizer_{name}.json"), pretty=True)
    write_json(os.path.join(FIXTURES, f"hf_{name}.json"), {
        "generator": GENERATOR,
        "tokenizers": VERSION,
        "offsets_unit": "code points",
        "vocab": vocab,
        "tokenizer_json": f"tokenizer_{name}.json",
        "normalizer": normalizer,
        "lines": lines,
        "pairs": pairs,
        "cases": cases,
        "decode": decode,
    })
    print(f"hf_{name}.json: {len(lines)} lines, {len(pairs)} pairs, {len(cases)} cases; "
          f"same as BertTokenizerFast: {checked}")


# ---- pair truncation (longest_first) over a grid of lengths ---------------------------------------

def write_truncation():
    t = bert_tokenizer(os.path.join(FIXTURES, "vocab_uncased.txt"), {})
    ida, idb = t.token_to_id("a"), t.token_to_id("b")
    rows = []
    for special in (False, True):
        for m in ([3, 4, 5, 6, 7, 11, 12] if special else [0, 1, 2, 3, 4, 5, 8, 9]):
            t.enable_truncation(m, strategy="longest_first")
            for a in range(15):
                for b in range(15):
                    ids = t.encode("a " * a, "b " * b, add_special_tokens=special).ids
                    rows.append([1 if special else 0, m, a, b, ids.count(ida), ids.count(idb)])
    write_json(os.path.join(FIXTURES, "hf_truncation.json"), {
        "generator": GENERATOR,
        "tokenizers": VERSION,
        "what": 'encode("a " * len_a, "b " * len_b), truncation longest_first to max_length, '
                "with or without [CLS] a [SEP] b [SEP]",
        "columns": ["add_special_tokens", "max_length", "len_a", "len_b", "kept_a", "kept_b"],
        "rows": [" ".join(str(x) for x in r) for r in rows],
    })
    print(f"hf_truncation.json: {len(rows)} rows")


# ---- every code point: normalizer and pre-tokenizer behaviour, as per-block hashes -------------

# Letters assigned in Unicode 16/17 that Rust's std lowercases. Our tables come from the UCD 15.0
# of Debian's unicode-data and do not know them; docs/tokenizer.md lists this difference.
AFTER_UCD_15 = [0x1C89, 0xA7CB, 0xA7CC, 0xA7CE, 0xA7D2, 0xA7D4, 0xA7DA, 0xA7DC] + \
    list(range(0x10D50, 0x10D66)) + list(range(0x16EA0, 0x16EB9))


def fnv1a(h, data):
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def write_unicode():
    features = {
        "uncased": bert_normalizer({"cleanText": True, "handleChineseChars": True, "stripAccents": True,
                                    "lowercase": True}),
        "cased": bert_normalizer({"cleanText": True, "handleChineseChars": True, "stripAccents": False,
                                  "lowercase": False}),
        "lowercase": bert_normalizer({"cleanText": False, "handleChineseChars": False, "stripAccents": False,
                                      "lowercase": True}),
        "strip": bert_normalizer({"cleanText": False, "handleChineseChars": False, "stripAccents": True,
                                  "lowercase": False}),
    }
    pre = pre_tokenizers.BertPreTokenizer()
    skip = set(AFTER_UCD_15)
    names = list(features) + ["reorder", "pretok"]
    hashes = {n: [] for n in names}
    sep = b"\xff"
    for block in range(0x110000 >> 12):
        h = {n: 0x811C9DC5 for n in names}
        for cp in range(block << 12, (block + 1) << 12):
            if 0xD800 <= cp < 0xE000 or cp in skip:
                continue
            c = chr(cp)
            for n, norm in features.items():
                h[n] = fnv1a(h[n], norm.normalize_str(c).encode("utf-8") + sep)
            # Canonical reordering around two spacing marks that survive stripping (ccc 226 and 216).
            r = features["strip"].normalize_str("x\U0001D16D" + c + "\U0001D165")
            h["reorder"] = fnv1a(h["reorder"], r.encode("utf-8") + sep)
            # 1 piece: part of a word, 2: whitespace, 3: punctuation.
            h["pretok"] = fnv1a(h["pretok"], [len(pre.pre_tokenize_str("a" + c + "a")), 0xFF])
        for n in names:
            hashes[n].append(f"{h[n]:08x}")
    write_json(os.path.join(FIXTURES, "hf_unicode.json"), {
        "generator": GENERATOR,
        "tokenizers": VERSION,
        "hash": "FNV-1a 32 over, for each code point of a 4096-code-point block (surrogates and skip excluded), "
                "the UTF-8 of the output then 0xFF; pretok hashes the piece count then 0xFF",
        "features": {
            "uncased": "BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase) of the code point",
            "cased": "BertNormalizer(clean_text, handle_chinese_chars) of the code point",
            "lowercase": "BertNormalizer(lowercase) of the code point",
            "strip": "BertNormalizer(strip_accents) of the code point",
            "reorder": 'BertNormalizer(strip_accents) of "x" U+1D16D cp U+1D165',
            "pretok": 'number of BertPreTokenizer pieces of "a" cp "a"',
        },
        "skip": AFTER_UCD_15,
        "hashes": hashes,
    })
    print("hf_unicode.json written")


# ---- GoEmotions with the real bert-base-uncased vocabulary (local only) -------------------------

def write_goemotions(shared, out_dir, t, name, header=None):
    """Every GoEmotions text through tokenizer `t` (no truncation) and truncated pairs of dev texts, to
    out_dir/goemotions_<name>.jsonl; `header`, when given, is its first line."""
    os.makedirs(out_dir, exist_ok=True)
    out = [dumps(header)] if header else []
    pair_texts = []
    for file in ("train.tsv", "dev.tsv", "test.tsv"):
        with open(os.path.join(shared, "data", "goemotions", file), encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        texts = [(i, line.split("\t")[0]) for i, line in enumerate(lines) if line != ""]
        enc = t([x for _, x in texts], return_offsets_mapping=True, truncation=False, padding=False)
        for (i, text), ids, offs in zip(texts, enc["input_ids"], enc["offset_mapping"]):
            out.append(dumps({"file": file, "line": i, "ids": ids, "offsets": flat(offs)}))
            if file == "dev.tsv":
                pair_texts.append((i, text))
    # Pairs of consecutive dev lines, truncated to 32 tokens: longest_first on real text.
    for k in range(0, len(pair_texts) - 1, 2):
        e = t(pair_texts[k][1], pair_texts[k + 1][1], truncation="longest_first", max_length=32, padding=False,
              return_offsets_mapping=True, return_token_type_ids=True)
        out.append(dumps({"file": "dev.tsv", "pair": [pair_texts[k][0], pair_texts[k + 1][0]], "max_length": 32,
                          "ids": e["input_ids"], "type_ids": e["token_type_ids"],
                          "offsets": flat(e["offset_mapping"])}))
    path = os.path.join(out_dir, f"goemotions_{name}.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    print(f"{path}: {len(out)} records (transformers {transformers.__version__}, tokenizers {tokenizers.__version__})")


def main():
    ap = argparse.ArgumentParser(description="HF tokenizers expectations for tests/test_tokenizer*.cpp")
    ap.add_argument("--goemotions", action="store_true",
                    help="write the GoEmotions expectations (needs ../shared/data) instead of the fixtures")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(ROOT, ".devdata", "tokenizer"))
    args = ap.parse_args()
    if args.goemotions:
        shared, out = os.path.abspath(args.shared), os.path.abspath(args.out)
        # transformers' BertTokenizerFast as a user would make it for bert-base-uncased.
        vocab = os.path.join(shared, "data", "bert-base-uncased", "vocab.txt")
        write_goemotions(shared, out, hf_fast(vocab, do_lower_case=True), "bert-base-uncased")
        # A checkpoint's own tokenizer.json (all-MiniLM-L6-v2's, tools/minilm.py) as AutoTokenizer loads it: the
        # path of temper's WordPiece::from_pretrained(dir). Its file sets truncation and padding to 128, which the
        # calls above turn off, as temper's encode options do.
        try:
            import minilm
            d = minilm.model_dir()
        except SystemExit as e:
            print(f"goemotions_minilm.jsonl not written: {e}")
            return
        write_goemotions(shared, out, transformers.AutoTokenizer.from_pretrained(d), "minilm",
                         header={"tokenizer_dir": d})
        return
    with open(os.path.join(FIXTURES, "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    write_config("uncased", "vocab_uncased.txt", UNCASED, corpus)
    write_config("cased", "vocab_cased.txt", CASED, corpus)
    # lowercase without accent stripping and without CJK spacing: exercises 'İ' -> "i̇" and the flags.
    write_config("lower_nostrip", "vocab_uncased.txt",
                 {"cleanText": True, "handleChineseChars": False, "stripAccents": False, "lowercase": True}, corpus,
                 full=False)
    # Added tokens beyond the specials: stripping, normalized and non-special ones.
    added = [
        ("[NAME]", True, {"normalized": False}),
        ("<emo>", True, {"leftStrip": True, "rightStrip": True, "normalized": False}),
        ("NewWord", False, {"normalized": True}),
        ("Ünïcode", False, {"normalized": True}),
        ("@@", False, {"normalized": False}),
    ]
    added_lines = ["[NAME] is the best", "hi [NAME]!", "a <emo> b", "a  <emo>  b", "<emo><emo>", "x\t<emo>\ny",
                   "newword NEWWORD NewWords", "unicode UNICODE Ünïcode ünicode", "@@ mention@@x",
                   "[name] [NAME][NAME]", "the [MASK] <emo> [NAME] newword @@"] + corpus["lines"][:40]
    added_pairs = [["[NAME] said", "newword <emo> @@"], ["<emo>", "[NAME]"]] + corpus["pairs"][:6]
    write_config("added", "vocab_uncased.txt", UNCASED, corpus, full=False, extra_tokens=added, lines=added_lines,
                 pairs=added_pairs)
    # No normalizer, post-processor or decoder: raw text into the pre-tokenizer, tokens joined by spaces.
    write_config("bare", "vocab_cased.txt", None, corpus, full=False)
    write_truncation()
    write_unicode()


if __name__ == "__main__":
    main()
