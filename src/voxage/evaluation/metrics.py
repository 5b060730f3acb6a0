"""Classification metrics for ordered age classes (scikit-learn's), plus off-by-one accuracy, which it lacks."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

from voxage.labels import AGE_GROUPS


def summarize(y_true, y_pred, probs: np.ndarray | None = None, classes: tuple[str, ...] = AGE_GROUPS) -> dict:
    """Accuracy, balanced accuracy (mean recall over the classes present, as sklearn's balanced_accuracy_score),
    macro-F1 over the classes present, per-class P/R/F1, and off-by-one accuracy: within one decade of the truth."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    labels = np.arange(len(classes))
    if len(y_true):
        cm = confusion_matrix(y_true, y_pred, labels=labels)
        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                         zero_division=0)
    else:  # scikit-learn refuses empty input; an empty split or a corpus without gender labels scores zeros
        cm = np.zeros((len(classes),) * 2, dtype=np.int64)
        precision = recall = f1 = np.zeros(len(classes))
        support = np.zeros(len(classes), dtype=np.int64)
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
        out["loss"] = float(log_loss(y_true, np.asarray(probs), labels=labels))
    return out
