"""Temperature scaling (Guo et al. 2017): one number, fitted on validation speakers, that makes the
six probabilities mean what they say without changing which group wins. Training fits it and records the
expected calibration error; evaluation reports both, so it lives with the model outputs below them."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from voxage.models.outputs import age_log_probabilities


def fit_temperature(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
                    ordinal: bool = False) -> float:
    """The T > 0 that minimises the (weighted) negative log-likelihood of the groups, probabilities taken to the
    power 1 / T (`voxage.models.outputs.age_probabilities`); scores are class logits or an ordinal head's
    cumulative logits."""
    y = np.asarray(labels)
    if len(y) == 0:
        return 1.0
    log_p = age_log_probabilities(scores, ordinal)  # once: only the temperature changes below
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)

    def nll(log_t: float) -> float:  # T = exp(log_t) stays positive
        picked = log_softmax(log_p / np.exp(log_t), axis=1)[np.arange(len(y)), y]
        return float(-(picked * w).sum() / w.sum())

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded").x))


def reliability(probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, bins: int = 10) -> dict:
    """Confidence of the top class vs how often it is right, in equal-width confidence bins, and the expected
    calibration error: the mean gap between the two, weighted like the training loss (pass `sample_weights`,
    so that one speaker with 193 clips does not decide it); unweighted without weights."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    return confidence_reliability(probs.max(1), probs.argmax(1) == labels, weights, bins)


def confidence_reliability(confidence: np.ndarray, correct: np.ndarray, weights: np.ndarray | None = None,
                           bins: int = 10) -> dict:
    """`reliability` from each answer's top probability and whether it was right (what a fold keeps of each
    condition, so that folds can be pooled)."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    w = np.ones(len(correct)) if weights is None else np.asarray(weights, dtype=float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    mass = np.bincount(which, w, bins)
    mean_conf = np.bincount(which, w * confidence, bins) / np.maximum(mass, 1e-12)
    accuracy = np.bincount(which, w * correct, bins) / np.maximum(mass, 1e-12)
    ece = float(np.sum(mass * np.abs(mean_conf - accuracy)) / max(1e-12, w.sum()))
    return {"ece": ece, "bins": bins, "count": np.bincount(which, minlength=bins).tolist(),
            "confidence": mean_conf.tolist(), "accuracy": accuracy.tolist()}
