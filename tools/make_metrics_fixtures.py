#!/usr/bin/env python3
"""Writes scikit-learn's classification metrics for fixed inputs, for tests/test_metrics.cpp.

    .venv/bin/python tools/make_metrics_fixtures.py [--out tests/fixtures/metrics]

Needs scikit-learn and numpy (tools/requirements.txt). One JSON file per case:

  kind                 "multilabel" (indicator matrices) or "single_label" (class ids)
  num_labels           labels / classes; every sklearn call gets labels=range(num_labels)
  y_true, y_pred       the inputs (y_pred as the scores below give it, where there are scores)
  probs, thresholds    multi-label only, optional: y_pred = probs >= thresholds (per label)
  scores               single-label only, optional: y_pred = numpy.argmax(scores, axis=1)
  accuracy             accuracy_score (exact match for indicator matrices)
  counts               multilabel_confusion_matrix per label as {tp, fp, fn, tn}
  per_label            precision_recall_fscore_support(average=None, zero_division=0)
  micro, macro, weighted (and samples for multi-label): the same with that average
  confusion            single-label only: confusion_matrix, rows = true class
  report               classification_report(digits=4, zero_division=0) with target_names

Inputs come from numpy's PCG64 generator with fixed seeds (its stream is stable across numpy
versions) or are written out below, so a rerun gives the same files.
"""

import argparse
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, classification_report, confusion_matrix, multilabel_confusion_matrix,
                             precision_recall_fscore_support)

HERE = os.path.dirname(os.path.abspath(__file__))


def prfs(y_true, y_pred, labels, average):
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=0)
    if average is None:
        return {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()}
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def case(kind, y_true, y_pred, num_labels, extra=None):
    labels = list(range(num_labels))
    out = {"kind": kind, "num_labels": num_labels}
    out.update(extra or {})
    out["y_true"] = np.asarray(y_true).tolist()
    out["y_pred"] = np.asarray(y_pred).tolist()
    out["accuracy"] = float(accuracy_score(y_true, y_pred))
    mcm = multilabel_confusion_matrix(y_true, y_pred, labels=labels)  # [[tn, fp], [fn, tp]] per label
    out["counts"] = [{"tp": int(m[1, 1]), "fp": int(m[0, 1]), "fn": int(m[1, 0]), "tn": int(m[0, 0])} for m in mcm]
    out["per_label"] = prfs(y_true, y_pred, labels, None)
    averages = ["micro", "macro", "weighted"] + (["samples"] if kind == "multilabel" else [])
    for a in averages:
        out[a] = prfs(y_true, y_pred, labels, a)
    if kind == "single_label":
        out["confusion"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    names = [f"label_{j}" for j in range(num_labels)]
    out["report"] = {"digits": 4, "target_names": names,
                     "text": classification_report(y_true, y_pred, labels=labels, target_names=names, digits=4,
                                                   zero_division=0)}
    return out


def multilabel(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    return case("multilabel", y_true, y_pred, y_true.shape[1])


def multilabel_from_probs(y_true, probs, thresholds):
    y_true, probs = np.asarray(y_true, dtype=np.int64), np.asarray(probs, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    y_pred = (probs >= thresholds[None, :]).astype(np.int64)
    return case("multilabel", y_true, y_pred, y_true.shape[1],
                {"probs": probs.tolist(), "thresholds": thresholds.tolist()})


def single_label(y_true, y_pred, num_classes, scores=None):
    extra = {"scores": np.asarray(scores).tolist()} if scores is not None else None
    return case("single_label", np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64), num_classes,
                extra)


def cases():
    out = {}
    # The hand-computed case of test_metrics.cpp.
    out["ml_hand"] = multilabel([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]],
                                [[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]])
    # Label 1 has no positives and no predictions, label 2 only a false positive, label 3 only a
    # false negative: every zero_division branch.
    out["ml_zero_division"] = multilabel([[1, 0, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]],
                                         [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    out["ml_nothing"] = multilabel([[0, 0], [0, 0]], [[0, 0], [0, 0]])

    rng = np.random.default_rng(20240601)
    y = (rng.random((12, 6)) < 0.3).astype(np.int64)
    y[:, 4] = 0  # a label with no positives
    out["ml_all_correct"] = multilabel(y, y)
    out["ml_no_predictions"] = multilabel(y, np.zeros_like(y))
    out["ml_all_predicted"] = multilabel(y, np.ones_like(y))

    # GoEmotions-sized: 28 labels, label frequencies from 0 to ~40 %, probabilities rounded to 3
    # decimals so that many sit exactly on a threshold (p >= t counts as predicted).
    n, L = 160, 28
    freq = np.linspace(0.0, 0.4, L)
    y = (rng.random((n, L)) < freq[None, :]).astype(np.int64)
    probs = np.clip(np.round(0.55 * y + 0.6 * rng.random((n, L)) - 0.1, 3), 0.0, 1.0)
    out["ml_goemotions_t03"] = multilabel_from_probs(y, probs, np.full(L, 0.3))
    out["ml_goemotions_tuned"] = multilabel_from_probs(y, probs, np.round(rng.uniform(0.05, 0.95, L) * 20) / 20)

    # Thresholds at the boundaries: 0 predicts everything, 1 only probability 1, and probabilities
    # equal to the threshold count as predicted.
    probs = [[0.0, 1.0, 0.5, 0.3], [0.25, 0.999, 0.5, 0.2999], [1.0, 0.0, 0.4999, 0.3001]]
    out["ml_threshold_bounds"] = multilabel_from_probs([[1, 1, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]], probs,
                                                       [0.0, 1.0, 0.5, 0.3])

    # Single-label: the hand case (class 3 never occurs), all correct, binary, and a random one
    # from argmax over scores with ties (numpy takes the first maximum).
    out["sl_hand"] = single_label([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 2], 4)
    y = rng.integers(0, 5, 40)
    out["sl_all_correct"] = single_label(y, y, 5)
    out["sl_binary"] = single_label([0, 1, 1, 0, 1, 1, 0, 0, 1], [0, 1, 0, 0, 1, 1, 1, 0, 1], 2)
    C = 10
    y = np.minimum(rng.integers(0, C, 300), rng.integers(0, C, 300))  # skewed class frequencies
    scores = np.round(rng.random((300, C)) * 4) / 4  # quarter steps: many ties
    scores[np.arange(300), y] += rng.integers(0, 2, 300) * 0.5  # right about half the time
    out["sl_random_argmax"] = single_label(y, np.argmax(scores, axis=1), C, scores)
    return out


def dumps(v):
    return json.dumps(v, separators=(",", ":"))


def write(path, obj):
    """Top-level keys one per line, matrices one row per line: readable diffs."""
    parts = []
    for k, v in obj.items():
        if isinstance(v, list) and v and isinstance(v[0], (list, dict)):
            parts.append(f"{dumps(k)}: [\n" + ",\n".join("  " + dumps(x) for x in v) + "\n]")
        else:
            parts.append(f"{dumps(k)}: {json.dumps(v)}")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n" + ",\n".join(parts) + "\n}\n")


def main():
    ap = argparse.ArgumentParser(description="scikit-learn metrics fixtures for tests/test_metrics.cpp")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "metrics"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, c in cases().items():
        c = {"generator": "tools/make_metrics_fixtures.py", "sklearn_version": sklearn.__version__,
             "numpy_version": np.__version__, "case": name, **c}
        path = os.path.join(args.out, f"{name}.json")
        write(path, c)
        print(f"{path}: {c['kind']}, {len(c['y_true'])} samples, {c['num_labels']} labels, "
              f"micro F1 {c['micro']['f1']:.6f}, macro F1 {c['macro']['f1']:.6f}")


if __name__ == "__main__":
    main()
