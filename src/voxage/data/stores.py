"""Where a model's inputs live: anything with `read(key) -> one clip's features` (shapes: `FrontEnd.shape`)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from voxage.audio.channels import Channel
from voxage.data.cache import FeatureCache, KindStore, build_cache
from voxage.data.feature_files import FeatureFiles, copy_channel, ensure_features
from voxage.data.manifest import Row
from voxage.data.records import Clip
from voxage.data.workdir import clip_policy
from voxage.errors import DataError
from voxage.features.frontends import frontend
from voxage.parallel import default_workers

log = logging.getLogger(__name__)


def cached_kind(work_dir: Path, cache: FeatureCache, kind: str, rows: list[Row], progress: bool = True) -> KindStore:
    """The prepare cache's store of `kind`, first filled for rows it lacks (a kind `prepare --kinds` left out)."""
    store = cache.store(kind)
    missing = [r for r in rows if not store.has(r.key)]
    if missing:
        log.info("%d of %d clips have no cached %s features: computing them now (`voxage prepare --kinds %s` does "
                 "this ahead, in shards)", len(missing), len(rows), kind, kind)
        statuses = build_cache(cache, [Clip(r.key, Path(r.path), r.speaker, r.age_group) for r in missing],
                               clip_policy(work_dir), [kind], workers=default_workers(), progress=progress)
        failed = {k: s for k, s in statuses.items() if s != "ok"}
        if failed:
            key, reason = next(iter(failed.items()))
            raise DataError(f"{len(failed)} clips of the manifest cannot be read any more (e.g. {key}: {reason}); "
                            "run `voxage prepare` again")
    return store


def feature_store(work_dir: Path, cache: FeatureCache, kind: str, rows: list[Row], progress: bool = True,
                  channel: Channel | None = None, pool: list[Row] | None = None):
    """The prepare cache's features of `kind`; through a `channel`, feature files of their own (`pool`: where
    babble draws other voices from). Either is filled first where rows lack them."""
    if channel is None:
        return cached_kind(work_dir, cache, kind, rows, progress)
    return ensure_features(work_dir, rows, frontend(kind), cache.cfg, progress=progress, channel=channel, pool=pool)


COPY_MARK = "#copy-"  # a training copy's key: the clip's key, the mark, the copy's number


def copy_rows(rows: list[Row], copies: int) -> list[Row]:
    """Each row's training copies: the same clip, speaker and labels, heard through another random channel."""
    return [replace(r, key=f"{r.key}{COPY_MARK}{i}") for i in range(copies) for r in rows]


def recorded_indices(rows: list[Row]) -> np.ndarray:
    """Each row's index in `rows` of its clip as recorded: -1 for clips as recorded and copies whose clip is absent."""
    index = {r.key: i for i, r in enumerate(rows)}
    return np.array([index.get(clip, -1) if mark else -1
                     for clip, mark, _ in (r.key.partition(COPY_MARK) for r in rows)], dtype=np.int64)


def heard_through(key: str) -> Channel | None:
    """The simulated channel of a training copy's key (`copy_rows`); None for a clip as recorded."""
    clip, mark, i = key.partition(COPY_MARK)
    return copy_channel(clip, int(i)) if mark else None


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
