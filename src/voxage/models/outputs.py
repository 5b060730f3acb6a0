"""What a model's output row means: age scores first (six class logits, or five cumulative logits for an
ordinal head), then gender logits where the model has a gender output.

One place turns them into probabilities, so training, evaluation, calibration, the Predictor and ONNX files agree.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from voxage.labels import AGE_GROUPS


def age_width(ordinal: bool, classes: int = len(AGE_GROUPS)) -> int:
    return classes - 1 if ordinal else classes


def split_outputs(out: torch.Tensor, ordinal: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, width) -> (age scores, gender logits (batch, 0 or 2))."""
    n = age_width(ordinal)
    return out[:, :n], out[:, n:]


def age_log_probs(scores: torch.Tensor, ordinal: bool) -> torch.Tensor:
    """Log-probabilities of the six groups (batch, 6).

    Ordinal scores are logits of P(age > group k), k = 0..4 (Frank & Hall 2001): P(group k) is the drop
    between neighbours, made monotone first so that no probability is negative.
    """
    if not ordinal:
        return F.log_softmax(scores, dim=1)
    above = torch.sigmoid(scores).cummin(dim=1).values
    ones, zeros = torch.ones_like(above[:, :1]), torch.zeros_like(above[:, :1])
    p = (torch.cat([ones, above], 1) - torch.cat([above, zeros], 1)).clamp(min=1e-6)
    return torch.log(p / p.sum(1, keepdim=True))


def age_loss(scores: torch.Tensor, y: torch.Tensor, ordinal: bool) -> torch.Tensor:
    """Per-example loss: cross-entropy, or for an ordinal head the sum of the five binary 'older than k' losses."""
    if not ordinal:
        return F.cross_entropy(scores, y, reduction="none")
    above = (y[:, None] > torch.arange(scores.shape[1], device=y.device)[None, :]).to(scores.dtype)
    return F.binary_cross_entropy_with_logits(scores, above, reduction="none").sum(1)
