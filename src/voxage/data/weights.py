"""Loss weights per clip: who and what a model should learn from equally."""

from __future__ import annotations

from collections import Counter

import numpy as np

from voxage.data.manifest import Row
from voxage.errors import ConfigError

WEIGHTINGS = ("language", "speaker", "class", "none")


def sample_weights(rows: list[Row], weighting: str) -> np.ndarray:
    """Loss weight per clip (float32), mean 1.

    'speaker': every speaker counts once and every class equally, so one speaker with 193 clips cannot teach
    the model that voice = fifties. 'language': as 'speaker', and within each language every age group it has
    weighs the same, so the age mix of a language (Estonian speakers mostly young, Catalan ones old) is no
    shortcut. 'class': classes equal. 'none'.
    """
    if weighting not in WEIGHTINGS:
        raise ConfigError(f"unknown weighting {weighting!r}; choose from {', '.join(WEIGHTINGS)}")
    if not rows or weighting == "none":
        return np.ones(len(rows), dtype=np.float32)
    per_speaker = Counter(r.speaker for r in rows)
    w = np.array([1.0 if weighting == "class" else 1.0 / per_speaker[r.speaker] for r in rows])
    if weighting == "language":
        # Each language keeps its total (so its number of speakers), shared evenly by the groups it has.
        cell = _totals(w, [(r.language, r.age_group) for r in rows])
        language = _totals(w, [r.language for r in rows])
        groups = Counter(r.language for r in {(r.language, r.age_group): r for r in rows}.values())
        w = w * np.array([language[r.language] / groups[r.language] / cell[(r.language, r.age_group)]
                          for r in rows])
    group = _totals(w, [r.age_group for r in rows])
    w = w / np.array([group[r.age_group] for r in rows])
    return (w * len(rows) / w.sum()).astype(np.float32)


def _totals(weights: np.ndarray, keys: list) -> Counter:
    totals: Counter = Counter()
    for k, wi in zip(keys, weights):
        totals[k] += wi
    return totals
