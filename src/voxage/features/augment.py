"""Training-only augmentation of feature batches (the seed also augmented at inference; voxage never does).

The front-ends (`voxage.features.frontends`) choose which of these their kind gets."""

from __future__ import annotations

import torch


def time_shift(x: torch.Tensor, max_fraction: float = 0.1) -> torch.Tensor:
    """Roll each example along its last (time) axis by up to max_fraction of its length."""
    n = x.shape[-1]
    limit = max(1, int(n * max_fraction))
    shifts = torch.randint(-limit, limit + 1, (x.shape[0],))
    return torch.stack([torch.roll(xi, int(s), dims=-1) for xi, s in zip(x, shifts)])


def spec_augment(mel: torch.Tensor, freq_masks: int = 2, freq_width: int = 8, time_masks: int = 2,
                 time_width: int = 20) -> torch.Tensor:
    """SpecAugment (Park et al. 2019) masks on (batch, mels, frames), filled with the mean (zero)."""
    mel = mel.clone()
    b, f, t = mel.shape
    for _ in range(freq_masks):
        w = torch.randint(0, freq_width + 1, (b,))
        start = (torch.rand(b) * (f - w).clamp(min=1)).long()
        idx = torch.arange(f)[None, :]
        mask = (idx >= start[:, None]) & (idx < (start + w)[:, None])
        mel.masked_fill_(mask[:, :, None], 0.0)
    for _ in range(time_masks):
        w = torch.randint(0, time_width + 1, (b,))
        start = (torch.rand(b) * (t - w).clamp(min=1)).long()
        idx = torch.arange(t)[None, :]
        mask = (idx >= start[:, None]) & (idx < (start + w)[:, None])
        mel.masked_fill_(mask[:, None, :], 0.0)
    return mel

