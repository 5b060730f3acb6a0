"""Classification metrics for ordered age classes (scikit-learn's), plus off-by-one accuracy, which it lacks."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

from voxage.labels import AGE_GROUPS


def speaker_weights(speakers) -> np.ndarray:
    """1 / clips of each clip's speaker, so every speaker counts once: a test speaker with 193 clips would otherwise
    decide his group's recall alone."""
    _, codes, counts = np.unique(np.asarray(speakers), return_inverse=True, return_counts=True)
    return 1.0 / counts[codes]


def summarize(y_true, y_pred, probs: np.ndarray | None = None, classes: tuple[str, ...] = AGE_GROUPS,
              weights: np.ndarray | None = None) -> dict:
    """Accuracy, balanced accuracy (mean recall over the classes present, as sklearn's balanced_accuracy_score),
    macro-F1 over the classes present, per-class P/R/F1, and off-by-one accuracy: within one decade of the truth.
    With `weights` (e.g. 1 / clips of the clip's speaker) every rate and the confusion matrix count clips by weight."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    labels = np.arange(len(classes))
    if len(y_true):
        cm = confusion_matrix(y_true, y_pred, labels=labels, sample_weight=weights)
        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                         zero_division=0, sample_weight=weights)
    else:  # scikit-learn refuses empty input; an empty split or a corpus without gender labels scores zeros
        cm = np.zeros((len(classes),) * 2, dtype=np.int64)
        precision = recall = f1 = np.zeros(len(classes))
        support = np.zeros(len(classes), dtype=np.int64)
    present = support > 0
    out = {
        "n": int(len(y_true)),
        "accuracy": float(np.average(y_true == y_pred, weights=weights)) if len(y_true) else 0.0,
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "off_by_one_accuracy": float(np.average(np.abs(y_true - y_pred) <= 1, weights=weights)) if len(y_true) else 0.0,
        # how much of the answers one group takes: a model that has stopped listening piles them onto one
        "largest_answer_share": float(cm.sum(0).max() / cm.sum()) if len(y_true) else 0.0,
        "per_class": {
            g: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                "support": float(support[i]) if weights is not None else int(support[i])}
            for i, g in enumerate(classes)
        },
        "confusion_matrix": cm.tolist(),
    }
    if probs is not None and len(y_true):
        out["loss"] = float(log_loss(y_true, np.asarray(probs), labels=labels, sample_weight=weights))
    return out


def add_speaker_weighted(report: dict, labels, probs, speakers: list[str]) -> None:
    """Add balanced and off-by-one accuracy with each test speaker counted once (`speaker_` keys)."""
    once = summarize(labels, np.argmax(probs, axis=1), weights=speaker_weights(speakers))
    report.update({f"speaker_{key}": once[key] for key in ("balanced_accuracy", "off_by_one_accuracy")})
