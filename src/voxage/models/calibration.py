"""Temperature scaling (Guo et al. 2017): one number, fitted on validation speakers, that makes the
six probabilities mean what they say without changing which group wins. Training fits it and records the
expected calibration error; evaluation reports both, so it lives with the model outputs below them."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
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


def fit_temperatures(scores: np.ndarray, labels: np.ndarray, membership: np.ndarray,
                     weights: np.ndarray | None = None, ordinal: bool = False, prior: float = 20.0) -> np.ndarray:
    """A temperature that varies from recording to recording: log T = membership @ theta, where each row of
    `membership` (clips, groups) is how likely the clip belongs to each group and sums to 1 (e.g. the channel
    family it came through, as the channel compensation reckons, split by whether the familiarity check flags
    it); fitted by the (weighted) negative log-likelihood like `fit_temperature`. Each theta is pulled towards
    their mean by `prior` clips' worth of weight, so a group that few validation clips fall in keeps the shared
    temperature instead of fitting their noise. Returns each group's temperature exp(theta), shape (groups,)."""
    y, m = np.asarray(labels), np.asarray(membership, dtype=np.float64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(y) == 0:
        return np.ones(m.shape[1])
    log_p = age_log_probabilities(scores, ordinal)
    w = w / w.sum()
    strength = prior / len(y)  # `prior` clips of mean weight, per column

    def nll_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = log_p / np.exp(m @ theta)[:, None]
        log_q = log_softmax(z, axis=1)
        picked = log_q[np.arange(len(y)), y]
        # d(-picked) / d(log T) = z_y - E_q[z]: positive (sharpen) where the true group scores above the mean
        per_row = z[np.arange(len(y)), y] - (np.exp(log_q) * z).sum(1)
        off = theta - theta.mean()
        return (float(-(picked * w).sum() + strength * (off**2).sum()),
                m.T @ (w * per_row) + 2 * strength * off)

    start = np.full(m.shape[1], np.log(fit_temperature(scores, labels, weights, ordinal)))
    found = minimize(nll_and_gradient, start, jac=True, method="L-BFGS-B",
                     bounds=[(np.log(0.05), np.log(20.0))] * m.shape[1])
    return np.exp(found.x)


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
