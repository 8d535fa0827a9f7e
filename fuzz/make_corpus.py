#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into fuzz/corpus/<target>/: small valid (and a few almost valid) inputs,
made from scratch or cut from tests/fixtures. Run from anywhere; the files are committed, so this only needs
running again when a seed should change."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures")


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes), written in order as the reference does."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def floats(n, fmt="<f", scale=0.1):
    return b"".join(struct.pack(fmt, ((i * 7919) % 23 - 11) * scale) for i in range(n))


def bf16(n):
    return b"".join(floats(n)[4 * i + 2:4 * i + 4] for i in range(n))


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


# ---- safetensors (from memory): every dtype, 0-rank, empty, metadata ----
put("safetensors", "mixed", safetensors([
    ("f32", "F32", [2, 3], floats(6)),
    ("f64", "F64", [2], floats(2, "<d")),
    ("bf16", "BF16", [3], bf16(3)),
    ("f16", "F16", [2], struct.pack("<2e", 1.5, -2.0)),
    ("i64", "I64", [2], struct.pack("<2q", -5, 1 << 40)),
    ("i32", "I32", [1], struct.pack("<i", 7)),
    ("u8", "U8", [4], bytes([0, 1, 200, 255])),
    ("bool", "BOOL", [2], bytes([0, 1])),
    ("scalar", "F32", [], floats(1)),
    ("empty", "F32", [0, 4], b""),
], {"format": "pt"}))
put("safetensors", "ints", safetensors([
    ("u64", "U64", [1], struct.pack("<Q", 1 << 63)), ("i16", "I16", [2], struct.pack("<2h", -3, 3)),
    ("u16", "U16", [1], struct.pack("<H", 65535)), ("u32", "U32", [1], struct.pack("<I", 1 << 31)),
    ("i8", "I8", [2], struct.pack("<2b", -128, 127)), ("fp8", "F8_E4M3", [2], bytes([1, 2]))]))
put("safetensors", "empty_header", struct.pack("<Q", 8) + b"{}      ")
put("safetensors", "trailing", safetensors([("a", "F32", [1], floats(1))]) + b"\0\0\0\0")

# ---- checkpoint: the tiny model of fuzz_checkpoint.cpp (vocab 10, dim 4, 1 layer, FFN 8, 8 positions, 2 labels) ----
D, H, V, P, L = 4, 8, 10, 8, 2
enc = [("embeddings.word_embeddings.weight", [V, D]), ("embeddings.position_embeddings.weight", [P, D]),
       ("embeddings.LayerNorm.weight", [D]), ("embeddings.LayerNorm.bias", [D])]
for lin in ("q_lin", "k_lin", "v_lin", "out_lin"):
    enc += [(f"transformer.layer.0.attention.{lin}.weight", [D, D]), (f"transformer.layer.0.attention.{lin}.bias", [D])]
enc += [("transformer.layer.0.sa_layer_norm.weight", [D]), ("transformer.layer.0.sa_layer_norm.bias", [D]),
        ("transformer.layer.0.ffn.lin1.weight", [H, D]), ("transformer.layer.0.ffn.lin1.bias", [H]),
        ("transformer.layer.0.ffn.lin2.weight", [D, H]), ("transformer.layer.0.ffn.lin2.bias", [D]),
        ("transformer.layer.0.output_layer_norm.weight", [D]), ("transformer.layer.0.output_layer_norm.bias", [D])]
head = [("pre_classifier.weight", [D, D]), ("pre_classifier.bias", [D]), ("classifier.weight", [L, D]),
        ("classifier.bias", [L])]
full = [("distilbert." + n, s) for n, s in enc] + head
put("checkpoint", "f32", safetensors([(n, "F32", s, floats(numel(s))) for n, s in full], {"format": "pt"}))
put("checkpoint", "bf16", safetensors([(n, "BF16", s, bf16(numel(s))) for n, s in full]))
put("checkpoint", "encoder_only_f16",
    safetensors([(n, "F16", s, b"".join(struct.pack("<e", 0.25) for _ in range(numel(s)))) for n, s in enc]))

# ---- config.json ----
put("config", "tiny", json.dumps({"model_type": "distilbert", "vocab_size": 10, "dim": 4, "n_layers": 1, "n_heads": 2,
                                  "hidden_dim": 8, "max_position_embeddings": 8, "activation": "gelu",
                                  "problem_type": "multi_label_classification",
                                  "id2label": {"0": "joy", "1": "anger"}, "label2id": {"joy": 0, "anger": 1},
                                  "dropout": 0.1, "custom": [1, {"a": None}]}))
put("config", "defaults", "{}")
put("config", "num_labels", '{"num_labels": 3, "seq_classif_dropout": 0.2, "initializer_range": 0.02, "pad_token_id": 0}')
with open(os.path.join(FIX, "tiny_a", "config.json"), "rb") as f:
    put("config", "hf_tiny_a", f.read())

# ---- vocab.txt: the head of the fixture vocabulary, and a CRLF one ----
with open(os.path.join(FIX, "tokenizer", "vocab_uncased.txt"), encoding="utf-8") as f:
    vocab = f.read().split("\n")
put("vocab", "uncased_head", "\n".join(vocab[:300]) + "\n")
put("vocab", "crlf", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhello\r\n##ing\r\nworld \r\n中\r\n")

# ---- tokenizer.json: the fixture with added tokens, its vocabulary cut to 120 entries ----
with open(os.path.join(FIX, "tokenizer", "tokenizer_added.json"), encoding="utf-8") as f:
    tj = json.load(f)
keep = sorted(tj["model"]["vocab"].items(), key=lambda kv: kv[1])[:120]
tj["model"]["vocab"] = dict(keep)
for i, a in enumerate(t for t in tj["added_tokens"] if t["id"] >= 1035):
    a["id"] = 120 + i
put("tokenizer_json", "added_small", json.dumps(tj, ensure_ascii=False))
tb = dict(tj)
tb.pop("normalizer"), tb.pop("post_processor"), tb.pop("decoder")
tb["added_tokens"] = []
put("tokenizer_json", "bare_small", json.dumps(tb, ensure_ascii=False))
tp = json.loads(json.dumps(tj))
tp["post_processor"] = {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}
tp["normalizer"]["strip_accents"] = None
put("tokenizer_json", "bert_processing", json.dumps(tp, ensure_ascii=False))

# ---- tokenizer: arbitrary bytes (FuzzedDataProvider takes the options from the end, the texts from the front) ----
put("tokenizer", "plain", b"\x01\x01\x01\x00\x20Hello, WORLD! unaffable caf\xc3\xa9\\x\x00second <emo> part")
put("tokenizer", "added", b"\x01\x00\x01\x02\x10 <emo>  NewWord [NAME] @@x \xc3\x9cn\xc3\xafcode\\ [MASK]")
put("tokenizer", "cjk_invalid", b"\x00\x01\x00\x01\x08\xe4\xb8\xad\xe6\x96\x87\xff\xfe \xcc\x81a\xe2\x80\x8b\tb")

# ---- dataset: reader byte then the file (see fuzz_dataset.cpp) ----
def fixture(name):
    with open(os.path.join(FIX, "data", name), "rb") as f:
        return f.read()


put("dataset", "csv_columns", b"\x00" + b"text,a,b\n\"x, \"\"y\"\"\",1,0\nplain,0,true\n\"two\r\nlines\",1,1\n")
put("dataset", "csv_class", b"\x01" + fixture("emotions6.csv"))
put("dataset", "tsv_lists", b"\x02" + fixture("lists.tsv"))
put("dataset", "jsonl_lists", b"\x03" + b'{"text": "a", "labels": ["x", "z"]}\n{"text": "b", "labels": "y"}\n')
put("dataset", "jsonl_class", b"\x84" + b'{"text": "hi", "label": "joy"}\n{"text": "yo", "label": 3}\n\n{"text": 1}\n')
put("dataset", "goemotions", b"\x05" + fixture("goemotions_mini/train.tsv"))
put("dataset", "bad_goemotions_skip", b"\x85" + fixture("bad_goemotions.tsv"))
put("dataset", "label_names", b"\x06" + fixture("labels.txt"))
