"""Classification metrics for ordered age classes, computed from a confusion matrix."""

from __future__ import annotations

import numpy as np

from voxage.labels import AGE_GROUPS


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int = len(AGE_GROUPS)) -> np.ndarray:
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0)


def summarize(y_true, y_pred, probs: np.ndarray | None = None, classes: tuple[str, ...] = AGE_GROUPS) -> dict:
    """Accuracy, balanced accuracy (mean recall over classes present), macro-F1, per-class P/R,
    and off-by-one accuracy: the prediction is within one decade of the truth."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    cm = confusion(y_true, y_pred, len(classes))
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(1), cm.sum(0)
    recall, precision = _safe_div(tp, support), _safe_div(tp, predicted)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    present = support > 0
    out = {
        "n": int(len(y_true)),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "off_by_one_accuracy": float((np.abs(y_true - y_pred) <= 1).mean()) if len(y_true) else 0.0,
        "per_class": {
            g: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                "support": int(support[i])}
            for i, g in enumerate(classes)
        },
        "confusion_matrix": cm.tolist(),
    }
    if probs is not None and len(y_true):
        p = np.clip(np.asarray(probs)[np.arange(len(y_true)), y_true], 1e-12, 1.0)
        out["loss"] = float(-np.log(p).mean())
    return out
