"""Features of a front-end that `prepare` does not cache (`FrontEnd.prepared` is False): one small `.npy` per
clip under WORK_DIR/features/KIND/vVERSION, computed on first use by parallel workers, resumable after a kill."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from voxage.audio import load_audio
from voxage.data.atomic import write_npy_atomic
from voxage.data.manifest import Row
from voxage.features import FeatureConfig
from voxage.features.frontends import FrontEnd, frontend
from voxage.parallel import worker_pool


class FeatureFiles:
    def __init__(self, work_dir: Path, fe: FrontEnd):
        self.root = Path(work_dir) / "features" / fe.name / f"v{fe.version}"

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    def read(self, key: str) -> np.ndarray:
        return np.load(self.path(key), allow_pickle=False)

    def missing(self, rows: list[Row]) -> list[Row]:
        return [r for r in rows if not self.path(r.key).is_file()]


_state: dict = {}


def _init(kind: str, cfg: dict) -> None:
    _state.update(frontend=frontend(kind), cfg=FeatureConfig.from_dict(cfg))


def _compute(item: tuple[str, str, str]) -> str:
    key, audio, out = item
    fe, cfg = _state["frontend"], _state["cfg"]
    write_npy_atomic(Path(out), fe.features(load_audio(audio, fe.sample_rate(cfg)), cfg))
    return key


def ensure_features(work_dir: Path, rows: list[Row], fe: FrontEnd, cfg: FeatureConfig, workers: int = 2,
                    progress: bool = True) -> FeatureFiles:
    """Compute every row's features not yet on disk (finished clips are kept)."""
    store = FeatureFiles(work_dir, fe)
    todo = [(r.key, r.path, str(store.path(r.key))) for r in store.missing(rows)]
    if not todo:
        return store
    store.root.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(rows), initial=len(rows) - len(todo), unit="clip", desc=f"{fe.name} features",
               disable=not progress, dynamic_ncols=True)
    if workers <= 1:
        _init(fe.name, cfg.to_dict())
        for item in todo:
            _compute(item)
            bar.update()
    else:
        with worker_pool(workers, _init, (fe.name, cfg.to_dict())) as pool:
            for _ in pool.imap_unordered(_compute, todo, chunksize=4):
                bar.update()
    bar.close()
    return store
