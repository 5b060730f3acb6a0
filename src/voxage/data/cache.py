"""The prepare cache: each clip decoded once, by parallel workers, into the kinds asked for; resumable after a kill.

Layout under WORK_DIR/cache (`docs/guide.md`, "the work dir"):
- `config.json`: the feature settings every kind was computed with;
- `KIND/vVERSION/XX/KEY.npy` (or `.flac`): one front-end kind of one clip, versioned per kind, so a kind added
  later (`prepare --kinds wave`) or a kind whose version changed is computed without touching the others;
- `fails/XX/KEY.fail`: JSON with the reason a clip cannot be used, whatever the kind, so no run retries or
  forgets it.
XX is two hex digits of the key's sha1: 256 folders of about 1,800 entries for a 450,000-clip release. Entries are
written under a temp name and renamed; identical input gives identical bytes (no pickle, no timestamps).

How a kind is stored is its front-end's `cache_format`:
- `npy`: a one-element structured record, the clip's duration (float32) and its features in `cache_dtype`
  (mel: float16, 40 KB a clip; embed: float32, 2 KB);
- `flac`: the decoded clip itself as 16-bit FLAC, the features taken from it on read (wave: about 17 KB per
  second of speech instead of 32 KB as float16).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from functools import cached_property
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from voxage.audio import AudioError, ClipPolicy, load_audio
from voxage.audio.io import PCM16_SCALE, to_pcm16
from voxage.data.atomic import write_bytes_atomic, write_json_atomic
from voxage.data.records import Clip
from voxage.errors import DataError
from voxage.features import FeatureConfig
from voxage.features.frontends import FRONTENDS, FrontEnd, frontend
from voxage.parallel import worker_pool

log = logging.getLogger(__name__)


def folder_of(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:2]


class KindStore:
    """One front-end kind of every cached clip: `read(key)` gives the clip's features (shape: `FrontEnd.shape`)."""

    def __init__(self, cache_root: Path, fe: FrontEnd, cfg: FeatureConfig):
        self.fe, self.cfg = fe, cfg
        self.root = Path(cache_root) / fe.name / f"v{fe.version}"
        self.suffix = f".{fe.cache_format}"

    @cached_property
    def record_dtype(self) -> np.dtype:
        return np.dtype([("duration", "<f4"), ("features", self.fe.cache_dtype, self.fe.shape(self.cfg))])

    def path(self, key: str) -> Path:
        return self.root / folder_of(key) / f"{key}{self.suffix}"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def encode(self, wave: np.ndarray, duration: float) -> bytes:
        buf = io.BytesIO()
        if self.fe.cache_format == "flac":
            sf.write(buf, to_pcm16(wave), self.fe.sample_rate(self.cfg), format="FLAC", subtype="PCM_16")
            return buf.getvalue()
        record = np.zeros(1, dtype=self.record_dtype)
        record["duration"], record["features"] = duration, self.fe.features(wave, self.cfg)
        np.save(buf, record, allow_pickle=False)
        return buf.getvalue()

    def _clip(self, key: str) -> np.ndarray:
        pcm, _ = sf.read(self.path(key), dtype="int16")
        return pcm.astype(np.float32) / PCM16_SCALE

    def read(self, key: str) -> np.ndarray:
        if self.fe.cache_format == "flac":
            return self.fe.features(self._clip(key), self.cfg)
        return np.load(self.path(key), allow_pickle=False)[0]["features"]

    def duration(self, key: str) -> float:
        if self.fe.cache_format == "flac":
            # float32 like a record's, so the manifest reads the same whichever kinds were cached
            return float(np.float32(sf.info(str(self.path(key))).frames / self.fe.sample_rate(self.cfg)))
        return float(np.load(self.path(key), allow_pickle=False)[0]["duration"])


class FeatureCache:
    def __init__(self, root: Path, cfg: FeatureConfig):
        self.root = Path(root)
        self.cfg = cfg
        config_path = self.root / "config.json"
        if config_path.is_file():
            stored = FeatureConfig.from_dict(json.loads(config_path.read_text()))
            if stored != cfg:
                raise DataError(f"{self.root}: cache was built with {stored}, not {cfg}; use another --out")
        else:
            write_json_atomic(config_path, cfg.to_dict())
        if (self.root / "entries").is_dir():
            log.warning("%s holds a cache of voxage 0.6 or older (entries/), which this version does not read: "
                        "kinds are computed again into their own folders; delete %s to free its space",
                        self.root, self.root / "entries")
        self._stores: dict[str, KindStore] = {}

    def store(self, kind: str) -> KindStore:
        if kind not in self._stores:
            self._stores[kind] = KindStore(self.root, frontend(kind), self.cfg)
        return self._stores[kind]

    def kinds(self) -> list[str]:
        """The kinds with at least one entry here, at this voxage's versions (an older layout's folders, such as
        0.6's entries/, are not kinds)."""
        return sorted(k.name for k in self.root.iterdir() if k.is_dir() and k.name in FRONTENDS
                      and self.store(k.name).root.is_dir()) if self.root.is_dir() else []

    def fail_path(self, key: str) -> Path:
        return self.root / "fails" / folder_of(key) / f"{key}.fail"

    def status(self, key: str, kinds: list[str]) -> str | None:
        """'ok' when every kind is cached, the failure reason, or None when something is left to do."""
        fail = self.fail_path(key)
        if fail.is_file():
            return json.loads(fail.read_text())["reason"]
        return "ok" if all(self.store(k).has(key) for k in kinds) else None

    def duration(self, key: str, kinds: list[str]) -> float:
        return self.store(next(k for k in kinds if self.store(k).has(key))).duration(key)

    def process(self, clip: Clip, policy: ClipPolicy, kinds: list[str]) -> tuple[str, str, float]:
        """Decode one clip once per sample rate its missing kinds need, and store them or its failure; returns
        (key, status, seconds)."""
        stores = [self.store(k) for k in kinds if not self.store(k).has(clip.key)]
        if not stores:
            return clip.key, "ok", self.duration(clip.key, kinds)
        waves: dict[int, np.ndarray] = {}
        try:
            for rate in dict.fromkeys(s.fe.sample_rate(self.cfg) for s in stores):
                waves[rate] = load_audio(clip.path, rate, policy.max_seconds + 1)
                duration = policy.check(waves[rate], rate, str(clip.path))
        except AudioError as err:
            write_json_atomic(self.fail_path(clip.key), {"reason": err.reason, "message": str(err)})
            return clip.key, err.reason, 0.0
        for s in stores:
            write_bytes_atomic(s.path(clip.key), s.encode(waves[s.fe.sample_rate(self.cfg)], duration))
        return clip.key, "ok", duration


_worker_state: dict = {}


def _init_worker(root: str, cfg: dict, policy: ClipPolicy, kinds: list[str]) -> None:
    _worker_state.update(cache=FeatureCache(Path(root), FeatureConfig.from_dict(cfg)), policy=policy, kinds=kinds)


def _work(clip: Clip) -> tuple[str, str, float]:
    return _worker_state["cache"].process(clip, _worker_state["policy"], _worker_state["kinds"])


def build_cache(cache: FeatureCache, clips: list[Clip], policy: ClipPolicy, kinds: list[str], workers: int = 1,
                progress: bool = True) -> dict[str, str]:
    """Cache every kind not yet cached for every clip; returns key -> status for all clips."""
    statuses = {c.key: cache.status(c.key, kinds) for c in clips}
    todo = [c for c in clips if statuses[c.key] is None]
    bar = tqdm(total=len(clips), initial=len(clips) - len(todo), unit="clip", desc=f"decode+{','.join(kinds)}",
               disable=not progress, dynamic_ncols=True)
    if workers <= 1:
        results = (cache.process(c, policy, kinds) for c in todo)
        for key, status, _ in results:
            statuses[key] = status
            bar.update()
    else:
        with worker_pool(workers, _init_worker, (str(cache.root), cache.cfg.to_dict(), policy, kinds)) as pool:
            for key, status, _ in pool.imap_unordered(_work, todo, chunksize=4):
                statuses[key] = status
                bar.update()
    bar.close()
    return statuses
