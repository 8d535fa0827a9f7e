#!/usr/bin/env python3
"""Check that transformers loads a checkpoint directory temper wrote, to the model a fixture describes.

Usage:
    python tools/check_hf_loads.py MODEL_DIR EXPECTED_SAFETENSORS [--tol 1e-5]

Loads MODEL_DIR with AutoModelForSequenceClassification (config.json's model_type picks the class; eager
attention), runs it in float64 on the fixture's inputs (input_ids, attention_mask and, when present,
token_type_ids) and compares its logits with the fixture's f64.logits: normwise relative error <= tol.
Exit status: 0 on a match, 1 on a mismatch or a load failure, 77 when torch, transformers or safetensors
cannot be imported (the caller reports the check as skipped).  Used by tests/test_bert.cpp.
"""

import argparse
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("expected")
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    try:
        import torch
        from safetensors.torch import load_file
        from transformers import AutoModelForSequenceClassification
    except Exception as e:  # noqa: BLE001 - any import failure means: cannot check here
        print(f"cannot import torch/transformers/safetensors: {e}")
        return 77
    torch.set_num_threads(1)
    exp = load_file(args.expected)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir, attn_implementation="eager")
    model = model.double().eval()
    inputs = {k: exp[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in exp}
    with torch.no_grad():
        logits = model(**inputs).logits
    ref = exp["f64.logits"]
    err = ((logits - ref).norm() / ref.norm()).item()
    print(f"{type(model).__name__} from {args.model_dir}: logits rel err {err:.3e} (tol {args.tol:g})")
    return 0 if err <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
