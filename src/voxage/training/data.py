"""The Lightning data module: splits come from the manifest, or from explicit row lists (cross-validation folds)."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from voxage.data.dataset import CachedClips
from voxage.data.manifest import Row


class AgeDataModule(L.LightningDataModule):
    def __init__(self, store, splits: dict[str, list[Row]], batch_size: int = 32, num_workers: int = 0,
                 weighting: str = "speaker"):
        super().__init__()
        self.store, self.splits, self.weighting = store, splits, weighting
        self.batch_size, self.num_workers = batch_size, num_workers
        self._sets: dict[str, CachedClips] = {}

    def dataset(self, split: str) -> CachedClips:
        if split not in self._sets:
            self._sets[split] = CachedClips(self.store, self.splits[split], self.weighting)
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
