"""The torch Dataset over a feature store, shared by training and evaluation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from voxage.data.manifest import Row
from voxage.data.weights import sample_weights
from voxage.labels import class_index, gender_index

PRELOAD_LIMIT_BYTES = 6 << 30  # float32 in RAM for small corpora; big ones are read per item


def read_all(store, rows: list[Row]) -> np.ndarray:
    """(clips, *shape) float32, filled in place: memory for the array alone, not for a list of clips as well."""
    first = np.asarray(store.read(rows[0].key), dtype=np.float32)
    out = np.empty((len(rows), *first.shape), dtype=np.float32)
    for i, r in enumerate(rows):
        out[i] = store.read(r.key)
    return out


class CachedClips(Dataset):
    """Items are (features, age class, loss weight, gender index or -1); `store` is any `voxage.data.stores`
    store."""

    def __init__(self, store, rows: list[Row], weighting: str = "speaker"):
        self.store, self.rows = store, rows
        self.labels = torch.tensor([class_index(r.age_group) for r in rows])
        self.genders = torch.tensor([gender_index(r.gender) for r in rows], dtype=torch.long)
        self.weights = torch.from_numpy(sample_weights(rows, weighting))
        self._data = None
        item_bytes = np.asarray(store.read(rows[0].key), dtype=np.float32).nbytes if rows else 0
        if rows and len(rows) * item_bytes < PRELOAD_LIMIT_BYTES:
            # float32 once, here: items are then views, with no per-item conversion in every epoch
            self._data = torch.from_numpy(read_all(store, rows))

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        if self._data is not None:
            return self._data[i], self.labels[i], self.weights[i], self.genders[i]
        x = np.asarray(self.store.read(self.rows[i].key), dtype=np.float32)
        return torch.from_numpy(x), self.labels[i], self.weights[i], self.genders[i]
