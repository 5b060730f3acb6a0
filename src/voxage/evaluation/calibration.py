"""Temperature scaling (Guo et al. 2017): one number, fitted on validation speakers, that makes the
six probabilities mean what they say without changing which group wins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from voxage.models.outputs import age_log_probs


def fit_temperature(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
                    ordinal: bool = False) -> float:
    """The T > 0 that minimises the (weighted) negative log-likelihood of the groups given scores / T
    (class logits, or an ordinal head's cumulative logits: see `voxage.models.outputs`)."""
    z = torch.as_tensor(np.asarray(scores), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    w = torch.ones(len(y), dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
    if len(y) == 0:
        return 1.0
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)  # T = exp(log_t) stays positive
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def nll():
        opt.zero_grad()
        log_p = age_log_probs(z / log_t.exp(), ordinal)
        loss = -(log_p[torch.arange(len(y)), y] * w).sum() / w.sum()
        loss.backward()
        return loss

    opt.step(nll)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def reliability(probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, bins: int = 10) -> dict:
    """Confidence of the top class vs how often it is right, in equal-width confidence bins, and the expected
    calibration error: the mean gap between the two, weighted like the training loss (pass `sample_weights`,
    so that one speaker with 193 clips does not decide it); unweighted without weights."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    mass = np.bincount(which, w, bins)
    mean_conf = np.bincount(which, w * confidence, bins) / np.maximum(mass, 1e-12)
    accuracy = np.bincount(which, w * correct, bins) / np.maximum(mass, 1e-12)
    ece = float(np.sum(mass * np.abs(mean_conf - accuracy)) / max(1e-12, w.sum()))
    return {"ece": ece, "bins": bins, "count": np.bincount(which, minlength=bins).tolist(),
            "confidence": mean_conf.tolist(), "accuracy": accuracy.tolist()}


def plot_reliability(curves: dict[str, dict], path: Path, title: str = "Reliability diagram") -> None:
    """curves: label -> `reliability()` result; the diagonal is perfect calibration."""
    from voxage.evaluation.plots import plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfectly calibrated")
    for name, r in curves.items():
        used = np.asarray(r["count"]) > 0
        ax.plot(np.asarray(r["confidence"])[used], np.asarray(r["accuracy"])[used], marker="o",
                label=f"{name} (ECE {r['ece']:.3f})")
    ax.set_xlabel("confidence of the predicted group")
    ax.set_ylabel("share of predictions that were right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
