"""What a model's output row means: age scores first (six class logits, or five cumulative logits for an
ordinal head), then gender logits where the model has a gender output, then the familiarity check's score where
it has one (above 0: the recording is unlike the speech it was trained on).

One place, in numpy, turns them into probabilities, so training, evaluation, calibration, the Predictor and
ONNX files agree, and prediction needs no torch.
"""

from __future__ import annotations

import numpy as np

from voxage.labels import AGE_GROUPS


def age_width(ordinal: bool, classes: int = len(AGE_GROUPS)) -> int:
    return classes - 1 if ordinal else classes


def split_outputs(out, ordinal: bool, genders: int):
    """(batch, width) -> (age scores, gender logits (batch, 0 or `genders`), familiarity scores (batch, 0 or 1));
    numpy arrays or torch tensors."""
    n = age_width(ordinal)
    return out[:, :n], out[:, n : n + genders], out[:, n + genders :]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def age_log_probabilities(scores: np.ndarray, ordinal: bool) -> np.ndarray:
    """Log-probabilities of the six groups (batch, 6), float64, up to a constant per row (`age_probabilities`
    normalises them).

    Ordinal scores are logits of P(age > group k), k = 0..4 (Frank & Hall 2001): P(group k) is the drop
    between neighbours, made monotone first so that no probability is negative.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if not ordinal:
        return scores
    above = np.minimum.accumulate(1.0 / (1.0 + np.exp(-scores)), axis=1)
    ones, zeros = np.ones_like(above[:, :1]), np.zeros_like(above[:, :1])
    return np.log(np.clip(np.hstack([ones, above]) - np.hstack([above, zeros]), 1e-6, None))


def age_probabilities(scores: np.ndarray, ordinal: bool, temperature: float = 1.0) -> np.ndarray:
    """Probabilities of the six groups (batch, 6), float64.

    A temperature T acts on the six probabilities, p ** (1 / T) renormalised: for class logits that is
    softmax(logits / T), and for an ordinal head it keeps the group that wins. Dividing cumulative logits by T
    would not: it flattens every "older than" curve and moves the winner towards the youngest and oldest groups.
    """
    return softmax(age_log_probabilities(scores, ordinal) / temperature)
