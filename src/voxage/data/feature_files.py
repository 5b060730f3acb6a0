"""Features of clips heard through simulated channels (`voxage.audio.channels`): one channel for every clip (a
robustness condition) or a random one per clip (a training copy); the clean ones are the prepare cache's
(`voxage.data.cache`). One small `.npy` per clip under
WORK_DIR/features/KIND/vVERSION/{channels/CHANNEL_TAG | copies/vAUGMENT_VERSION/copy-I}, computed on first use by
parallel workers, resumable after a kill; every random draw is seeded by the clip's key, so a clip sounds the same
in every fold, run and worker."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from voxage.audio import load_audio
from voxage.audio.channels import (
    AUGMENT_VERSION,
    BABBLE_VOICES,
    Channel,
    parse_channel,
    random_channel,
)
from voxage.data.atomic import write_npy_atomic
from voxage.data.manifest import Row
from voxage.features import FeatureConfig
from voxage.features.frontends import FrontEnd, frontend
from voxage.parallel import worker_pool


class FeatureFiles:
    def __init__(self, work_dir: Path, fe: FrontEnd, channel: Channel | None = None, copy: int | None = None):
        if (channel is None) == (copy is None):
            raise ValueError("feature files are heard through one channel or are one training copy")
        self.root = Path(work_dir) / "features" / fe.name / f"v{fe.version}"
        if channel is not None:
            self.root = self.root / "channels" / channel.tag
        else:
            self.root = self.root / "copies" / f"v{AUGMENT_VERSION}" / f"copy-{copy}"
        self.channel, self.copy = channel, copy

    def channel_for(self, key: str) -> Channel:
        """What this store's clip `key` is heard through: its one channel or its copy's random one."""
        return self.channel if self.copy is None else copy_channel(key, self.copy)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    def read(self, key: str) -> np.ndarray:
        return np.load(self.path(key), allow_pickle=False)

    def missing(self, rows: list[Row]) -> list[Row]:
        return [r for r in rows if not self.path(r.key).is_file()]


def copy_channel(key: str, copy: int) -> Channel:
    """The random channel training copy number `copy` of clip `key` is heard through."""
    return random_channel(clip_rng(f"{key}/copy-{copy}"))


def clip_rng(key: str) -> np.random.Generator:
    """The random draws of a channel for one clip: the same in every run, fold and worker."""
    return np.random.default_rng(zlib.crc32(key.encode()))


def other_voices(row: Row, pool: list[Row], n: int = BABBLE_VOICES) -> list[str]:
    """n clips of other speakers, drawn from `pool` (the whole work dir) by the clip's own seed."""
    others = [r for r in pool if r.speaker != row.speaker]
    if not others:
        return []
    picked = clip_rng(row.key + "/voices").choice(len(others), size=min(n, len(others)), replace=False)
    return [others[i].path for i in sorted(picked)]


_state: dict = {}


def _init(kind: str, cfg: dict) -> None:
    _state.update(frontend=frontend(kind), cfg=FeatureConfig.from_dict(cfg))


def _compute(item: tuple[str, str, str, str, list[str]]) -> str:
    key, audio, out, spec, others = item
    fe, cfg = _state["frontend"], _state["cfg"]
    rate = fe.sample_rate(cfg)
    wave = parse_channel(spec)(load_audio(audio, rate), rate, clip_rng(key), [load_audio(o, rate) for o in others])
    write_npy_atomic(Path(out), fe.features(wave, cfg))
    return key


def ensure_features(work_dir: Path, rows: list[Row], fe: FrontEnd, cfg: FeatureConfig, workers: int = 2,
                    progress: bool = True, channel: Channel | None = None, pool: list[Row] | None = None,
                    copy: int | None = None) -> FeatureFiles:
    """Compute every row's features not yet on disk (finished clips are kept) through `channel` or as training
    copy number `copy`; `pool`: the clips babble draws other speakers from (default: `rows`)."""
    store = FeatureFiles(work_dir, fe, channel, copy)
    ordered = sorted(pool or rows, key=lambda r: r.key)
    todo = []
    for r in store.missing(rows):
        heard = store.channel_for(r.key)
        todo.append((r.key, r.path, str(store.path(r.key)), heard.spec,
                     other_voices(r, ordered) if heard.mixes_voices else []))
    if not todo:
        return store
    store.root.mkdir(parents=True, exist_ok=True)
    what = f"{fe.name} features" + (f" through {channel.spec}" if channel is not None else "") + (
        f", training copy {copy}" if copy is not None else "")
    bar = tqdm(total=len(rows), initial=len(rows) - len(todo), unit="clip", desc=what, disable=not progress,
               dynamic_ncols=True)
    if workers <= 1:
        _init(fe.name, cfg.to_dict())
        for item in todo:
            _compute(item)
            bar.update()
    else:
        with worker_pool(workers, _init, (fe.name, cfg.to_dict())) as pool_:
            for _ in pool_.imap_unordered(_compute, todo, chunksize=4):
                bar.update()
    bar.close()
    return store
