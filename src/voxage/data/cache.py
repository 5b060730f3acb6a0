"""On-disk feature cache: each clip decoded once, by parallel workers, resumable after a kill.

One `.npy` per clip holding a structured record in float16: the duration, then one field per prepared front-end
(the 16 kHz waveform and the log-mel); no pickle, byte-identical for identical input. A failed clip leaves a
`.fail` JSON with its reason so a resumed run neither retries nor forgets it. Temp files never carry the final
name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from voxage.audio import AudioError, ClipPolicy, load_audio
from voxage.data.atomic import write_json_atomic, write_npy_atomic
from voxage.data.records import Clip
from voxage.errors import DataError
from voxage.features import FeatureConfig
from voxage.features.frontends import FRONTENDS, FrontEnd
from voxage.parallel import worker_pool


def prepared_frontends() -> list[FrontEnd]:
    return [fe for fe in FRONTENDS.values() if fe.prepared]


def entry_dtype(cfg: FeatureConfig) -> np.dtype:
    return np.dtype([("duration", "<f4")] + [(fe.name, "<f2", fe.shape(cfg)) for fe in prepared_frontends()])


class FeatureCache:
    def __init__(self, root: Path, cfg: FeatureConfig):
        self.root = Path(root)
        self.cfg = cfg
        self.dtype = entry_dtype(cfg)
        config_path = self.root / "config.json"
        if config_path.is_file():
            stored = FeatureConfig.from_dict(json.loads(config_path.read_text()))
            if stored != cfg:
                raise DataError(f"{self.root}: cache was built with {stored}, not {cfg}; use another --out")
        else:
            write_json_atomic(config_path, cfg.to_dict())

    def _base(self, key: str) -> Path:
        shard = hashlib.sha1(key.encode()).hexdigest()[:2]
        return self.root / "entries" / shard / key

    def entry_path(self, key: str) -> Path:
        return self._base(key).with_name(key + ".npy")

    def fail_path(self, key: str) -> Path:
        return self._base(key).with_name(key + ".fail")

    def status(self, key: str) -> str | None:
        """'ok', the failure reason, or None when the clip has not been processed yet."""
        if self.entry_path(key).is_file():
            return "ok"
        fail = self.fail_path(key)
        if fail.is_file():
            return json.loads(fail.read_text())["reason"]
        return None

    def read(self, key: str) -> np.void:
        return np.load(self.entry_path(key), mmap_mode="r", allow_pickle=False)[0]

    def record(self, duration: float, wave: np.ndarray) -> np.ndarray:
        rec = np.zeros(1, dtype=self.dtype)
        rec["duration"] = duration
        for fe in prepared_frontends():
            rec[fe.name] = fe.features(wave, self.cfg)
        return rec

    def process(self, clip: Clip, policy: ClipPolicy) -> tuple[str, str, float]:
        """Decode one clip and store its entry or failure; returns (key, status, seconds)."""
        try:
            wave = load_audio(clip.path, self.cfg.sample_rate, policy.max_seconds + 1)
            duration = policy.check(wave, self.cfg.sample_rate, str(clip.path))
        except AudioError as err:
            write_json_atomic(self.fail_path(clip.key), {"reason": err.reason, "message": str(err)})
            return clip.key, err.reason, 0.0
        write_npy_atomic(self.entry_path(clip.key), self.record(duration, wave))
        return clip.key, "ok", duration


_worker_state: dict = {}


def _init_worker(root: str, cfg: dict, policy: ClipPolicy) -> None:
    _worker_state["cache"] = FeatureCache(Path(root), FeatureConfig.from_dict(cfg))
    _worker_state["policy"] = policy


def _work(clip: Clip) -> tuple[str, str, float]:
    return _worker_state["cache"].process(clip, _worker_state["policy"])


def build_cache(
    cache: FeatureCache, clips: list[Clip], policy: ClipPolicy, workers: int = 1, progress: bool = True,
) -> dict[str, str]:
    """Process every clip not yet in the cache; returns key -> status for all clips."""
    statuses = {c.key: cache.status(c.key) for c in clips}
    todo = [c for c in clips if statuses[c.key] is None]
    bar = tqdm(total=len(clips), initial=len(clips) - len(todo), unit="clip", desc="decode+features",
               disable=not progress, dynamic_ncols=True)
    if workers <= 1:
        results = (cache.process(c, policy) for c in todo)
        for key, status, _ in results:
            statuses[key] = status
            bar.update()
    else:
        with worker_pool(workers, _init_worker, (str(cache.root), cache.cfg.to_dict(), policy)) as pool:
            for key, status, _ in pool.imap_unordered(_work, todo, chunksize=4):
                statuses[key] = status
                bar.update()
    bar.close()
    return statuses
