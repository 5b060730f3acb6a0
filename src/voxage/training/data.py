"""Datasets that read the feature cache (never the MP3s) and the Lightning data module around them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from voxage.data.cache import FeatureCache
from voxage.data.embedding_store import ensure_embeddings
from voxage.data.manifest import Row, read_manifest
from voxage.errors import ConfigError
from voxage.features import FeatureConfig
from voxage.labels import class_index, gender_index
from voxage.training.config import WEIGHTINGS

PRELOAD_LIMIT_BYTES = 6 << 30  # float32 in RAM for small corpora; big ones are read per item


def sample_weights(rows: list[Row], weighting: str) -> torch.Tensor:
    """Loss weight per clip, mean 1.

    'speaker': every speaker counts once and every class equally, so one speaker with 193 clips cannot teach
    the model that voice = fifties. 'language': as 'speaker', and within each language every age group it has
    weighs the same, so the age mix of a language (Estonian speakers mostly young, Catalan ones old) is no
    shortcut. 'class': classes equal. 'none'.
    """
    if weighting not in WEIGHTINGS:
        raise ConfigError(f"unknown weighting {weighting!r}; choose from {', '.join(WEIGHTINGS)}")
    if not rows or weighting == "none":
        return torch.ones(len(rows))
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
    return torch.tensor(w * len(rows) / w.sum(), dtype=torch.float32)


def _totals(weights: np.ndarray, keys: list) -> Counter:
    totals: Counter = Counter()
    for k, wi in zip(keys, weights):
        totals[k] += wi
    return totals


class CachedClips(Dataset):
    """Items are (features, age class, loss weight, gender index or -1).

    `store` is the FeatureCache (mel, wave) or the EmbeddingStore (embed): anything with read(key)[kind].
    """

    def __init__(self, store, rows: list[Row], kind: str, weighting: str = "speaker"):
        self.store, self.rows, self.kind = store, rows, kind
        self.labels = torch.tensor([class_index(r.age_group) for r in rows])
        self.genders = torch.tensor([gender_index(r.gender) for r in rows], dtype=torch.long)
        self.weights = sample_weights(rows, weighting)
        self._data = None
        item_bytes = np.asarray(store.read(rows[0].key)[kind], dtype=np.float32).nbytes if rows else 0
        if rows and len(rows) * item_bytes < PRELOAD_LIMIT_BYTES:
            # float32 once, here: items are then views, with no per-item conversion in every epoch
            self._data = torch.from_numpy(np.stack([np.asarray(store.read(r.key)[kind], dtype=np.float32)
                                                    for r in rows]))

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        if self._data is not None:
            return self._data[i], self.labels[i], self.weights[i], self.genders[i]
        x = np.asarray(self.store.read(self.rows[i].key)[self.kind], dtype=np.float32)
        return torch.from_numpy(x), self.labels[i], self.weights[i], self.genders[i]


def load_work_dir(work_dir: Path) -> tuple[FeatureCache, list[Row]]:
    work_dir = Path(work_dir)
    rows = read_manifest(work_dir / "manifest.tsv")
    cfg = FeatureConfig.from_dict(json.loads((work_dir / "cache" / "config.json").read_text()))
    return FeatureCache(work_dir / "cache", cfg), rows


def feature_store(work_dir: Path, cache: FeatureCache, kind: str, rows: list[Row], progress: bool = True):
    """Where a model's inputs live: the feature cache, or for `embed` the embedding cache, filled first."""
    return ensure_embeddings(work_dir, rows, progress=progress) if kind == "embed" else cache


class ShiftedStore:
    """What `store` reads, plus a fixed vector per clip: the embed head's language alignment."""

    def __init__(self, store, kind: str, shifts: dict[str, np.ndarray]):
        self.store, self.kind, self.shifts = store, kind, shifts

    def read(self, key: str) -> dict[str, np.ndarray]:
        return {self.kind: np.asarray(self.store.read(key)[self.kind], dtype=np.float32) + self.shifts[key]}


def aligned_store(store, kind: str, model, rows: list[Row]):
    """The store as `model` must see `rows`: shifted by language where the model learned language shifts."""
    if not getattr(model, "languages", None):
        return store
    return ShiftedStore(store, kind, {r.key: model.shift_for(r.language) for r in rows})


class AgeDataModule(L.LightningDataModule):
    """Splits come from the manifest, or from explicit row lists (cross-validation folds)."""

    def __init__(self, store, splits: dict[str, list[Row]], kind: str, batch_size: int = 32,
                 num_workers: int = 0, weighting: str = "speaker"):
        super().__init__()
        self.store, self.splits, self.kind, self.weighting = store, splits, kind, weighting
        self.batch_size, self.num_workers = batch_size, num_workers
        self._sets: dict[str, CachedClips] = {}

    def dataset(self, split: str) -> CachedClips:
        if split not in self._sets:
            self._sets[split] = CachedClips(self.store, self.splits[split], self.kind, self.weighting)
        return self._sets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(self.dataset(split), batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def train_dataloader(self):
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False)

    def test_dataloader(self):
        return self._loader("test", False)
