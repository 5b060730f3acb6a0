"""Where a model's inputs live: anything with `read(key) -> one clip's features` (shapes: `FrontEnd.shape`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from voxage.audio.channels import Channel
from voxage.data.cache import FeatureCache
from voxage.data.feature_files import FeatureFiles, ensure_features
from voxage.data.manifest import Row
from voxage.features.frontends import frontend


class CacheField:
    """One front-end's field of the prepare cache."""

    def __init__(self, cache: FeatureCache, kind: str):
        self.cache, self.kind = cache, kind

    def read(self, key: str) -> np.ndarray:
        return self.cache.read(key)[self.kind]


def feature_store(work_dir: Path, cache: FeatureCache, kind: str, rows: list[Row], progress: bool = True,
                  channel: Channel | None = None, pool: list[Row] | None = None):
    """The prepare cache for front-ends it holds; else that front-end's feature files, filled first. Through a
    `channel`, always feature files of their own (`pool`: where babble draws other voices from)."""
    fe = frontend(kind)
    if fe.prepared and channel is None:
        return CacheField(cache, kind)
    return ensure_features(work_dir, rows, fe, cache.cfg, progress=progress, channel=channel, pool=pool)


COPY_MARK = "#copy-"  # a training copy's key: the clip's key, the mark, the copy's number


def copy_rows(rows: list[Row], copies: int) -> list[Row]:
    """Each row's training copies: the same clip, speaker and labels, heard through another random channel."""
    return [replace(r, key=f"{r.key}{COPY_MARK}{i}") for i in range(copies) for r in rows]


class CopiesStore:
    """What `store` reads for clips, and copy I of a clip from its training-copy features."""

    def __init__(self, store, copies: list[FeatureFiles]):
        self.store, self.copies = store, copies

    def read(self, key: str) -> np.ndarray:
        clip, mark, i = key.partition(COPY_MARK)
        return self.copies[int(i)].read(clip) if mark else self.store.read(key)


def with_copies(store, work_dir: Path, cache: FeatureCache, kind: str, rows: list[Row], copies: int,
                pool: list[Row], progress: bool = True) -> CopiesStore:
    """`store` plus `copies` training copies of every row, computed where not yet on disk."""
    fe = frontend(kind)
    return CopiesStore(store, [ensure_features(work_dir, rows, fe, cache.cfg, progress=progress, copy=i, pool=pool)
                               for i in range(copies)])


class ShiftedStore:
    """What `store` reads, plus a fixed vector per clip: a model's language alignment."""

    def __init__(self, store, shifts: dict[str, np.ndarray]):
        self.store, self.shifts = store, shifts

    def read(self, key: str) -> np.ndarray:
        return np.asarray(self.store.read(key), dtype=np.float32) + self.shifts[key]


def aligned_store(store, model, rows: list[Row]):
    """The store as `model` must see `rows`: shifted by language where the model learned language shifts."""
    if not getattr(model, "languages", None):
        return store
    return ShiftedStore(store, {r.key: model.shift_for(r.language) for r in rows})
